"""The hot state of PP-12 in Redis, changed only by atomic Lua scripts (lua/*.lua, package data; registered
once, sent by EVALSHA; their reply statuses are `HotStatus`).

Every key of a segment `s` and of the selections drawing from it carries the hash tag `{s}`, so that on a
Redis Cluster they all live in one slot and every script stays atomic there (ADR 0097); see numbers.py for
number <-> index:
- `pp:{s}:bits`  bitmap, bit i = 1 when number i is available;  `pp:{s}:n` how many are;
- `pp:{s}:holds` hash index -> selection id;  `pp:{s}:hexp` zset index by hold expiry (µs);
- `pp:{s}:alloc` set of allocated indexes (mirrors the Postgres ledger, which is the authority);
- `pp:{s}:sel:{id}` a selection's hash (owner, state, segment, session end, chances, held numbers...);
- `pp:{s}:log`: a stream of every draw, verify, hold, release, choice and confirmation of the segment
  (PP-13), written by the same script as the change it records and drained into Postgres `fairness_log`
  by the worker, which finds the segments with a stream in the set `pp:logs`.
Outside any tag: `pp:home:{id}` the segment of a selection (for a request that names only the selection,
read once per replica and selection), `pp:logs`.

The admission queue of a segment (PP-10: more people drawing than the pool can hold): `pp:{s}:q` zset
selection -> ticket (arrival order), `pp:{s}:qseen` zset selection -> when its next ask is due (µs: the
last ask plus the Retry-After it was told), `pp:{s}:qseq` the ticket counter. A draw that finds fewer
than five numbers free while others hold numbers takes a ticket; the k-th in line is admitted once k
draws' worth of numbers are free; a place not asked for within `keep_place_s` past its due moment is
given up. Places further back are told to ask less often (`retry_after_s` for the first, at most
`retry_after_max_s`): see lua/admission.lua and ADR 0022.

A number is in exactly one of: available (bit 1), held (in holds), allocated (in alloc). Each script
first lapses the segment's expired holds (a worker sweep does the same for idle segments), so a hold
never outlives its expiry by more than one request or one sweep period, whatever happens to the replica
that made it. Time is the platform clock: the caller passes `now` in µs, or '' to let the script read
Redis TIME plus the dev/test clock offset (one round trip instead of two on the hot path). The offset key
is in no segment's slot, so on a cluster the caller always passes `now` (the production clock is the
system's, no round trip; the dev/test clock reads the offset from the service's own Redis).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import Connection, SSLConnection

from plate_pool_service.domain import State
from servicekit.clock import OFFSET_KEY, SHANGHAI, Clock, RedisOffsetClock
from servicekit.resp import RespError, RespPipe, bulks, open_beside

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _lua(name: str) -> str:
    return (resources.files("plate_pool_service") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


class HotStatus(IntEnum):
    """The first element of every script's reply: the one table of the scripts' statuses (the scripts
    read them as `R.<NAME>`)."""

    OK = 0
    REFUSED = 1  # verify: the number is taken or not allowed; one attempt spent
    ALREADY_ALLOCATED = 2  # take: the number is allocated already
    NOT_FOUND = -1  # Redis does not know the selection (or not for this owner/segment)
    WRONG_STATE = -2  # the selection is not at this step (its state follows)
    SESSION_OVER = -3  # PP-04
    NO_DRAWS = -4  # PP-06
    POOL_EMPTY = -5  # PP-10: nothing free and nothing held
    NO_CUSTOM = -6  # PP-05
    NOT_HELD = -7  # PP-06: the number is not held for this selection (or no longer)
    SMS_OVER = -8  # PP-07: the chosen number's hold (the SMS window) ran out
    QUEUED = -9  # PP-10: a place in the segment's line


def _script(name: str, *parts: str) -> str:
    """A script as Redis runs it: the shared prelude, its parts, with each `R.<NAME>` (a HotStatus) and
    `S.<NAME>` (a domain.State) written out as its literal, so that Redis runs exactly the code it ran
    when the literals were spelled inline (no table built per call on the hot path)."""
    literals = {f"R.{s.name}": f"'{s.value}'" for s in HotStatus}
    literals |= {f"S.{s.name}": f"'{s.value}'" for s in State}
    text = "".join(_lua(p) for p in ("prelude", *parts, name))

    def literal(match: re.Match[str]) -> str:
        return literals[match.group(0)]  # KeyError: a name neither table has

    return _NAME.sub(literal, text)


_NAME = re.compile(r"\b[RS]\.[A-Z_]+\b")


_DRAW = _script("draw", "admission")
_VERIFY = _script("verify")
_CHOOSE = _script("choose")
_CONFIRM = _script("confirm")
_UNCONFIRM = _script("unconfirm")
_RELEASE = _script("release")
_LAPSE = _script("lapse")
_TAKE = _script("take")
_BUILD = _lua("build")


class HotError(Exception):
    """A refusal decided by a script; `status` is the script's code."""

    def __init__(self, status: int, state: str | None = None) -> None:
        super().__init__(f"hot state refused: {status}")
        self.status = HotStatus(status)
        self.state = state


