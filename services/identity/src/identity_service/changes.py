"""Personal counter changes (ID-13, seed §16 and §19), one function per post's action: intake enters the
change, stores its scans with it (the owner's documents too for another's vehicle; AR-01, `scans.py`) and
submits it; review decides within 1 working day (domain.CHANGE_MOVES) and an approved change takes effect;
the outcome goes out by SMS through notify.

ID-13's limit of 3 vehicles that are not the person's holds under concurrency: every action that counts
them first locks the person's account row, so concurrent intakes and approvals count one after another."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update

from identity_service import domain, scans
from identity_service.api.common import load_account
from identity_service.binding_events import bind_record
from identity_service.context import IdentityContext
from identity_service.counter import Clerk, history, load_at_post, move_case, registry_check
from identity_service.published import CounterChangeApproved, CounterChangeRejected
from identity_service.tables import accounts, bindings, counter_changes, person_records
from servicekit.crypto import with_blind
from servicekit.ids import new_id
from servicekit.uow import UnitOfWork
from servicekit.web import NotFound

DETAIL_COLUMNS = frozenset({"phone", "email"})  # the rest of a details change goes to accounts.details


@dataclass(frozen=True)
class ChangeForm:
    """What intake enters: `ref` for a vehicle binding, `details` for changed user details."""

    account_id: uuid.UUID
    kind: str
    ref: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


async def _personal_account(uow: UnitOfWork, account_id: uuid.UUID, *, lock: bool) -> Any:
    account = await load_account(uow.session, account_id, lock=lock)
    if account.category != "personal":
        raise NotFound("account")
    return account


async def _live_vehicle(uow: UnitOfWork, ref: str) -> Any:
    return (
        await uow.session.execute(
            select(person_records).where(
                person_records.c.record_kind == "vehicle",
                person_records.c.ref == ref,
                person_records.c.state.in_(domain.LIVE_VEHICLE_STATES),
            )
        )
    ).first()


async def _non_owned_in_use(
    uow: UnitOfWork, account_id: uuid.UUID, but: uuid.UUID | None = None, *, pending_too: bool = True
) -> int:
    """ID-13: live non-owned vehicle bindings, plus at intake the open changes binding one (the account row
    is locked). At approval only the live ones count: the change approved takes the free slot."""
    live = select(func.count()).where(
        bindings.c.account_id == account_id,
        bindings.c.record_kind == "vehicle",
        bindings.c.owned.is_(False),
        bindings.c.unbound_at.is_(None),
    )
    if not pending_too:
        return int((await uow.session.execute(live)).scalar_one())
    pending = [data for data in await _open_bindings(uow, account_id, but) if data.get("owned") is False]
    return int((await uow.session.execute(live)).scalar_one()) + len(pending)


async def _open_bindings(
    uow: UnitOfWork, account_id: uuid.UUID, but: uuid.UUID | None
) -> list[dict[str, Any]]:
    """The data of the account's open changes binding a vehicle (a handful): sealed (ADR 0095), so read and
    looked into here, not in SQL."""
    opened = select(counter_changes.c.data).where(
        counter_changes.c.account_id == account_id,
        counter_changes.c.kind == "bind_vehicle",
        counter_changes.c.stage.in_(domain.OPEN_CHANGE_STAGES),
    )
    if but is not None:
        opened = opened.where(counter_changes.c.id != but)
    return list((await uow.session.execute(opened)).scalars())


async def _check_vehicle_free(
    uow: UnitOfWork, account_id: uuid.UUID, ref: str, but: uuid.UUID | None
) -> None:
    bound = await uow.session.execute(
        select(bindings.c.id).where(
            bindings.c.account_id == account_id,
            bindings.c.record_kind == "vehicle",
            bindings.c.ref == ref,
            bindings.c.unbound_at.is_(None),
        )
    )
    if bound.first() is not None:
        raise domain.AlreadyBound("this vehicle is already bound to the account")
    if any(data.get("ref") == ref for data in await _open_bindings(uow, account_id, but)):
        raise domain.ChangeAlreadyOpen("a change binding this vehicle is already open for the account")


async def _vehicle_change(
    uow: UnitOfWork,
    account: Any,
    ref: str,
    but: uuid.UUID | None,
    documents: tuple[bool, Iterable[str]] | None = None,
) -> dict[str, Any]:
    """Intake's checks of a vehicle binding (the account row locked): a live vehicle, not bound nor asked
    for yet, for another's vehicle the limit of 3; and once submitted (`documents`: whether intake checked
    the owner's documents, and the kinds of scans stored) the scans, the owner's documents among them."""
    record = await _live_vehicle(uow, ref)
    if record is None:
        raise NotFound("vehicle")
    owned = record.id_number == account.id_number
    if documents is not None:
        checked, kinds = documents
        domain.check_change_scans(owned, checked, kinds)
    await _check_vehicle_free(uow, account.id, record.ref, but)
    if not owned:
        domain.check_non_owned_limit(await _non_owned_in_use(uow, account.id, but))
    return {"ref": record.ref, "owned": owned, "plate_number": record.plate_number}


async def load_change(uow: UnitOfWork, change_id: uuid.UUID, clerk: Clerk, post: str | None) -> Any:
    return await load_at_post(uow, counter_changes, change_id, clerk, post, "change")


def case_ref(change_id: uuid.UUID | str) -> str:
    """The case a change's scans are kept with (AR-01); its audit entries name it too."""
    return f"counter_change:{change_id}"


