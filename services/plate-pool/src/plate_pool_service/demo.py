"""`python -m plate_pool_service.demo`: the Shijiazhuang office (130100, 冀A) at the seed's settings and an
open segment of 240,000 numbers (冀A + a letter + four digits), so that a citizen can select at once.
Idempotent: run at every `make run`; rebuilds the pool when Redis lost it (it keeps nothing on disk).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import select, update

from plate_pool_service.context import context_for
from plate_pool_service.domain import SEED_SETTINGS
from plate_pool_service.segments import (
    PlanSegment,
    build_pool,
    plan_segment,
    save_office_settings,
)
from plate_pool_service.service import SPEC
from plate_pool_service.tables import office_settings, segments
from servicekit.clock import SHANGHAI
from servicekit.runtime import Runtime

OFFICE = "130100"
SUPERIOR = "130000"  # 河北省公安厅交通警察总队
SEGMENT_ID = "seg-130100-demo-1"


async def load() -> None:
    runtime = Runtime.open(SPEC.settings(), SPEC.metadata)
    try:
        ctx = context_for(runtime)
        async with runtime.engine.connect() as conn:
            has_office = (
                await conn.execute(
                    select(office_settings.c.office_code).where(office_settings.c.office_code == OFFICE)
                )
            ).first()
            has_segment = (
                await conn.execute(select(segments.c.id).where(segments.c.id == SEGMENT_ID))
            ).first()
        if has_office is None:
            await save_office_settings(
                runtime, OFFICE, SEED_SETTINGS, superior=SUPERIOR, name="石家庄市公安局交通管理局"
            )
        if has_segment is None:
            now = await runtime.clock.now()
            await plan_segment(
                ctx,
                PlanSegment(
                    office_code=OFFICE,
                    prefix="冀A",
                    pattern="*####",
                    custom_patterns=["*####"],
                    opens_at=datetime(2026, 1, 5, 8, 0, tzinfo=SHANGHAI),
                ),
                "demo",
                now,
                segment_id=SEGMENT_ID,
            )
            async with runtime.uow() as uow:
                await uow.session.execute(
                    update(segments)
                    .where(segments.c.id == SEGMENT_ID)
                    .values(state="published", approved_by="demo", approved_at=now, published_at=now)
                )
                await uow.commit()
        if not await ctx.hot.is_built(SEGMENT_ID):
            available = await build_pool(ctx, SEGMENT_ID)
            print(
                f"plate-pool demo: segment {SEGMENT_ID} pool built, {available} numbers available",
                flush=True,
            )
        else:
            print(f"plate-pool demo: segment {SEGMENT_ID} ready", flush=True)
    finally:
        await runtime.aclose()


def main() -> None:
    asyncio.run(load())


if __name__ == "__main__":
    main()
