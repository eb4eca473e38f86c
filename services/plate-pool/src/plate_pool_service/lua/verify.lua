-- PP-05. ARGV: now, owner, selid, seg, index ('' when the number is not one the segment allows), number.
local now = now_us(ARGV[1], KEYS[8])
local s = load(ARGV[3], ARGV[2], ARGV[4])
if not s then return {R.NOT_FOUND} end
if s[2] ~= S.SELECTING then return {R.WRONG_STATE, s[2]} end
if now >= tonumber(s[4]) then return {R.SESSION_OVER} end
lapse(now, ARGV[4])
local idx = ARGV[5]
if idx ~= '' and s[9] == idx and redis.call('HGET', KEYS[1], 'kind') == 'custom'
    and redis.call('HGET', KEYS[4], idx) == ARGV[3] then
  -- A repeat of the verify that holds this number (its answer was lost): the same answer, no attempt spent.
  return {R.OK, '0', redis.call('ZSCORE', KEYS[5], idx), fmt(now)}
end
local cl = tonumber(s[5])
if cl <= 0 then return {R.NO_CUSTOM} end
if idx ~= '' and redis.call('GETBIT', KEYS[2], idx) == 1 then
  local released = release_own(ARGV[3], s[9], nil)
  local exp = now + tonumber(s[8])
  redis.call('SETBIT', KEYS[2], idx, 0)
  redis.call('DECR', KEYS[3])
  redis.call('HSET', KEYS[4], idx, ARGV[3])
  redis.call('ZADD', KEYS[5], fmt(exp), idx)
  redis.call('HSET', KEYS[1], 'cl', 0, 'held', idx, 'hexp', fmt(exp), 'kind', 'custom')
  redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000000, '*', 'op', 'verify', 'at', fmt(now), 'seg', ARGV[4],
    'sel', ARGV[3], 'held', idx, 'released', table.concat(released, ','), 'cl', 0, 'number', ARGV[6])
  return {R.OK, '0', fmt(exp), fmt(now)}
end
cl = cl - 1
redis.call('HSET', KEYS[1], 'cl', cl)
local why = 'taken'
if idx == '' then why = 'not_allowed' end
redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000000, '*', 'op', 'verify', 'at', fmt(now), 'seg', ARGV[4],
  'sel', ARGV[3], 'cl', cl, 'number', ARGV[6], 'refused', why)
return {R.REFUSED, tostring(cl), why, fmt(now)}
