"""The worker's sweeps: every deadline of plate-pool, on the platform clock (WD-02), never by sleeping.

- lapse-holds: holds past their 180 s (or the SMS window) go back to the pool (PP-05, PP-06, PP-12);
- end-sessions: sessions past 60 minutes end, their holds go back (PP-04);
- sms-windows: a choice not confirmed by SMS in 30 minutes goes back to the step the chances allow (PP-07);
  both first record a choice or confirmation whose replica died before writing it (reconcile.py);
- register-deadlines: a number not registered within 3 working days is cancelled with a 2-year ban (PP-09);
- fairness-log: each segment's Redis stream of draws, verifies, holds and releases drained into Postgres
  (PP-13);
- pools: pools Redis lost are rebuilt from the ledger; an office under its floor raises an alert (PP-10).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from plate_pool_service import selections as use_cases
from plate_pool_service.context import context_for
from plate_pool_service.domain import State
from plate_pool_service.hot import from_us
from plate_pool_service.pools import build_pool, office_available
from plate_pool_service.published import PoolLow
from plate_pool_service.tables import fairness_log, segments, selections
from servicekit.clock import SHANGHAI
from servicekit.runtime import Runtime
from servicekit.service import Sweep

log = logging.getLogger(__name__)
BATCH = 500


async def _published_segments(runtime: Runtime) -> list[Any]:
    async with runtime.engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    select(segments.c.id, segments.c.office_code, segments.c.pool_built_at).where(
                        segments.c.state == "published"
                    )
                )
            ).all()
        )


async def lapse_holds(runtime: Runtime) -> int:
    ctx = context_for(runtime)
    total = 0
    for row in await _published_segments(runtime):
        if row.pool_built_at is not None:
            total += await ctx.hot.lapse(row.id)
    return total


async def _due(runtime: Runtime, state: State, column: Any, now: datetime) -> list[Any]:
    async with runtime.engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    select(selections)
                    .where(selections.c.state == state)
                    .where(column < now if state == State.SELECTED else column <= now)
                    .order_by(selections.c.id)
                    .limit(BATCH)
                )
            ).all()
        )


async def end_sessions(runtime: Runtime) -> int:
    """PP-04: a session ends at 60 minutes; its holds go back, its chances stay with the vehicle."""
    ctx = context_for(runtime)
    rows = await _due(runtime, State.SELECTING, selections.c.session_expires_at, await runtime.clock.now())
    for row in rows:
        await use_cases.end_session(ctx, row)
    return len(rows)


async def sms_windows(runtime: Runtime) -> int:
    """PP-07: not confirmed in 30 minutes → back to custom or random by the chances left, or exhausted."""
    ctx = context_for(runtime)
    now = await runtime.clock.now()
    rows = await _due(runtime, State.AWAITING_SMS, selections.c.sms_deadline, now)
    for row in rows:
        await use_cases.lapse_sms(ctx, row, now)
    return len(rows)


async def register_deadlines(runtime: Runtime) -> int:
    """PP-09: a selected number not registered by its deadline is cancelled; 2-year ban."""
    ctx = context_for(runtime)
    rows = await _due(runtime, State.SELECTED, selections.c.register_by, await runtime.clock.now())
    for row in rows:
        await use_cases.cancel_unregistered(ctx, row)
    return len(rows)


# The drain copies up to DRAIN_BATCHES x DRAIN_BATCH entries per stream per run (every second): far above
# what the draws of a segment's opening write (one entry each, a few thousand a second), so it stays short.
DRAIN_BATCH = 2_000
DRAIN_BATCHES = 25
# The scripts cap the stream at about 1,000,000 entries (hot.py: MAXLEN, Redis's memory guard); a backlog
# this long means the drain is not keeping up (worker down or too slow) and entries will soon be lost.
BACKLOG_WARNING = 250_000


async def drain_fairness_log(runtime: Runtime) -> int:
    """PP-13: copy each segment's stream (one per segment: one slot on a cluster, ADR 0097) into the
    append-only table, then trim what was copied (idempotent by id). The stream ids order the entries of
    one segment; the table orders them across segments by `at`."""
    ctx = context_for(runtime)
    hot = ctx.hot
    streams = [hot.log_key(_text(s)) for s in sorted(await hot.redis.smembers(hot.logs_key))]
    total = 0
    for stream in [hot.legacy_log_key, *streams]:
        total += await _drain_stream(runtime, ctx, stream)
    return total


async def _drain_stream(runtime: Runtime, ctx: Any, stream: str) -> int:
    total = 0
    for _ in range(DRAIN_BATCHES):
        done = await _drain_batch(runtime, ctx, stream)
        total += done
        if done < DRAIN_BATCH:
            return total
    backlog = int(await ctx.hot.redis.xlen(stream))
    if backlog > BACKLOG_WARNING:
        log.error("fairness log %s: backlog of %d entries, the drain is not keeping up", stream, backlog)
    return total


async def _drain_batch(runtime: Runtime, ctx: Any, stream: str) -> int:
    entries = await ctx.hot.redis.xrange(stream, count=DRAIN_BATCH)
    if not entries:
        return 0
    rows: list[dict[str, Any]] = []
    for stream_id, raw in entries:
        fields = {_text(k): _text(v) for k, v in (raw or {}).items()}
        segment = await ctx.catalog.segment(fields.get("seg", "")) if fields.get("seg") else None

        def numbers(csv: str | None, segment: Any = segment) -> list[str]:
            if not csv:
                return []
            return [segment.space.number(int(i)) if segment else i for i in csv.split(",") if i]

        rows.append(
            {
                "stream_id": _text(stream_id),
                "at": from_us(fields.get("at", "0")),
                "op": fields.get("op", "?")[:16],
                "selection_id": fields.get("sel"),
                "segment_id": fields.get("seg"),
                "held": numbers(fields.get("held")) + numbers(fields.get("allocated")),
                "released": numbers(fields.get("released")),
                "detail": {
                    k: v
                    for k, v in fields.items()
                    if k not in ("op", "at", "sel", "seg", "held", "released", "allocated")
                },
            }
        )
    # PP-13 counters: the durable row never shows more chances than the log says are left. The batch's
    # last word per selection, one statement per counter (not one transaction per entry).
    draws_left: dict[str, int] = {}
    custom_left: dict[str, int] = {}
    for row in rows:
        detail: dict[str, str] = row["detail"]
        if _is_uuid(row["selection_id"]):
            if "dl" in detail:
                draws_left[row["selection_id"]] = int(detail["dl"])
            if "cl" in detail:
                custom_left[row["selection_id"]] = int(detail["cl"])
    async with runtime.uow() as uow:
        await uow.session.execute(
            pg_insert(fairness_log)
            .values(rows)
            .on_conflict_do_nothing(
                index_elements=[fairness_log.c.segment_id, fairness_log.c.stream_id],
                index_where=fairness_log.c.stream_id.is_not(None),
            )
        )
        for column, latest in (("draws_left", draws_left), ("custom_left", custom_left)):
            if latest:
                await uow.session.execute(
                    update(selections)
                    .where(selections.c.id == bindparam("sid"))
                    .where(selections.c.state == State.SELECTING)
                    .values({column: bindparam("left")}),
                    [{"sid": uuid.UUID(sid), "left": left} for sid, left in latest.items()],
                )
        await uow.commit()
    await ctx.hot.redis.xdel(stream, *[_text(e[0]) for e in entries])
    return len(rows)


def _is_uuid(value: str | None) -> bool:
    try:
        uuid.UUID(value or "")
    except ValueError:
        return False
    return True


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def pools(runtime: Runtime) -> int:
    """PP-10/PP-12: rebuild pools Redis lost (from the segment minus the ledger); alert on a low office."""
    ctx = context_for(runtime)
    now = await runtime.clock.now()
    rebuilt = 0
    offices: set[str] = set()
    for row in await _published_segments(runtime):
        offices.add(row.office_code)
        if row.pool_built_at is None or not await ctx.hot.is_built(row.id):
            # only when still missing: a replica's draw may have rebuilt it since (steps.draw)
            rebuilt += bool(await build_pool(ctx, row.id, only_if_missing=True))
    for office in offices:
        settings = await ctx.catalog.settings(office)
        available = await office_available(ctx, office, now)
        if available < settings.low_pool_threshold and await runtime.redis.set(
            f"{ctx.hot.prefix}:alert:{office}",
            "1",
            nx=True,
            ex=int(timedelta(hours=1).total_seconds()),
        ):
            async with runtime.uow() as uow:
                uow.emit(
                    PoolLow(
                        office_code=office,
                        available=available,
                        threshold=settings.low_pool_threshold,
                        detected_at=now.astimezone(SHANGHAI),
                    )
                )
                await uow.commit()
            log.warning(
                "office %s: %d numbers available, under %d",
                office,
                available,
                settings.low_pool_threshold,
            )
    return rebuilt


SWEEPS = [
    Sweep("plate-pool.lapse-holds", 1.0, lapse_holds),
    Sweep("plate-pool.end-sessions", 5.0, end_sessions),
    Sweep("plate-pool.sms-windows", 5.0, sms_windows),
    Sweep("plate-pool.register-deadlines", 60.0, register_deadlines),
    Sweep("plate-pool.fairness-log", 1.0, drain_fairness_log),
    Sweep("plate-pool.pools", 10.0, pools),
]
