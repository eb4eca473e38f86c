"""De-identification of cancelled accounts after their retention (PIPL art. 47, ADR 0093).

The sweep `identity-deidentify` takes the accounts cancelled longer ago than the retention and not done
yet, oldest first, and de-identifies each in its own transaction: identity's rows that are the account's
(`holdings.HOLDINGS`, found by the account id), the mark `deidentified_at`, the audit entry and
`identity.account.deidentified.v1` for every other service to do the same with theirs. A stopped sweep
resumes with the accounts not marked; SKIP LOCKED lets worker replicas share the work.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import func, select, update

from identity_service import domain
from identity_service.holdings import HOLDINGS
from identity_service.published import AccountDeidentified
from identity_service.settings import IdentitySettings
from identity_service.tables import accounts
from servicekit.personal import Person, deidentify
from servicekit.runtime import Runtime
from servicekit.uow import SYSTEM_ACTOR, UnitOfWork

log = logging.getLogger(__name__)


async def deidentify_account(uow: UnitOfWork, account_id: uuid.UUID, retention: timedelta) -> bool:
    """De-identify one cancelled account whose retention is over; False when it is not due (still kept,
    live, done already, or taken by another replica)."""
    row = (
        await uow.session.execute(
            select(accounts.c.id, accounts.c.cancelled_at)
            .where(accounts.c.id == account_id, accounts.c.status == "cancelled")
            .where(accounts.c.deidentified_at.is_(None))
            .with_for_update(skip_locked=True)
        )
    ).first()
    if row is None or not domain.retention_over(row.cancelled_at, uow.now, retention):
        return False
    counts = await deidentify(uow.session, HOLDINGS, Person(account_id=str(account_id)))
    await uow.session.execute(
        update(accounts).where(accounts.c.id == account_id).values(deidentified_at=uow.now)
    )
    uow.emit(
        AccountDeidentified(
            account_id=str(account_id), cancelled_at=row.cancelled_at, deidentified_at=uow.now
        )
    )
    uow.audit(SYSTEM_ACTOR, "account_deidentified", f"account:{account_id}", after={"rows": counts})
    return True


async def sweep_deidentify(runtime: Runtime) -> int:
    """One batch of due accounts, each committed on its own (progress survives a stop)."""
    settings = runtime.settings
    assert isinstance(settings, IdentitySettings)
    retention = timedelta(days=settings.deidentify_after_days)
    async with runtime.uow() as uow:
        due = (
            await uow.session.scalars(
                select(accounts.c.id)
                .where(accounts.c.status == "cancelled", accounts.c.deidentified_at.is_(None))
                .where(accounts.c.cancelled_at <= uow.now - retention)
                .order_by(accounts.c.cancelled_at, accounts.c.id)
                .limit(settings.deidentify_batch)
            )
        ).all()
    done = 0
    for account_id in due:
        async with runtime.uow() as uow:
            if await deidentify_account(uow, account_id, retention):
                await uow.commit()
                done += 1
    if due:
        async with runtime.uow() as uow:
            left = await uow.session.scalar(
                select(func.count())
                .select_from(accounts)
                .where(accounts.c.status == "cancelled", accounts.c.deidentified_at.is_(None))
                .where(accounts.c.cancelled_at <= uow.now - retention)
            )
        log.info(
            "de-identified cancelled accounts",
            extra={"deidentified": done, "batch": len(due), "left": left, "retention_days": retention.days},
        )
    return done
