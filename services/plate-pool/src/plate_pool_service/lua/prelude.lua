-- Shared by every script. KEYS[1] the selection's hash; KEYS[2..6] bits, n, holds, hexp, alloc of its
-- segment; KEYS[7] the log; KEYS[8] the clock offset; KEYS[9..11] the segment's admission queue, its last
-- polls and its ticket counter. `R.<NAME>` (reply statuses) and `S.<NAME>` (states) are written out by
-- hot.py from HotStatus and domain.State when it loads the script: one spelling of each, in Python.
local function fmt(x) return string.format('%.0f', x) end
local function now_us(arg, offkey)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  local off = tonumber(redis.call('GET', offkey) or '0')
  return tonumber(t[1]) * 1000000 + tonumber(t[2]) + off
end
-- KEYS[2..6] are always bits, n, holds, hexp, alloc of the selection's segment; KEYS[7] the log; KEYS[8]
-- the clock offset; KEYS[9..11] the segment's admission queue, its last polls and its ticket counter.
local function lapse(now, seg)
  local due = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', fmt(now), 'LIMIT', 0, 64)
  if #due == 0 then return end
  for _, idx in ipairs(due) do
    redis.call('HDEL', KEYS[4], idx)
    redis.call('ZREM', KEYS[5], idx)
    redis.call('SETBIT', KEYS[2], idx, 1)
  end
  redis.call('INCRBY', KEYS[3], #due)
  redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000000, '*', 'op', 'lapse', 'at', fmt(now), 'seg', seg,
    'released', table.concat(due, ','))
end
-- Give back the numbers `selid` still holds among `held` (comma list), except `keep`.
local function release_own(selid, held, keep)
  local out = {}
  if not held or held == '' then return out end
  for idx in string.gmatch(held, '[^,]+') do
    if idx ~= keep and redis.call('HGET', KEYS[4], idx) == selid then
      redis.call('HDEL', KEYS[4], idx)
      redis.call('ZREM', KEYS[5], idx)
      redis.call('SETBIT', KEYS[2], idx, 1)
      out[#out + 1] = idx
    end
  end
  if #out > 0 then redis.call('INCRBY', KEYS[3], #out) end
  return out
end
local function load(selid, owner, seg)
  local s = redis.call('HMGET', KEYS[1], 'owner', 'state', 'seg', 'sexp', 'cl', 'dl', 'dsz', 'hold_us',
    'held', 'sms_us', 'chosen')
  if not s[1] or (owner ~= '' and s[1] ~= owner) or s[3] ~= seg then return nil end
  return s
end
