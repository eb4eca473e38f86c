"""ADR 0082: the revocation marks back in a Redis that lost them. Identity keeps every mark it writes in
`token_revocations` as well; this sweep, every few seconds on identity's worker, finds the Redis without its
`present` key (a restart without persistence, a failover to an empty replica), puts back every mark still
live, and forgets the expired rows. A token revoked before the loss is refused again within one period."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import delete, select

from identity_service.tables import token_revocations
from identity_service.tokens import revocations
from servicekit.runtime import Runtime
from servicekit.web.revocation import Mark

log = logging.getLogger(__name__)


async def restore_revocation_marks(runtime: Runtime) -> int:
    """The marks put back into Redis this time (0 while they are all there)."""
    marks = revocations(runtime)
    now = datetime.now(UTC)  # real time, as Redis's TTLs
    async with runtime.uow() as uow:
        await uow.session.execute(delete(token_revocations).where(token_revocations.c.expires_at <= now))
        await uow.commit()
    if await marks.present():
        return 0
    async with runtime.uow() as uow:
        rows = (
            await uow.session.execute(select(token_revocations).where(token_revocations.c.expires_at > now))
        ).all()
    kept = [(Mark(row.key, row.value.encode()), (row.expires_at - now).total_seconds()) for row in rows]
    restored = await marks.restore(kept)
    log.warning(
        "revocation marks restored into a Redis that had lost them",
        extra={"kept": len(kept), "restored": restored},
    )
    return restored
