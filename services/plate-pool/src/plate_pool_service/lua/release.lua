-- Give back everything a selection holds and set its state. ARGV: now, selid, seg, new state,
-- allocated index to return to the pool ('' for none), op name for the log.
local now = now_us(ARGV[1], KEYS[8])
local s = load(ARGV[2], '', ARGV[3])
local released = {}
if s then
  released = release_own(ARGV[2], s[9], nil)
  local chosen = s[11]
  if chosen and chosen ~= '' and redis.call('HGET', KEYS[4], chosen) == ARGV[2] then
    for _, idx in ipairs(release_own(ARGV[2], chosen, nil)) do released[#released + 1] = idx end
  end
  redis.call('HSET', KEYS[1], 'state', ARGV[4], 'held', '', 'chosen', '')
end
redis.call('ZREM', KEYS[9], ARGV[2])
redis.call('ZREM', KEYS[10], ARGV[2])
local idx = ARGV[5]
if idx ~= '' and redis.call('SREM', KEYS[6], idx) == 1 then
  redis.call('SETBIT', KEYS[2], idx, 1)
  redis.call('INCR', KEYS[3])
  released[#released + 1] = idx
end
redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000000, '*', 'op', ARGV[6], 'at', fmt(now), 'seg', ARGV[3],
  'sel', ARGV[2], 'released', table.concat(released, ','), 'state', ARGV[4])
return released