async def _reload(uow: UnitOfWork, change_id: uuid.UUID) -> Any:
    return (await uow.session.execute(select(counter_changes).where(counter_changes.c.id == change_id))).one()


async def _move(
    uow: UnitOfWork,
    ctx: IdentityContext,
    row: Any,
    action: domain.CaseAction,
    clerk: Clerk,
    note: str | None = None,
    **values: Any,
) -> None:
    await move_case(uow, ctx, counter_changes, domain.CHANGE_MOVES, row, action, clerk, note, **values)


async def intake(uow: UnitOfWork, ctx: IdentityContext, clerk: Clerk, form: ChangeForm, office: str) -> Any:
    """Seed §19(一): intake checks the applicant (registry and ID-10, `pending` when unreachable) and the
    vehicle, and enters the change; it opens at intake, its scans are stored with it (`store_scan`), and
    `submit` sends it to review (1 working day, WD-01)."""
    async with uow:
        account = await _personal_account(uow, form.account_id, lock=False)
    if form.kind == "details" and not form.details:
        raise domain.NothingToChange("a details change needs at least one new value")
    check = await registry_check(ctx, account.id_number, account.name, "personal")
    async with uow:
        now = uow.now
        account = await _personal_account(uow, form.account_id, lock=True)
        data = (
            await _vehicle_change(uow, account, form.ref or "", None)
            if form.kind == "bind_vehicle"
            else form.details
        )
        change_id = new_id()
        await uow.session.execute(
            counter_changes.insert().values(
                id=change_id,
                account_id=account.id,
                kind=form.kind,
                stage="intake",
                office=office,
                data=data,
                scans=[],
                registry_check=check,
                deadline=None,
                history=history(None, "intake", clerk.subject, now),
                created_at=now,
                updated_at=now,
            )
        )
        uow.audit(
            clerk.actor,
            "counter_change_intake",
            f"counter_change:{change_id}",
            after={"account_id": str(account.id), "kind": form.kind, "registry_check": check},
        )
        await uow.commit()
        return await _reload(uow, change_id)


async def store_scan(
    uow: UnitOfWork, ctx: IdentityContext, clerk: Clerk, change_id: uuid.UUID, kind: str, content: bytes
) -> dict[str, Any]:
    """ID-13 / AR-01: intake stores one of the change's scans with it while the change is at intake (new,
    or returned by review); another scan of the same kind replaces it in the change."""
    async with uow:
        row = await load_change(uow, change_id, clerk, "clerk.intake")
        domain.check_scan_kind(kind, domain.CHANGE_SCAN_KINDS, "ID-13")
        entry = await scans.store(
            uow,
            ctx,
            counter_changes,
            row,
            case_ref=case_ref(row.id),
            owner=str(row.account_id),
            kind=kind,
            content=content,
            actor=clerk.actor,
            created_by=clerk.subject,
        )
        await uow.commit()
    return entry


async def _checked_for_review(uow: UnitOfWork, row: Any, owner_documents_checked: bool) -> dict[str, Any]:
    """Seed §19(一) at submission (the account row locked): the stored scans, and for a vehicle binding the
    vehicle's checks again with the owner's documents; the change's data as it goes to review."""
    kinds = scans.stored_kinds(row.scans)
    if row.kind != "bind_vehicle":
        domain.check_change_scans(True, False, kinds)
        return dict(row.data)
    account = await _personal_account(uow, row.account_id, lock=True)
    return await _vehicle_change(
        uow, account, row.data.get("ref") or "", row.id, (owner_documents_checked, kinds)
    )


async def submit(
    uow: UnitOfWork, ctx: IdentityContext, clerk: Clerk, change_id: uuid.UUID, owner_documents_checked: bool
) -> Any:
    """Seed §19(一): intake submits the change with its scans stored (for another's vehicle the owner's
    documents, checked valid); it goes to review within 1 working day (WD-01)."""
    async with uow:
        row = await load_change(uow, change_id, clerk, "clerk.intake")
        data = await _checked_for_review(uow, row, owner_documents_checked)
        await _move(uow, ctx, row, "submit", clerk, "submitted", data=data)
        uow.audit(clerk.actor, "counter_change_submitted", case_ref(row.id))
        await uow.commit()
        return await _reload(uow, change_id)


