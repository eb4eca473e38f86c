"""Account life that several paths share: cancellation (ID-16, ID-05) and the new-car-owner sweep (ID-05)."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update

from identity_service import domain
from identity_service.binding_events import end_bindings
from identity_service.published import AccountCancelled
from identity_service.tables import accounts, bindings
from identity_service.tokens import revoke_all
from servicekit.runtime import Runtime
from servicekit.uow import SYSTEM_ACTOR, Actor, UnitOfWork

CANCEL_REASONS = (
    "self_service",
    "counter_request",
    "deceased",
    "unit_dissolved",
    "false_registration_data",
    "no_preselection_within_24h",
    "not_registered_within_3_working_days",
)


async def cancel_account(uow: UnitOfWork, account_id: uuid.UUID, reason: str, actor: Actor) -> bool:
    """ID-16: end the account, every session and every binding; publish `identity.account.cancelled.v1`.
    Returns False when the account was already cancelled (a repeat does nothing)."""
    now = uow.now
    result = await uow.session.execute(
        update(accounts)
        .where(accounts.c.id == account_id, accounts.c.status != "cancelled")
        .values(status="cancelled", cancelled_at=now, cancel_reason=reason, updated_at=now)
        .returning(accounts.c.id, accounts.c.phone, accounts.c.credit_code)
    )
    cancelled = result.first()
    if cancelled is None:
        return False
    await revoke_all(uow, account_id)
    await end_bindings(uow, bindings.c.account_id == account_id, "account_cancelled")
    uow.emit(
        AccountCancelled(
            account_id=str(account_id),
            reason=reason,
            cancelled_at=now,
            phone=cancelled.phone,  # NT-01: notify tells the registered phone
            username=cancelled.credit_code or cancelled.phone,
        )
    )
    uow.audit(actor, "account_cancelled", f"account:{account_id}", after={"reason": reason})
    return True


async def sweep_new_car_owners(runtime: Runtime) -> int:
    """ID-05: cancel by force the new-car owners with no pre-selection within 24 hours of registration,
    or whose pre-selected plate was not registered within 3 working days. Row locks with SKIP LOCKED keep
    two worker replicas from cancelling one account twice."""
    done = 0
    async with runtime.uow() as uow:
        now = uow.now
        rows = (
            await uow.session.execute(
                select(
                    accounts.c.id,
                    accounts.c.kind,
                    accounts.c.created_at,
                    accounts.c.plate_selected_at,
                    accounts.c.register_by,
                )
                .where(accounts.c.kind == "new_car_owner", accounts.c.status != "cancelled")
                .with_for_update(skip_locked=True)
                .limit(500)
            )
        ).all()
        for row in rows:
            reason = domain.new_car_owner_overdue(
                row.kind, row.created_at, row.plate_selected_at, row.register_by, now
            )
            if reason is not None and await cancel_account(uow, row.id, reason, SYSTEM_ACTOR):
                done += 1
        await uow.commit()
    return done
