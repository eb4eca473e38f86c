"""The hot state of PP-12 in Redis, changed only by atomic Lua scripts (registered once, sent by EVALSHA).

Per segment `s` (see numbers.py for number <-> index):
- `pp:seg:{s}:bits`  bitmap, bit i = 1 when number i is available;  `pp:seg:{s}:n` how many are;
- `pp:seg:{s}:holds` hash index -> selection id;  `pp:seg:{s}:hexp` zset index by hold expiry (µs);
- `pp:seg:{s}:alloc` set of allocated indexes (mirrors the Postgres ledger, which is the authority).
Per selection: `pp:sel:{id}` hash (owner, state, segment, session end, chances, held numbers...).
`pp:log`: a stream of every draw, verify, hold, release, choice and confirmation (PP-13), written by the
same script as the change it records and drained into Postgres `fairness_log` by the worker.

The admission queue of a segment (PP-10: more people drawing than the pool can hold): `pp:seg:{s}:q` zset
selection -> ticket (arrival order), `pp:seg:{s}:qseen` zset selection -> last poll (µs), `pp:seg:{s}:qseq`
the ticket counter. A draw that finds fewer than five numbers free while others hold numbers takes a
ticket; the k-th in line is admitted once k draws' worth of numbers are free; a place not polled for
`keep_place_s` is given up. See `_ADMISSION` and ADR 0022.

A number is in exactly one of: available (bit 1), held (in holds), allocated (in alloc). Each script
first lapses the segment's expired holds (a worker sweep does the same for idle segments), so a hold
never outlives its expiry by more than one request or one sweep period, whatever happens to the replica
that made it. Time is the platform clock: the caller passes `now` in µs, or '' to let the script read
Redis TIME plus the dev/test clock offset (one round trip instead of two on the hot path).
"""

from __future__ import annotations

import asyncio
import secrets
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from plate_pool_service.resp import RespError, RespPipe
from servicekit.clock import OFFSET_KEY, SHANGHAI, Clock, RedisOffsetClock

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

_PRELUDE = """
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
"""

# KEYS[9..11]: the segment's queue, last polls and ticket counter. Decides whether `selid` may draw `want`
# numbers now: returns nil (draw; the caller's ticket, if any, is spent) or the reply to give instead,
# {'-9', position, queue length} or {'-5'} when nothing is free and nothing held (nothing will come back).
_ADMISSION = """
local function admission(now, selid, want, keep_us, seg)
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
  if not admitted and redis.call('HLEN', KEYS[4]) == 0 then
    -- Nothing held, so nothing will come back: the first in line takes what is left; with nothing left,
    -- no one waits for nothing.
    if avail == 0 then
      if ticket then
        redis.call('ZREM', KEYS[9], selid)
        redis.call('ZREM', KEYS[10], selid)
      end
      return {'-5'}, nil
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
  redis.call('ZADD', KEYS[10], fmt(now), selid)
  return {'-9', tostring(rank + 1), tostring(qlen), fmt(now)}, nil
end
"""