def to_us(moment: datetime) -> int:
    return (moment - _EPOCH) // _US


def from_us(us: int | str | bytes) -> datetime:
    whole, micro = divmod(int(us), 1_000_000)  # exact (no float), and half the CPU of epoch + timedelta
    return datetime.fromtimestamp(whole, SHANGHAI).replace(microsecond=micro)


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
    the caller asks again within `keep_place_s` past `retry_after_s`."""

    position: int
    length: int
    draws_left: int
    now: datetime
    retry_after_s: int


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
    chosen: int | None = None  # awaiting its SMS code: the chosen number's index ...
    chosen_until: datetime | None = None  # ... held until the SMS window's end


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


# The hot state's store: one Redis, or a Redis Cluster (settings.hot_redis_url, `redis+cluster://`).
HotRedis = Redis | RedisCluster


class _CheckedWrite(Connection):
    """A write on a connection another task has just closed fails as a reset (so redis-py's cluster client
    retries it: nothing was sent), not with the transport's own error. redis-py 8.1's cluster client,
    on any connection error, disconnects its idle connections while other tasks take them from the pool;
    the write then raised AttributeError (`_writer` None) or uvloop's RuntimeError (transport closed),
    which no retry catches: each became a 500 (bench: 135 of 2,522 two-replica draws). Fixed upstream
    (redis/redis-py#4288) but in no release yet."""

    async def _send_packed_command(self, command: Any) -> None:
        writer = self._writer
        if writer is None or writer.transport.is_closing():
            raise ConnectionResetError("the connection was closed before this write")
        writer.writelines(command)  # no await since the check: nobody closes it in between
        await writer.drain()


class _CheckedWriteTls(_CheckedWrite, SSLConnection):
    pass


def hot_redis(url: str, connect_timeout_s: float = 5.0, timeout_s: float = 5.0) -> HotRedis:
    """The client for `url`: `redis+cluster://[user:password@]host:port[,host:port...]` (or
    `rediss+cluster://`, TLS) a Redis Cluster (its seed nodes; it discovers the rest), else one Redis."""
    if url.startswith(("redis+cluster://", "rediss+cluster://")):
        tls = url.startswith("rediss+")
        rest = url.partition("://")[2]
        query = {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
        rest = rest.split("?", 1)[0].split("/", 1)[0]
        credentials, _, hosts = rest.rpartition("@")
        user, _, password = credentials.partition(":")
        seeds = []
        for seed in hosts.split(","):
            host, _, port = seed.rpartition(":")
            seeds.append(ClusterNode(unquote(host) or "127.0.0.1", int(port or 6379)))
        cluster = RedisCluster(
            startup_nodes=seeds,
            username=unquote(user) or None,
            password=unquote(password) or None,
            # rediss+cluster://: TLS, the certificate required and its name checked unless the URL says
            # otherwise (which prod refuses, settings.py); ssl_ca_certs= names the CA file.
            ssl=tls,
            ssl_cert_reqs=query.get("ssl_cert_reqs", "required"),
            ssl_ca_certs=query.get("ssl_ca_certs"),
            ssl_check_hostname=query.get("ssl_check_hostname", "true").lower() not in ("false", "0", "no"),
            socket_connect_timeout=connect_timeout_s,
            socket_timeout=timeout_s,
        )
        # RedisCluster takes no connection class: every node it makes reads it from these kwargs (one dict,
        # shared with its nodes manager); the seeds were made before.
        checked = _CheckedWriteTls if tls else _CheckedWrite
        cluster.connection_kwargs["connection_class"] = checked
        for node in cluster.nodes_manager.startup_nodes.values():
            node.connection_class = checked
        return cluster
    return Redis.from_url(url, socket_connect_timeout=connect_timeout_s, socket_timeout=timeout_s)


class HotPool:
    def __init__(
        self,
        redis: HotRedis,
        clock: Clock,
        prefix: str = "pp",
        probes_per_number: int = 4,
        max_probes_per_number: int = 50,
        keep_place_s: float = 20.0,
        owns_redis: bool = False,
        retry_after_s: int = 2,
        retry_after_max_s: int = 30,
        line_asks_per_s: float = 25.0,
    ) -> None:
        self.redis = redis
        self.clock = clock
        self.prefix = prefix
        self.keep_place_s = keep_place_s
        # PP-10: the line's asking pace (admission.lua): position p asks again after p / line_asks_per_s
        # seconds, within [retry_after_s, retry_after_max_s].
        self.retry_after_s = retry_after_s
        self.retry_after_max_s = retry_after_max_s
        self.line_asks_per_s = line_asks_per_s
        self.cluster = isinstance(redis, RedisCluster)
        self._owns_redis = owns_redis
        # The segments whose log stream the worker drains (one stream per segment: one slot each).
        self.logs_key = f"{prefix}:logs"
        # Before ADR 0097 one stream held every segment's entries: drained until empty after the switch.
        self.legacy_log_key = f"{prefix}:log"
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
        self._build = redis.register_script(_BUILD)
        # The dev/test clock lives in Redis: let the scripts read it (saves a round trip per request);
        # not on a cluster, where its key is in another slot than the segment's.
        self._script_reads_clock = isinstance(clock, RedisOffsetClock) and not self.cluster
        self._pipe: RespPipe | None = None
        self._pipe_lock = asyncio.Lock()
        self._heads: dict[tuple[str, str], tuple[bytes, bytes, int]] = {}

    async def _fast_script(self, script: Any, selection_id: str, segment_id: str, args: list[Any]) -> Any:
        """EVALSHA with the selection's `keys_of` on the shared auto-pipelining connection (servicekit.resp);
        redis-py when it is unavailable or Redis lost the script (it loads it again)."""
        if self.cluster:  # redis-py routes it to the segment's shard
            return await script(keys=self.keys_of(selection_id, segment_id), args=args)
        pipe = self._pipe
        if pipe is None or pipe.closed:
            try:
                pipe = await self._open_pipe()
            except OSError:
                pipe = None
        if pipe is not None:
            try:
                return await pipe.call_encoded(*self.evalsha(script.sha, selection_id, segment_id, args))
            except RespError as error:
                if not str(error).startswith("NOSCRIPT"):
                    raise
            except ConnectionError:
                pass
        return await script(keys=self.keys_of(selection_id, segment_id), args=args)

    def evalsha(self, sha: str, selection_id: str, segment_id: str, args: list[Any]) -> tuple[int, bytes]:
        """`EVALSHA sha numkeys *keys_of(selection, segment) *args` encoded for `RespPipe.call_encoded`: the
        command and the segment's keys (all but the selection's, which comes first) are encoded once per
        script and segment, not per call."""
        found = self._heads.get((sha, segment_id))
        if found is None:
            keys = self.keys_of("", segment_id)
            found = (bulks(("EVALSHA", sha, len(keys))), bulks(keys[1:]), 3 + len(keys))
            if len(self._heads) > 10_000:
                self._heads.clear()
            self._heads[(sha, segment_id)] = found
        command, segment_keys, count = found
        selection_key = bulks((self.sel_key(selection_id, segment_id),))
        return count + len(args), b"".join((command, selection_key, segment_keys, bulks(args)))

    async def _open_pipe(self) -> RespPipe | None:
        async with self._pipe_lock:
            if self._pipe is not None and not self._pipe.closed:
                return self._pipe
            assert isinstance(self.redis, Redis)
            self._pipe = await open_beside(self.redis)
            return self._pipe

    def close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None

    async def aclose(self) -> None:
        self.close()
        if self._owns_redis:
            await self.redis.aclose()

    def seg_key(self, segment_id: str, part: str) -> str:
        return f"{self.prefix}:{{{segment_id}}}:{part}"

    def sel_key(self, selection_id: str, segment_id: str) -> str:
        """A selection's hash, in its segment's slot (the scripts change both at once)."""
        return f"{self.prefix}:{{{segment_id}}}:sel:{selection_id}"

    def log_key(self, segment_id: str) -> str:
        return self.seg_key(segment_id, "log")

    def home_key(self, selection_id: str) -> str:
        return f"{self.prefix}:home:{selection_id}"

    def keys_of(self, selection_id: str, segment_id: str) -> list[str]:
        """What every script gets as KEYS (prelude.lua): all in the segment's slot, except the dev/test
        clock offset on one Redis (on a cluster a key of the segment's that the scripts never read)."""
        return [
            self.sel_key(selection_id, segment_id),
            *(self.seg_key(segment_id, p) for p in ("bits", "n", "holds", "hexp", "alloc")),
            self.log_key(segment_id),
            self.seg_key(segment_id, "clock") if self.cluster else OFFSET_KEY,
            *(self.seg_key(segment_id, p) for p in ("q", "qseen", "qseq")),
        ]

    async def _now_arg(self) -> str:
        if self._script_reads_clock:
            return ""
        return str(to_us(await self.clock.now()))

    # --- pools ------------------------------------------------------------------------------------

    async def build(
        self,
        segment_id: str,
        size: int,
        allocated: list[int],
        chosen: Mapping[int, tuple[str, datetime]] | None = None,
        *,
        only_if_missing: bool = False,
    ) -> bool:
        """(Re)build a segment's pool: every number available except the allocated ones and the `chosen`
        ones (index -> the selection awaiting its SMS code, its window's end), held again for them; no
        other holds. `only_if_missing`: nothing is done when the pool exists, also when another replica
        or the worker builds it at the same moment (WATCH), so a rebuild never wipes holds made since.
        Returns whether this call built it."""
        chosen = dict(chosen or {})
        full, rest = divmod(size, 8)
        bitmap = bytearray(b"\xff" * full + (bytes([(0xFF << (8 - rest)) & 0xFF]) if rest else b""))
        for idx in (*allocated, *chosen):
            bitmap[idx // 8] &= ~(0x80 >> (idx % 8)) & 0xFF
        # One script, not WATCH/MULTI: atomic in the segment's slot on a cluster as on one Redis, and a
        # concurrent build (another replica, the worker) cannot slip between the check and the writes.
        keys = [self.seg_key(segment_id, p) for p in ("bits", "n", "holds", "hexp", "alloc")]
        held = ",".join(f"{i},{sid},{to_us(end)}" for i, (sid, end) in chosen.items())
        built = await self._build(
            keys=keys,
            args=[
                "1" if only_if_missing else "0",
                bytes(bitmap),
                size - len(set(allocated) | set(chosen)),
                ",".join(map(str, allocated)),
                held,
            ],
        )
        if not int(built):
            return False  # there already (built by someone else in between)
        await self.redis.sadd(self.logs_key, segment_id)  # its stream, drained by the worker
        return True

    async def holder(self, segment_id: str, index: int) -> str | None:
        """The selection holding number `index` (None when no one does)."""
        value = await self.redis.hget(self.seg_key(segment_id, "holds"), str(index))
        return None if value is None else _s(value)

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
            keys=self.keys_of(selection_id, segment_id),
            args=[await self._now_arg(), segment_id, index, selection_id],
        )
        if int(result[0]) < 0:
            raise HotError(int(result[0]))

    async def lapse(self, segment_id: str) -> int:
        keys = self.keys_of("-", segment_id)
        return int(await self._lapse(keys=keys, args=[await self._now_arg(), segment_id]))

    # --- selections -------------------------------------------------------------------------------

    async def segment_of(self, selection_id: str) -> str | None:
        """The segment of a selection Redis knows (None when it does not: ask Postgres)."""
        raw = await self.redis.get(self.home_key(selection_id))
        return None if raw is None else _s(raw)

    async def put_selection(self, selection_id: str, st: SelectionState) -> None:
        # Three slots on a cluster (the selection's, its home's, the streams'): not one transaction, and
        # need not be: the home and the stream's registration only ever name the same segment.
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.home_key(selection_id), st.segment_id)
            pipe.sadd(self.logs_key, st.segment_id)
            self._put_hash(pipe, selection_id, st)
            await pipe.execute()

    def _put_hash(self, pipe: Any, selection_id: str, st: SelectionState) -> None:
        pipe.hset(
            self.sel_key(selection_id, st.segment_id),
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
                "held": "" if st.chosen is None else st.chosen,
                "chosen": "" if st.chosen is None else st.chosen,
                "hexp": "" if st.chosen_until is None else to_us(st.chosen_until),
            },
        )

    async def set_state(self, selection_id: str, segment_id: str, **fields: str) -> None:
        mapping: Any = dict(fields)
        await self.redis.hset(self.sel_key(selection_id, segment_id), mapping=mapping)

    async def held(self, selection_id: str, segment_id: str) -> tuple[str | None, str | None]:
        """The selection's held numbers (comma list of indexes) and their hold's end (µs)."""
        held, hexp = await self.redis.hmget(self.sel_key(selection_id, segment_id), ["held", "hexp"])
        return (None if held is None else _s(held)), (None if hexp is None else _s(hexp))

    async def counters(self, selection_id: str, segment_id: str) -> tuple[int, int] | None:
        cl, dl = await self.redis.hmget(self.sel_key(selection_id, segment_id), ["cl", "dl"])
        if cl is None or dl is None:
            return None
        return int(cl), int(dl)

    async def selection(self, selection_id: str, segment_id: str) -> HotSelection | None:
        """The selection's hot hash and its chosen number's place (None when Redis lost the hash)."""
        fields = await self.redis.hmget(
            self.sel_key(selection_id, segment_id), ["state", "chosen", "cl", "dl", "confirmed_us"]
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
        starts, candidates = ",".join(map(str, picks[:points])), ",".join(map(str, picks[points:]))
        keep_us = int(self.keep_place_s * 1_000_000)
        args = [
            await self._now_arg(),
            owner,
            selection_id,
            segment_id,
            starts,
            candidates,
            keep_us,
            self.retry_after_s,
            self.line_asks_per_s,
            self.retry_after_max_s,
        ]
        result = await self._fast_script(self._draw, selection_id, segment_id, args)
        status = int(result[0])
        if status == HotStatus.QUEUED:
            return Queued(int(result[1]), int(result[2]), int(result[5]), from_us(result[3]), int(result[4]))
        if status != HotStatus.OK:
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
        args = [
            await self._now_arg(),
            owner,
            selection_id,
            segment_id,
            "" if index is None else index,
            number,
        ]
        result = await self._fast_script(self._verify, selection_id, segment_id, args)
        status = int(result[0])
        if status < 0:
            raise HotError(status, _s(result[1]) if len(result) > 1 else None)
        if status == HotStatus.OK:
            return Verify(True, 0, from_us(result[2]), None, from_us(result[3]))
        return Verify(False, int(result[1]), None, _s(result[2]), from_us(result[3]))

    async def choose(self, selection_id: str, owner: str, segment_id: str, index: int) -> Choice:
        result = await self._choose(
            keys=self.keys_of(selection_id, segment_id),
            args=[await self._now_arg(), owner, selection_id, segment_id, index],
        )
        status = int(result[0])
        if status != HotStatus.OK:
            raise HotError(status, _s(result[1]) if len(result) > 1 else None)
        return Choice(int(result[1]), int(result[2]), from_us(result[3]), from_us(result[4]))

    async def confirm(self, selection_id: str, owner: str, segment_id: str) -> tuple[int, datetime]:
        """The chosen number moves from held to allocated; (its index, when). A repeat after it took
        effect answers the same."""
        result = await self._confirm(
            keys=self.keys_of(selection_id, segment_id),
            args=[await self._now_arg(), owner, selection_id, segment_id],
        )
        status = int(result[0])
        if status != HotStatus.OK:
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
            keys=self.keys_of(selection_id, segment_id),
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
            keys=self.keys_of(selection_id, segment_id),
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
