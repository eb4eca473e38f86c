-- PP-10, ADR 0022. Decides whether `selid` may draw `want` numbers now: returns nil (draw; the caller's
-- ticket, if any, is spent) or the reply to give instead, {R.QUEUED, position, queue length, now, ask
-- again after (s)} or {R.POOL_EMPTY} when nothing is free and nothing comes back within one draw's hold
-- (`hold_us`): numbers chosen at the SMS step have up to 30 minutes and are nearly always confirmed, so
-- the line does not wait for them (ADR 0022, "A pool's end").
-- `ask` = {first, per_s, most}: position p asks again after ceil(p / per_s) s, within [first, most], so a
-- long line asks about per_s·(1 + ln(length / per_s)) times a second, not length / 2. A place is kept
-- for `keep_us` past the moment its next ask was due (KEYS[10] holds that moment), so an answer slowed
-- by load does not cost it.
local function admission(now, selid, want, keep_us, seg, ask, hold_us)
  local avail = tonumber(redis.call('GET', KEYS[3]) or '0')
  local qlen = redis.call('ZCARD', KEYS[9])
  if qlen == 0 and avail >= want then return nil, nil end
  if qlen > 0 then
    local gone = redis.call('ZRANGEBYSCORE', KEYS[10], '-inf', fmt(now - keep_us), 'LIMIT', 0, 64)
    if #gone > 0 then
      redis.call('ZREM', KEYS[9], unpack(gone))
      redis.call('ZREM', KEYS[10], unpack(gone))
      redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000000, '*', 'op', 'unqueue', 'at', fmt(now), 'seg', seg,
        'dropped', table.concat(gone, ','))
      qlen = qlen - #gone
    end
  end
  local rank = redis.call('ZRANK', KEYS[9], selid)
  local ticket = nil
  if rank then ticket = redis.call('ZSCORE', KEYS[9], selid) else rank = qlen end
  local admitted = avail >= (rank + 1) * want
  if not admitted and redis.call('ZCOUNT', KEYS[5], '-inf', fmt(now + hold_us)) == 0 then
    -- Nothing comes back within a hold (nothing held, or only chosen numbers with time left to confirm):
    -- the first in line takes what is left; with nothing left, no one waits for nothing.
    if avail == 0 then
      if ticket then
        redis.call('ZREM', KEYS[9], selid)
        redis.call('ZREM', KEYS[10], selid)
      end
      return {R.POOL_EMPTY}, nil
    end
    admitted = rank == 0
  end
  if admitted then
    if ticket then
      redis.call('ZREM', KEYS[9], selid)
      redis.call('ZREM', KEYS[10], selid)
    end
    return nil, ticket
  end
  if not ticket then
    ticket = redis.call('INCR', KEYS[11])
    redis.call('ZADD', KEYS[9], ticket, selid)
    qlen = qlen + 1
    redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000000, '*', 'op', 'queue', 'at', fmt(now), 'seg', seg,
      'sel', selid, 'ticket', ticket, 'position', rank + 1)
  end
  local retry = math.min(ask[3], math.max(ask[1], math.ceil((rank + 1) / ask[2])))
  redis.call('ZADD', KEYS[10], fmt(now + retry * 1000000), selid)
  return {R.QUEUED, tostring(rank + 1), tostring(qlen), fmt(now), tostring(retry)}, nil
end
