-- Lapse expired holds of an idle segment (the worker's sweep). ARGV: now, seg.
local now = now_us(ARGV[1], KEYS[8])
local before = redis.call('ZCARD', KEYS[5])
lapse(now, ARGV[2])
return before - redis.call('ZCARD', KEYS[5])
