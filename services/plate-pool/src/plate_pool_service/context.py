"""What the api and the worker of plate-pool build once per process beside the servicekit `Runtime`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from plate_pool_service.catalog import Catalog
from plate_pool_service.hot import HotPool, hot_redis
from plate_pool_service.settings import PlatePoolSettings
from servicekit.runtime import Runtime
from servicekit.verification import VerificationCodes
from servicekit.workdays import OfficeCalendar, WorkdayCalendar


@dataclass
class PlateContext:
    runtime: Runtime
    hot: HotPool
    catalog: Catalog
    codes: VerificationCodes
    # WD-01: `office_calendar.live`, the copy of identity's office calendar (subscriptions.py). Read at a
    # confirmation, an appeal and a publication only, never per draw: `current_calendar` refreshes it there.
    office_calendar: OfficeCalendar
    calendar: WorkdayCalendar
    # selection id -> segment id: immutable once made, so a replica never asks twice (hot path).
    segment_of: dict[str, str]


_BY_RUNTIME: dict[int, PlateContext] = {}


def context_for(runtime: Runtime) -> PlateContext:
    found = _BY_RUNTIME.get(id(runtime))
    if found is not None and found.runtime is runtime:
        return found
    settings = runtime.settings
    plate = settings if isinstance(settings, PlatePoolSettings) else PlatePoolSettings()
    office_calendar = OfficeCalendar(runtime.metadata)
    own = plate.hot_redis_url != ""
    redis = (
        hot_redis(plate.hot_redis_url, plate.redis.connect_timeout_s, plate.redis.timeout_s)
        if own
        else runtime.redis
    )
    ctx = PlateContext(
        runtime=runtime,
        hot=HotPool(
            redis,
            runtime.clock,
            plate.hot_prefix,
            keep_place_s=plate.queue_keep_place_s,
            owns_redis=own,
            retry_after_s=plate.queue_retry_after_s,
            retry_after_max_s=plate.queue_retry_after_max_s,
            line_asks_per_s=plate.queue_line_asks_per_s,
        ),
        catalog=Catalog(runtime.engine, plate.cache_ttl_s),
        codes=VerificationCodes(
            runtime.redis,
            runtime.clock,
            settings.secret_key.get_secret_value().encode(),
            key_prefix="pp:vc",
        ),
        office_calendar=office_calendar,
        calendar=office_calendar.live,
        segment_of={},
    )
    _BY_RUNTIME[id(runtime)] = ctx
    return ctx


async def open_context(app: FastAPI) -> None:
    app.state.plate = context_for(app.state.runtime)


async def close_context(app: FastAPI) -> None:
    ctx = getattr(app.state, "plate", None)
    if ctx is not None:
        await ctx.hot.aclose()
        _BY_RUNTIME.pop(id(ctx.runtime), None)
        del app.state.plate


def get_context(request: Request) -> PlateContext:
    ctx = request.app.state.plate
    assert isinstance(ctx, PlateContext)
    return ctx


async def current_calendar(ctx: PlateContext) -> WorkdayCalendar:
    """WD-01: the calendar reloaded from the office tables when a minute old (a connection of its own,
    only then); an unset year raises `CalendarYearNotSet` (503) when a deadline reaches it."""
    return await ctx.office_calendar.refresh_if_stale(ctx.runtime.engine)


ContextDep = Annotated[PlateContext, Depends(get_context)]
