-- Undo a confirm whose ledger write failed. ARGV: now, selid, seg, index, deadline µs, ledger_refused.
-- ledger_refused=1: the ledger says the number is someone else's (Redis was wrong): it stays out of the
-- pool and the selection goes back to selecting. Otherwise the hold comes back until its deadline.
local now = now_us(ARGV[1], KEYS[8])
local idx = ARGV[4]
redis.call('SREM', KEYS[6], idx)
if ARGV[6] == '1' then
  redis.call('HSET', KEYS[1], 'state', S.SELECTING, 'held', '', 'chosen', '')
else
  redis.call('HSET', KEYS[4], idx, ARGV[2])
  redis.call('ZADD', KEYS[5], ARGV[5], idx)
  redis.call('HSET', KEYS[1], 'state', S.AWAITING_SMS, 'held', idx)
end
redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000000, '*', 'op', 'unconfirm', 'at', fmt(now), 'seg', ARGV[3],
  'sel', ARGV[2], 'number', idx, 'ledger_refused', ARGV[6])
return {R.OK}
