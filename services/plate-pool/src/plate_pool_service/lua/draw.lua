-- PP-06. ARGV: now, owner, selid, seg, fallback starts and candidate indexes (both cryptographically
-- random, comma lists), keep-place µs, then the line's asking pace (first, per s, most; admission.lua).
-- Replies {R.OK, draws left, held until, now, available after, indexes...}, or a queue place
-- (admission.lua; draws left follow), or a refusal status.
local now = now_us(ARGV[1], KEYS[8])
local s = load(ARGV[3], ARGV[2], ARGV[4])
if not s then return {R.NOT_FOUND} end
if s[2] ~= S.SELECTING then return {R.WRONG_STATE, s[2]} end
if now >= tonumber(s[4]) then return {R.SESSION_OVER} end
local dl = tonumber(s[6])
if dl <= 0 then return {R.NO_DRAWS} end
lapse(now, ARGV[4])
local want = tonumber(s[7])
local ask = {tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])}
local wait, ticket = admission(now, ARGV[3], want, tonumber(ARGV[7]), ARGV[4], ask, tonumber(s[8]))
if wait then
  if wait[1] == R.QUEUED then wait[6] = tostring(dl) end
  return wait
end
local released = release_own(ARGV[3], s[9], nil)
local got = {}
for idx in string.gmatch(ARGV[6], '[^,]+') do
  if #got >= want then break end
  if redis.call('GETBIT', KEYS[2], idx) == 1 then
    redis.call('SETBIT', KEYS[2], idx, 0)
    got[#got + 1] = idx
  end
end
if #got < want then
  -- A sparse pool: the random probes missed (the caller sends more of them as the pool thins). Each
  -- number still wanted is the next available one after its own random point (ARGV[5]), wrapping round.
  local left = tonumber(redis.call('GET', KEYS[3]) or '0') - #got
  local starts = {}
  for start in string.gmatch(ARGV[5], '[^,]+') do starts[#starts + 1] = tonumber(start) end
  local start = starts[1]
  while #got < want and left > 0 do
    local pos = redis.call('BITPOS', KEYS[2], 1, start, -1, 'BIT')
    if pos < 0 then pos = redis.call('BITPOS', KEYS[2], 1, 0, -1, 'BIT') end
    if pos < 0 then break end
    redis.call('SETBIT', KEYS[2], pos, 0)
    got[#got + 1] = tostring(pos)
    left = left - 1
    -- a dense pool sends one point (the probes rarely all miss there): then the next free number on
    start = starts[#got + 1] or (pos + 1)
  end
end
if #got == 0 then
  if #released > 0 then redis.call('HSET', KEYS[1], 'held', '') end
  return {R.POOL_EMPTY}
end
local exp = now + tonumber(s[8])
for _, idx in ipairs(got) do
  redis.call('HSET', KEYS[4], idx, ARGV[3])
  redis.call('ZADD', KEYS[5], fmt(exp), idx)
end
redis.call('DECRBY', KEYS[3], #got)
dl = dl - 1
local held = table.concat(got, ',')
redis.call('HSET', KEYS[1], 'dl', dl, 'held', held, 'hexp', fmt(exp), 'kind', 'random')
redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000000, '*', 'op', 'draw', 'at', fmt(now), 'seg', ARGV[4],
  'sel', ARGV[3], 'held', held, 'released', table.concat(released, ','), 'dl', dl, 'ticket', ticket or '')
local out = {R.OK, tostring(dl), fmt(exp), fmt(now), redis.call('GET', KEYS[3])}
for _, idx in ipairs(got) do out[#out + 1] = idx end
return out