# KEYS: sel, bits, n, holds, hexp, alloc, log, offset, q, qseen, qseq.
# ARGV: now, owner, selid, seg, fallback starts and candidate indexes (both cryptographically random,
# comma lists), keep-place µs. Replies {'0', draws left, held until, now, available after, indexes...}.
_DRAW = (
    _PRELUDE
    + _ADMISSION
    + """
local now = now_us(ARGV[1], KEYS[8])
local s = load(ARGV[3], ARGV[2], ARGV[4])
if not s then return {'-1'} end
if s[2] ~= 'selecting' then return {'-2', s[2]} end
if now >= tonumber(s[4]) then return {'-3'} end
local dl = tonumber(s[6])
if dl <= 0 then return {'-4'} end
lapse(now, ARGV[4])
local want = tonumber(s[7])
local wait, ticket = admission(now, ARGV[3], want, tonumber(ARGV[7]), ARGV[4])
if wait then
  if wait[1] == '-9' then wait[5] = tostring(dl) end
  return wait
end
local released = release_own(ARGV[3], s[9], nil)
local got = {}
for idx in string.gmatch(ARGV[6], '[^,]+') do
  if #got >= want then break end
  if redis.call('GETBIT', KEYS[2], idx) == 1 then
    redis.call('SETBIT', KEYS[2], idx, 0)
    got[#got + 1] = idx
  end
end
if #got < want then
  -- A sparse pool: the random probes missed (the caller sends more of them as the pool thins). Each
  -- number still wanted is the next available one after its own random point (ARGV[5]), wrapping round.
  local left = tonumber(redis.call('GET', KEYS[3]) or '0') - #got
  local starts = {}
  for start in string.gmatch(ARGV[5], '[^,]+') do starts[#starts + 1] = tonumber(start) end
  local start = starts[1]
  while #got < want and left > 0 do
    local pos = redis.call('BITPOS', KEYS[2], 1, start, -1, 'BIT')
    if pos < 0 then pos = redis.call('BITPOS', KEYS[2], 1, 0, -1, 'BIT') end
    if pos < 0 then break end
    redis.call('SETBIT', KEYS[2], pos, 0)
    got[#got + 1] = tostring(pos)
    left = left - 1
    -- a dense pool sends one point (the probes rarely all miss there): then the next free number on
    start = starts[#got + 1] or (pos + 1)
  end
end
if #got == 0 then
  if #released > 0 then redis.call('HSET', KEYS[1], 'held', '') end
  return {'-5'}
end
local exp = now + tonumber(s[8])
for _, idx in ipairs(got) do
  redis.call('HSET', KEYS[4], idx, ARGV[3])
  redis.call('ZADD', KEYS[5], fmt(exp), idx)
end
redis.call('DECRBY', KEYS[3], #got)
dl = dl - 1
local held = table.concat(got, ',')
redis.call('HSET', KEYS[1], 'dl', dl, 'held', held, 'hexp', fmt(exp), 'kind', 'random')
redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000000, '*', 'op', 'draw', 'at', fmt(now), 'seg', ARGV[4],
  'sel', ARGV[3], 'held', held, 'released', table.concat(released, ','), 'dl', dl, 'ticket', ticket or '')
local out = {'0', tostring(dl), fmt(exp), fmt(now), redis.call('GET', KEYS[3])}
for _, idx in ipairs(got) do out[#out + 1] = idx end
return out
"""
)

# ARGV: now, owner, selid, seg, index ('' when the number is not one the segment allows), number.
_VERIFY = (
    _PRELUDE
    + """
local now = now_us(ARGV[1], KEYS[8])
local s = load(ARGV[3], ARGV[2], ARGV[4])
if not s then return {'-1'} end
if s[2] ~= 'selecting' then return {'-2', s[2]} end
if now >= tonumber(s[4]) then return {'-3'} end
lapse(now, ARGV[4])
local idx = ARGV[5]
if idx ~= '' and s[9] == idx and redis.call('HGET', KEYS[1], 'kind') == 'custom'
    and redis.call('HGET', KEYS[4], idx) == ARGV[3] then
  -- A repeat of the verify that holds this number (its answer was lost): the same answer, no attempt spent.
  return {'0', '0', redis.call('ZSCORE', KEYS[5], idx), fmt(now)}
end
local cl = tonumber(s[5])
if cl <= 0 then return {'-6'} end
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
  return {'0', '0', fmt(exp), fmt(now)}
end
cl = cl - 1
redis.call('HSET', KEYS[1], 'cl', cl)
local why = 'taken'
if idx == '' then why = 'not_allowed' end
redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000000, '*', 'op', 'verify', 'at', fmt(now), 'seg', ARGV[4],
  'sel', ARGV[3], 'cl', cl, 'number', ARGV[6], 'refused', why)
return {'1', tostring(cl), why, fmt(now)}
"""
)

