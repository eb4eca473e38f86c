-- PP-07/PP-08. ARGV: now, owner, selid, seg. The chosen number moves from held to allocated.
local now = now_us(ARGV[1], KEYS[8])
local s = load(ARGV[3], ARGV[2], ARGV[4])
if not s then return {R.NOT_FOUND} end
local idx = s[11]
if s[2] == S.SELECTED and idx and idx ~= '' and redis.call('SISMEMBER', KEYS[6], idx) == 1 then
  -- A repeat of the confirmation that took effect here (its ledger write was lost): the same answer.
  return {R.OK, idx, redis.call('HGET', KEYS[1], 'confirmed_us') or fmt(now)}
end
if s[2] ~= S.AWAITING_SMS then return {R.WRONG_STATE, s[2]} end
local score = redis.call('ZSCORE', KEYS[5], idx)
if redis.call('HGET', KEYS[4], idx) ~= ARGV[3] or not score or tonumber(score) <= now then
  return {R.SMS_OVER}
end
redis.call('HDEL', KEYS[4], idx)
redis.call('ZREM', KEYS[5], idx)
redis.call('SADD', KEYS[6], idx)
redis.call('HSET', KEYS[1], 'state', S.SELECTED, 'held', '', 'confirmed_us', fmt(now))
redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000000, '*', 'op', 'confirm', 'at', fmt(now), 'seg', ARGV[4],
  'sel', ARGV[3], 'allocated', idx)
return {R.OK, idx, fmt(now)}
