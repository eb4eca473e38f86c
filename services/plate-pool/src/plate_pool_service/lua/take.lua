-- PP-11: allocate an available number outright (an appeal restores a number). ARGV: now, seg, index, selid.
local now = now_us(ARGV[1], KEYS[8])
lapse(now, ARGV[2])
local idx = ARGV[3]
if redis.call('SISMEMBER', KEYS[6], idx) == 1 then return {R.ALREADY_ALLOCATED} end
if redis.call('GETBIT', KEYS[2], idx) ~= 1 then return {R.NOT_HELD} end
redis.call('SETBIT', KEYS[2], idx, 0)
redis.call('DECR', KEYS[3])
redis.call('SADD', KEYS[6], idx)
redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000000, '*', 'op', 'restore', 'at', fmt(now), 'seg', ARGV[2],
  'sel', ARGV[4], 'allocated', idx)
return {R.OK}