# ARGV: now, owner, selid, seg, index chosen.
_CHOOSE = (
    _PRELUDE
    + """
local now = now_us(ARGV[1], KEYS[8])
local s = load(ARGV[3], ARGV[2], ARGV[4])
if not s then return {'-1'} end
local idx = ARGV[5]
if s[2] == 'awaiting_sms' and s[11] == idx then
  -- A repeat of the choice that took effect (its answer, or its Postgres write, was lost): the same
  -- answer again, so the caller can record it. The SMS window does not restart.
  local held = redis.call('ZSCORE', KEYS[5], idx)
  if held and redis.call('HGET', KEYS[4], idx) == ARGV[3] then return {'0', s[5], s[6], held, fmt(now)} end
end
if s[2] ~= 'selecting' then return {'-2', s[2]} end
if now >= tonumber(s[4]) then return {'-3'} end
lapse(now, ARGV[4])
local score = redis.call('ZSCORE', KEYS[5], idx)
if redis.call('HGET', KEYS[4], idx) ~= ARGV[3] or not score or tonumber(score) <= now then
  return {'-7'}
end
local released = release_own(ARGV[3], s[9], idx)
local deadline = now + tonumber(s[10])
redis.call('ZADD', KEYS[5], fmt(deadline), idx)
redis.call('HSET', KEYS[1], 'state', 'awaiting_sms', 'held', idx, 'chosen', idx, 'hexp', fmt(deadline))
redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000000, '*', 'op', 'choose', 'at', fmt(now), 'seg', ARGV[4],
  'sel', ARGV[3], 'held', idx, 'released', table.concat(released, ','))
return {'0', s[5], s[6], fmt(deadline), fmt(now)}
"""
)

# ARGV: now, owner, selid, seg. The chosen number moves from held to allocated.
_CONFIRM = (
    _PRELUDE
    + """
local now = now_us(ARGV[1], KEYS[8])
local s = load(ARGV[3], ARGV[2], ARGV[4])
if not s then return {'-1'} end
local idx = s[11]
if s[2] == 'selected' and idx and idx ~= '' and redis.call('SISMEMBER', KEYS[6], idx) == 1 then
  -- A repeat of the confirmation that took effect here (its ledger write was lost): the same answer.
  return {'0', idx, redis.call('HGET', KEYS[1], 'confirmed_us') or fmt(now)}
end
if s[2] ~= 'awaiting_sms' then return {'-2', s[2]} end
local score = redis.call('ZSCORE', KEYS[5], idx)
if redis.call('HGET', KEYS[4], idx) ~= ARGV[3] or not score or tonumber(score) <= now then
  return {'-8'}
end
redis.call('HDEL', KEYS[4], idx)
redis.call('ZREM', KEYS[5], idx)
redis.call('SADD', KEYS[6], idx)
redis.call('HSET', KEYS[1], 'state', 'selected', 'held', '', 'confirmed_us', fmt(now))
redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000000, '*', 'op', 'confirm', 'at', fmt(now), 'seg', ARGV[4],
  'sel', ARGV[3], 'allocated', idx)
return {'0', idx, fmt(now)}
"""
)

# Undo a confirm whose ledger write failed. ARGV: now, selid, seg, index, deadline µs, ledger_refused.
# ledger_refused=1: the ledger says the number is someone else's (Redis was wrong): it stays out of the
# pool and the selection goes back to selecting. Otherwise the hold comes back until its deadline.
_UNCONFIRM = (
    _PRELUDE
    + """
local now = now_us(ARGV[1], KEYS[8])
local idx = ARGV[4]
redis.call('SREM', KEYS[6], idx)
if ARGV[6] == '1' then
  redis.call('HSET', KEYS[1], 'state', 'selecting', 'held', '', 'chosen', '')
else
  redis.call('HSET', KEYS[4], idx, ARGV[2])
  redis.call('ZADD', KEYS[5], ARGV[5], idx)
  redis.call('HSET', KEYS[1], 'state', 'awaiting_sms', 'held', idx)
end
redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000000, '*', 'op', 'unconfirm', 'at', fmt(now), 'seg', ARGV[3],
  'sel', ARGV[2], 'number', idx, 'ledger_refused', ARGV[6])
return {'0'}
"""
)

