-- (Re)build a segment's pool (HotPool.build), one atomic step in the segment's slot. KEYS: bits, n, holds,
-- hexp, alloc. ARGV: only_if_missing ('1': nothing when the pool exists), the bitmap, n, the allocated
-- indexes, the chosen ones held again (index, selection, hold end µs; all comma lists). Returns 1 if built.
if ARGV[1] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4], KEYS[5])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
local batch = {}
for idx in string.gmatch(ARGV[4], '[^,]+') do
  batch[#batch + 1] = idx
  if #batch == 1000 then redis.call('SADD', KEYS[5], unpack(batch)); batch = {} end
end
if #batch > 0 then redis.call('SADD', KEYS[5], unpack(batch)) end
local held = {}
for item in string.gmatch(ARGV[5], '[^,]+') do held[#held + 1] = item end
for i = 1, #held, 3 do
  redis.call('HSET', KEYS[3], held[i], held[i + 1])
  redis.call('ZADD', KEYS[4], held[i + 2], held[i])
end
return 1
