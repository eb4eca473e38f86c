-- PP-06: 确认选号. ARGV: now, owner, selid, seg, index chosen.
local now = now_us(ARGV[1], KEYS[8])
local s = load(ARGV[3], ARGV[2], ARGV[4])
if not s then return {R.NOT_FOUND} end
local idx = ARGV[5]
if s[2] == S.AWAITING_SMS and s[11] == idx then
  -- A repeat of the choice that took effect (its answer, or its Postgres write, was lost): the same
  -- answer again, so the caller can record it. The SMS window does not restart.
  local held = redis.call('ZSCORE', KEYS[5], idx)
  if held and redis.call('HGET', KEYS[4], idx) == ARGV[3] then return {R.OK, s[5], s[6], held, fmt(now)} end
end
if s[2] ~= S.SELECTING then return {R.WRONG_STATE, s[2]} end
if now >= tonumber(s[4]) then return {R.SESSION_OVER} end
lapse(now, ARGV[4])
local score = redis.call('ZSCORE', KEYS[5], idx)
if redis.call('HGET', KEYS[4], idx) ~= ARGV[3] or not score or tonumber(score) <= now then
  return {R.NOT_HELD}
end
local released = release_own(ARGV[3], s[9], idx)
local deadline = now + tonumber(s[10])
redis.call('ZADD', KEYS[5], fmt(deadline), idx)
redis.call('HSET', KEYS[1], 'state', S.AWAITING_SMS, 'held', idx, 'chosen', idx, 'hexp', fmt(deadline))
redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000000, '*', 'op', 'choose', 'at', fmt(now), 'seg', ARGV[4],
  'sel', ARGV[3], 'held', idx, 'released', table.concat(released, ','))
return {R.OK, s[5], s[6], fmt(deadline), fmt(now)}