# Give back everything a selection holds and set its state. ARGV: now, selid, seg, new state,
# allocated index to return to the pool ('' for none), op name for the log.
_RELEASE = (
    _PRELUDE
    + """
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
"""
)

# Lapse expired holds of an idle segment (the worker's sweep). ARGV: now, seg.
_LAPSE = (
    _PRELUDE
    + """
local now = now_us(ARGV[1], KEYS[8])
local before = redis.call('ZCARD', KEYS[5])
lapse(now, ARGV[2])
return before - redis.call('ZCARD', KEYS[5])
"""
)


# Allocate an available number outright (PP-11: an appeal restores a number). ARGV: now, seg, index, selid.
_TAKE = (
    _PRELUDE
    + """
local now = now_us(ARGV[1], KEYS[8])
lapse(now, ARGV[2])
local idx = ARGV[3]
if redis.call('SISMEMBER', KEYS[6], idx) == 1 then return {'1'} end
if redis.call('GETBIT', KEYS[2], idx) ~= 1 then return {'-7'} end
redis.call('SETBIT', KEYS[2], idx, 0)
redis.call('DECR', KEYS[3])
redis.call('SADD', KEYS[6], idx)
redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000000, '*', 'op', 'restore', 'at', fmt(now), 'seg', ARGV[2],
  'sel', ARGV[4], 'allocated', idx)
return {'0'}
"""
)


class HotError(Exception):
    """A refusal decided by a script; `status` is the script's code."""

    def __init__(self, status: int, state: str | None = None) -> None:
        super().__init__(f"hot state refused: {status}")
        self.status = status
        self.state = state


NOT_FOUND, WRONG_STATE, SESSION_OVER, NO_DRAWS, POOL_EMPTY, NO_CUSTOM, NOT_HELD, SMS_OVER, QUEUED = (
    -1,
    -2,
    -3,
    -4,
    -5,
    -6,
    -7,
    -8,
    -9,
)


def to_us(moment: datetime) -> int:
    return (moment - _EPOCH) // _US


def from_us(us: int | str | bytes) -> datetime:
    return (_EPOCH + timedelta(microseconds=int(us))).astimezone(SHANGHAI)


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Draw:
    indexes: list[int]
    draws_left: int
    held_until: datetime
    now: datetime


@dataclass(frozen=True)
class Queued:
    """PP-10: too few numbers free for this draw while others hold numbers: a place in line, kept while
    the caller asks again within `keep_place_s`."""

    position: int
    length: int
    draws_left: int
    now: datetime


@dataclass(frozen=True)
class Verify:
    held: bool
    custom_left: int
    held_until: datetime | None
    refused: str | None
    now: datetime


@dataclass(frozen=True)
class Choice:
    custom_left: int
    draws_left: int
    sms_deadline: datetime
    now: datetime


@dataclass(frozen=True)
class PoolCounts:
    available: int
    held: int
    allocated: int
    queued: int = 0


@dataclass(frozen=True)
class SelectionState:
    """What a selection's hot hash carries (see `HotPool.put_selection`)."""

    owner: str
    segment_id: str
    state: str
    session_expires_at: datetime
    custom_left: int
    draws_left: int
    draw_size: int
    hold_seconds: int
    sms_minutes: int


@dataclass(frozen=True)
class HotSelection:
    """What Redis says a selection has done, read to bring Postgres up to it (reconcile.py)."""

    state: str
    chosen: int | None
    chosen_until: datetime | None  # the chosen number's hold (the SMS deadline), while it is held
    chosen_allocated: bool  # the chosen number is in the segment's allocated set
    confirmed_at: datetime | None
    custom_left: int
    draws_left: int