async def correct(
    uow: UnitOfWork, ctx: IdentityContext, clerk: Clerk, change_id: uuid.UUID, owner_documents_checked: bool
) -> Any:
    """Seed §19(二)4: intake corrects a returned change (a scan stored again with `store_scan`, the
    registry re-checked) and sends it to review."""
    async with uow:
        row = await load_change(uow, change_id, clerk, "clerk.intake")
        account = await _personal_account(uow, row.account_id, lock=False)
    check = await registry_check(ctx, account.id_number, account.name, "personal")
    async with uow:
        row = await load_change(uow, change_id, clerk, "clerk.intake")
        data = await _checked_for_review(uow, row, owner_documents_checked)
        await _move(uow, ctx, row, "correct", clerk, "corrected", data=data, registry_check=check)
        uow.audit(clerk.actor, "counter_change_corrected", case_ref(row.id))
        await uow.commit()
        return await _reload(uow, change_id)


async def return_to_intake(
    uow: UnitOfWork, ctx: IdentityContext, clerk: Clerk, change_id: uuid.UUID, reason: str
) -> Any:
    """Seed §19(二)4: review returns a mismatch to intake."""
    async with uow:
        row = await load_change(uow, change_id, clerk, "clerk.review")
        await _move(uow, ctx, row, "return", clerk, reason, return_reason=reason)
        uow.audit(
            clerk.actor, "counter_change_returned", f"counter_change:{row.id}", after={"reason": reason}
        )
        await uow.commit()
        return await _reload(uow, change_id)


async def approve(uow: UnitOfWork, ctx: IdentityContext, clerk: Clerk, change_id: uuid.UUID) -> Any:
    """Seed §19(二)3/5: re-runs a registry check intake could not make; the change takes effect (the vehicle
    bound under ID-13's limit, or the details changed) and the person is told by SMS."""
    async with uow:
        row = await load_change(uow, change_id, clerk, "clerk.review")
        account = await _personal_account(uow, row.account_id, lock=False)
    check = row.registry_check
    if check != "passed":
        check = await registry_check(ctx, account.id_number, account.name, "personal")
        if check != "passed":
            raise domain.RegistryCheckPending(
                "the population registry still cannot be reached; approve once it answers"
            )
    async with uow:
        now = uow.now
        row = await load_change(uow, change_id, clerk, "clerk.review")
        account = await _personal_account(uow, row.account_id, lock=True)
        data = dict(row.data)
        if row.kind == "bind_vehicle":
            record = await _live_vehicle(uow, data["ref"])
            if record is None:
                raise domain.VehicleNotLive("the vehicle is no longer registered; reject the change")
            owned = record.id_number == account.id_number
            if not owned:
                domain.check_non_owned_limit(await _non_owned_in_use(uow, account.id, pending_too=False))
            binding = await bind_record(uow, account.id, "vehicle", data["ref"], owned, "counter")
            data.update(owned=owned, binding_id=str(binding.id))
        else:
            await _apply_details(uow, account, data, now)
        await _move(uow, ctx, row, "approve", clerk, "approved", data=data, registry_check=check)
        account = await load_account(uow.session, account.id)
        if account.phone:  # NT-01: told by SMS; an account without a phone is told nothing
            uow.emit(
                CounterChangeApproved(
                    change_id=str(row.id),
                    account_id=str(account.id),
                    change_kind=row.kind,
                    items=domain.change_items(row.kind, data),
                    name=account.name,
                    phone=account.phone,
                    approved_at=now,
                )
            )
        uow.audit(clerk.actor, "counter_change_approved", f"counter_change:{row.id}", after={"data": data})
        await uow.commit()
        return await _reload(uow, change_id)


async def _apply_details(uow: UnitOfWork, account: Any, data: dict[str, Any], now: Any) -> None:
    columns = {k: v for k, v in data.items() if k in DETAIL_COLUMNS}
    details = {**(account.details or {}), **{k: v for k, v in data.items() if k not in DETAIL_COLUMNS}}
    await uow.session.execute(
        update(accounts)
        .where(accounts.c.id == account.id)
        .values(details=details, updated_at=now, **with_blind(accounts, columns))
    )


async def reject(
    uow: UnitOfWork, ctx: IdentityContext, clerk: Clerk, change_id: uuid.UUID, reason: str
) -> Any:
    """Seed §19(二)6: review rejects; the reason goes to the person by SMS."""
    async with uow:
        now = uow.now
        row = await load_change(uow, change_id, clerk, "clerk.review")
        account = await _personal_account(uow, row.account_id, lock=False)
        await _move(uow, ctx, row, "reject", clerk, reason, reject_reason=reason)
        if account.phone:  # NT-01: told by SMS; an account without a phone is told nothing
            uow.emit(
                CounterChangeRejected(
                    change_id=str(row.id),
                    account_id=str(account.id),
                    change_kind=row.kind,
                    name=account.name,
                    phone=account.phone,
                    reason=reason,
                    rejected_at=now,
                )
            )
        uow.audit(
            clerk.actor, "counter_change_rejected", f"counter_change:{row.id}", after={"reason": reason}
        )
        await uow.commit()
        return await _reload(uow, change_id)