class HotPool:
    def __init__(
        self,
        redis: Redis,
        clock: Clock,
        prefix: str = "pp",
        probes_per_number: int = 4,
        max_probes_per_number: int = 50,
        keep_place_s: float = 20.0,
    ) -> None:
        self.redis = redis
        self.clock = clock
        self.prefix = prefix
        self.keep_place_s = keep_place_s
        self.log_key = f"{prefix}:log"
        self._probes = probes_per_number
        self._max_probes = max_probes_per_number
        # segment -> its share of numbers available after this replica's last draw there: a thinner pool
        # gets more random probes, so draws stay uniform, not "the next free number after a gap".
        self._free_share: dict[str, float] = {}
        self._draw = redis.register_script(_DRAW)
        self._verify = redis.register_script(_VERIFY)
        self._choose = redis.register_script(_CHOOSE)
        self._confirm = redis.register_script(_CONFIRM)
        self._unconfirm = redis.register_script(_UNCONFIRM)
        self._release = redis.register_script(_RELEASE)
        self._lapse = redis.register_script(_LAPSE)
        self._take = redis.register_script(_TAKE)
        # The dev/test clock lives in Redis: let the scripts read it (saves a round trip per request).
        self._script_reads_clock = isinstance(clock, RedisOffsetClock)
        self._pipe: RespPipe | None = None
        self._pipe_lock = asyncio.Lock()

    async def _fast_script(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        """EVALSHA on the shared auto-pipelining connection (resp.py); redis-py when it is unavailable or
        Redis lost the script (it loads it again)."""
        pipe = self._pipe
        if pipe is None or pipe.closed:
            try:
                pipe = await self._open_pipe()
            except OSError:
                pipe = None
        if pipe is not None:
            try:
                return await pipe.call("EVALSHA", script.sha, len(keys), *keys, *args)
            except RespError as error:
                if not str(error).startswith("NOSCRIPT"):
                    raise
            except ConnectionError:
                pass
        return await script(keys=keys, args=args)

    async def _open_pipe(self) -> RespPipe | None:
        async with self._pipe_lock:
            if self._pipe is not None and not self._pipe.closed:
                return self._pipe
            kwargs = self.redis.connection_pool.connection_kwargs
            if "path" in kwargs or kwargs.get("ssl"):
                return None
            self._pipe = await RespPipe.open(
                str(kwargs.get("host", "127.0.0.1")),
                int(kwargs.get("port", 6379)),
                int(kwargs.get("db", 0) or 0),
                kwargs.get("password"),
            )
            return self._pipe

    def close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None

    def seg_key(self, segment_id: str, part: str) -> str:
        return f"{self.prefix}:seg:{segment_id}:{part}"

    def sel_key(self, selection_id: str) -> str:
        return f"{self.prefix}:sel:{selection_id}"

    def _keys(self, selection_id: str, segment_id: str) -> list[str]:
        return [
            self.sel_key(selection_id),
            *(self.seg_key(segment_id, p) for p in ("bits", "n", "holds", "hexp", "alloc")),
            self.log_key,
            OFFSET_KEY,
            *(self.seg_key(segment_id, p) for p in ("q", "qseen", "qseq")),
        ]

    async def _now_arg(self) -> str:
        if self._script_reads_clock:
            return ""
        return str(to_us(await self.clock.now()))

    # --- pools ------------------------------------------------------------------------------------

    async def build(self, segment_id: str, size: int, allocated: list[int]) -> None:
        """(Re)build a segment's pool: every number available except the allocated ones; no holds."""
        full, rest = divmod(size, 8)
        bitmap = bytearray(b"\xff" * full + (bytes([(0xFF << (8 - rest)) & 0xFF]) if rest else b""))
        for idx in allocated:
            bitmap[idx // 8] &= ~(0x80 >> (idx % 8)) & 0xFF
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*(self.seg_key(segment_id, p) for p in ("bits", "holds", "hexp", "alloc")))
            pipe.set(self.seg_key(segment_id, "bits"), bytes(bitmap))
            pipe.set(self.seg_key(segment_id, "n"), size - len(set(allocated)))
            if allocated:
                pipe.sadd(self.seg_key(segment_id, "alloc"), *allocated)
            await pipe.execute()

    async def is_built(self, segment_id: str) -> bool:
        return bool(await self.redis.exists(self.seg_key(segment_id, "bits")))

    async def counts(self, segment_id: str) -> PoolCounts:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.seg_key(segment_id, "n"))
            pipe.hlen(self.seg_key(segment_id, "holds"))
            pipe.scard(self.seg_key(segment_id, "alloc"))
            pipe.zcard(self.seg_key(segment_id, "q"))
            n, held, allocated, queued = await pipe.execute()
        return PoolCounts(int(n or 0), int(held), int(allocated), int(queued))

    async def take(self, selection_id: str, segment_id: str, index: int) -> None:
        """Allocate an available number outright (an appeal's restored number); raises HotError when it
        is held or allocated by someone else."""
        result = await self._take(
            keys=self._keys(selection_id, segment_id),
            args=[await self._now_arg(), segment_id, index, selection_id],
        )
        if int(result[0]) < 0:
            raise HotError(int(result[0]))

    async def lapse(self, segment_id: str) -> int:
        keys = self._keys("-", segment_id)
        return int(await self._lapse(keys=keys, args=[await self._now_arg(), segment_id]))

    # --- selections -------------------------------------------------------------------------------

    async def put_selection(self, selection_id: str, st: SelectionState) -> None:
        await self.redis.hset(
            self.sel_key(selection_id),
            mapping={
                "owner": st.owner,
                "seg": st.segment_id,
                "state": st.state,
                "sexp": to_us(st.session_expires_at),
                "cl": st.custom_left,
                "dl": st.draws_left,
                "dsz": st.draw_size,
                "hold_us": st.hold_seconds * 1_000_000,
                "sms_us": st.sms_minutes * 60_000_000,
                "held": "",
                "chosen": "",
            },
        )

    async def set_state(self, selection_id: str, **fields: str) -> None:
        mapping: Any = dict(fields)
        await self.redis.hset(self.sel_key(selection_id), mapping=mapping)

    async def counters(self, selection_id: str) -> tuple[int, int] | None:
        cl, dl = await self.redis.hmget(self.sel_key(selection_id), ["cl", "dl"])
        if cl is None or dl is None:
            return None
        return int(cl), int(dl)

    async def selection(self, selection_id: str, segment_id: str) -> HotSelection | None:
        """The selection's hot hash and its chosen number's place (None when Redis lost the hash)."""
        fields = await self.redis.hmget(
            self.sel_key(selection_id), ["state", "chosen", "cl", "dl", "confirmed_us"]
        )
        state, chosen_raw, cl, dl, confirmed_us = fields
        if state is None:
            return None
        chosen = int(chosen_raw) if chosen_raw else None
        until: datetime | None = None
        allocated = False
        if chosen is not None:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hget(self.seg_key(segment_id, "holds"), str(chosen))
                pipe.zscore(self.seg_key(segment_id, "hexp"), str(chosen))
                pipe.sismember(self.seg_key(segment_id, "alloc"), str(chosen))
                holder, score, in_alloc = await pipe.execute()
            if holder is not None and _s(holder) == selection_id and score is not None:
                until = from_us(int(score))
            allocated = bool(in_alloc)
        return HotSelection(
            state=_s(state),
            chosen=chosen,
            chosen_until=until,
            chosen_allocated=allocated,
            confirmed_at=from_us(confirmed_us) if confirmed_us else None,
            custom_left=int(cl or 0),
            draws_left=int(dl or 0),
        )

    async def draw(
        self, selection_id: str, owner: str, segment_id: str, size: int, want: int = 5
    ) -> Draw | Queued:
        """PP-06: hold `want` available numbers, chosen with a cryptographic source (PP-13); or, when too
        few are free while others hold numbers, a place in the segment's line (PP-10)."""
        # One read of the OS's cryptographic source per draw: 8 bytes per candidate, reduced modulo the
        # pool (a bias under size / 2**64, i.e. nil), instead of one `secrets.randbelow` call each.
        share = self._free_share.get(segment_id, 1.0)
        thin = share < 0.5
        per_number = min(self._max_probes, int(self._probes / max(share, 1e-9))) if thin else self._probes
        points = want if thin else 1
        count = want * per_number + points
        picks = [x % size for x in struct.unpack(f"<{count}Q", secrets.token_bytes(8 * count))]
        keys = self._keys(selection_id, segment_id)
        starts, candidates = ",".join(map(str, picks[:points])), ",".join(map(str, picks[points:]))
        keep_us = int(self.keep_place_s * 1_000_000)
        args = [await self._now_arg(), owner, selection_id, segment_id, starts, candidates, keep_us]
        result = await self._fast_script(self._draw, keys, args)
        status = int(result[0])
        if status == QUEUED:
            return Queued(int(result[1]), int(result[2]), int(result[4]), from_us(result[3]))
        if status != 0:
            raise HotError(status, _s(result[1]) if len(result) > 1 else None)
        self._free_share[segment_id] = int(result[4]) / size
        return Draw(
            indexes=[int(i) for i in result[5:]],
            draws_left=int(result[1]),
            held_until=from_us(result[2]),
            now=from_us(result[3]),
        )

    async def verify(
        self, selection_id: str, owner: str, segment_id: str, index: int | None, number: str
    ) -> Verify:
        """PP-05: hold the number when available, else spend one custom attempt."""
        keys = self._keys(selection_id, segment_id)
        args = [
            await self._now_arg(),
            owner,
            selection_id,
            segment_id,
            "" if index is None else index,
            number,
        ]
        result = await self._fast_script(self._verify, keys, args)
        status = int(result[0])
        if status < 0:
            raise HotError(status, _s(result[1]) if len(result) > 1 else None)
        if status == 0:
            return Verify(True, 0, from_us(result[2]), None, from_us(result[3]))
        return Verify(False, int(result[1]), None, _s(result[2]), from_us(result[3]))

    async def choose(self, selection_id: str, owner: str, segment_id: str, index: int) -> Choice:
        result = await self._choose(
            keys=self._keys(selection_id, segment_id),
            args=[await self._now_arg(), owner, selection_id, segment_id, index],
        )
        status = int(result[0])
        if status != 0:
            raise HotError(status, _s(result[1]) if len(result) > 1 else None)
        return Choice(int(result[1]), int(result[2]), from_us(result[3]), from_us(result[4]))

    async def confirm(self, selection_id: str, owner: str, segment_id: str) -> tuple[int, datetime]:
        """The chosen number moves from held to allocated; (its index, when). A repeat after it took
        effect answers the same."""
        result = await self._confirm(
            keys=self._keys(selection_id, segment_id),
            args=[await self._now_arg(), owner, selection_id, segment_id],
        )
        status = int(result[0])
        if status != 0:
            raise HotError(status, _s(result[1]) if len(result) > 1 else None)
        return int(result[1]), from_us(result[2])

    async def unconfirm(
        self,
        selection_id: str,
        segment_id: str,
        index: int,
        deadline: datetime,
        ledger_refused: bool,
    ) -> None:
        await self._unconfirm(
            keys=self._keys(selection_id, segment_id),
            args=[
                await self._now_arg(),
                selection_id,
                segment_id,
                index,
                to_us(deadline),
                "1" if ledger_refused else "0",
            ],
        )

    async def release(
        self,
        selection_id: str,
        segment_id: str,
        new_state: str,
        op: str,
        allocated_index: int | None = None,
    ) -> list[int]:
        """Give back what the selection holds (and its allocated number, if named); set its state."""
        result = await self._release(
            keys=self._keys(selection_id, segment_id),
            args=[
                await self._now_arg(),
                selection_id,
                segment_id,
                new_state,
                "" if allocated_index is None else allocated_index,
                op,
            ],
        )
        return [int(i) for i in result]
