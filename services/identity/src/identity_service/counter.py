"""Counter registration, one function per post's action (ID-09 to ID-11): each loads the case, lets the
domain decide (domain.REGISTRATION_MOVES and the pure checks) and writes the move, its history, events
and audit in one unit of work. Intake opens the case at its own post, stores its scans with it (AR-01,
`scans.py`) and submits it. The HTTP layer (api/counter.py) parses, calls and shapes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.exc import IntegrityError

from identity_service import domain, scans
from identity_service.context import IdentityContext
from identity_service.population import RegistryUnreachable
from identity_service.published import PersonPhoneChanged, RegistrationApproved, RegistrationRejected
from identity_service.tables import accounts, registrations
from identity_service.tokens import hash_password
from servicekit.crypto import blind_match
from servicekit.ids import new_id
from servicekit.uow import Actor, UnitOfWork
from servicekit.validators import InvalidValue, social_credit_code
from servicekit.web import NotFound


@dataclass(frozen=True)
class Clerk:
    """The clerk acting: subject and office from the token, the audit actor of the request."""

    subject: str
    office: str | None
    actor: Actor


@dataclass(frozen=True)
class IntakeForm:
    """What the intake post enters (ID-09, ID-11); `unit` holds a unit's details (ID-11)."""

    category: str
    kind: str
    id_kind: str
    id_number: str
    name: str
    phone: str
    password: str
    unit: dict[str, Any] | None = None


def history(row: Any, stage: str, actor: str, now: datetime, note: str | None = None) -> list[dict[str, Any]]:
    entry = {"stage": stage, "by": actor, "at": now.isoformat(), "note": note}
    return [*list(row.history if row is not None else []), entry]


async def registry_check(ctx: IdentityContext, id_number: str, name: str, category: str) -> str:
    """ID-09: the registry check, tolerated as `pending` when the registry cannot be reached (re-run at
    review); ID-10 for personal users."""
    try:
        person = await ctx.registry.lookup(id_number)
    except RegistryUnreachable:
        return "pending"
    person = domain.check_registry_match(person, id_number, name)
    if category == "personal":
        domain.check_disqualifications(person)
    return "passed"


async def load_at_post(
    uow: UnitOfWork, table: Table, row_id: uuid.UUID, clerk: Clerk, post: str | None, what: str
) -> Any:
    """A case (a registration or a counter change) of the clerk's office at the clerk's own post, locked;
    else 404: other offices' and other posts' cases do not leak."""
    row = (await uow.session.execute(select(table).where(table.c.id == row_id).with_for_update())).first()
    if row is None or (clerk.office is not None and row.office != clerk.office):
        raise NotFound(what)
    if post is not None and row.stage != domain.STAGE_OF_POST[post]:
        raise NotFound(what)
    return row


async def load_case(uow: UnitOfWork, case_id: uuid.UUID, clerk: Clerk, post: str | None) -> Any:
    return await load_at_post(uow, registrations, case_id, clerk, post, "registration")


def case_ref(case_id: uuid.UUID | str) -> str:
    """The case a registration's scans are kept with (AR-01); its audit entries name it too."""
    return f"registration:{case_id}"


async def _reload(uow: UnitOfWork, case_id: uuid.UUID) -> Any:
    return (await uow.session.execute(select(registrations).where(registrations.c.id == case_id))).one()


async def move_case(
    uow: UnitOfWork,
    ctx: IdentityContext,
    table: Table,
    moves: Mapping[domain.CaseAction, domain.Move],
    row: Any,
    action: domain.CaseAction,
    clerk: Clerk,
    note: str | None = None,
    **values: Any,
) -> domain.Move:
    """Write one move of a case's table (`domain.REGISTRATION_MOVES`, `domain.CHANGE_MOVES`) with the new
    stage's deadline and the history entry."""
    now = uow.now
    move = domain.next_move(moves, action, row.stage)
    await uow.session.execute(
        update(table)
        .where(table.c.id == row.id)
        .values(
            stage=move.target,
            deadline=domain.stage_deadline(move.target, now, ctx.calendar),
            history=history(row, move.target, clerk.subject, now, note),
            updated_at=now,
            **values,
        )
    )
    return move


async def _move(
    uow: UnitOfWork,
    ctx: IdentityContext,
    row: Any,
    action: domain.CaseAction,
    clerk: Clerk,
    note: str | None = None,
    **values: Any,
) -> domain.Move:
    return await move_case(
        uow, ctx, registrations, domain.REGISTRATION_MOVES, row, action, clerk, note, **values
    )


async def _check_no_account(uow: UnitOfWork, category: str, id_number: str, credit_code: str | None) -> None:
    if category == "personal":
        where = (accounts.c.category == "personal") & blind_match(accounts.c.id_number, id_number)
    else:
        where = (accounts.c.category == "unit") & (accounts.c.credit_code == credit_code)
    found = await uow.session.execute(select(accounts.c.id).where(where, accounts.c.status != "cancelled"))
    if found.first() is not None:
        raise domain.AccountExists("an account is already registered for this person or unit")


async def _create_account(uow: UnitOfWork, row: Any, now: datetime) -> uuid.UUID:
    """The account of an approved person or of a unit at intake; the live-account unique indexes decide
    between concurrent approvals (ID-01: one account per person or unit)."""
    data = row.data
    account_id = new_id()
    if row.category == "personal":
        values: dict[str, Any] = {
            "category": "personal",
            "kind": data.get("kind", "owner_driver"),
            "id_kind": data.get("id_kind", "resident_id"),
            "id_number": row.id_number,
            "name": row.name,
            "phone": row.phone,
            "roles": domain.roles_for("personal"),
        }
    else:
        unit = data["unit"]
        values = {
            "category": "unit",
            "kind": unit["unit_kind"],
            "id_kind": data.get("id_kind", "resident_id"),
            "id_number": row.id_number,
            "credit_code": unit["credit_code"],
            "name": unit["unit_name"],
            "phone": row.phone,
            "email": unit.get("email"),
            "roles": domain.roles_for("unit", unit.get("delegated_roles", [])),
            "details": {"agent_name": row.name, **{k: v for k, v in unit.items() if k != "credit_code"}},
        }
    try:
        await uow.session.execute(
            accounts.insert().values(
                id=account_id,
                channel="counter",
                password_hash=row.password_hash,
                office=row.office,
                status="active",
                registration_id=row.id,
                created_at=now,
                updated_at=now,
                **values,
            )
        )
        await uow.session.flush()
    except IntegrityError:
        raise domain.AccountExists("an account is already registered for this person or unit") from None
    return account_id


async def intake(uow: UnitOfWork, ctx: IdentityContext, clerk: Clerk, form: IntakeForm, office: str) -> Any:
    """ID-09 / ID-11: open a case at the intake post after the password, unit details and registry checks;
    its scans are stored with it next (`store_scan`), then intake submits it (`submit`)."""
    domain.check_password_strength(form.password)
    data: dict[str, Any] = {"kind": form.kind, "id_kind": form.id_kind}
    credit_code = None
    if form.category == "unit":
        if form.unit is None:
            raise domain.UnitDetailsRequired("a unit registration needs its unit details")
        try:
            credit_code = social_credit_code(form.unit["credit_code"], field="unit.credit_code")
        except InvalidValue as exc:
            raise domain.InvalidCreditCode(str(exc)) from None
        data["unit"] = {**form.unit, "credit_code": credit_code}
    check = await registry_check(ctx, form.id_number, form.name, form.category)
    password_hash = hash_password(form.password)
    async with uow:
        now = uow.now
        await _check_no_account(uow, form.category, form.id_number, credit_code)
        case_id = new_id()
        await uow.session.execute(
            registrations.insert().values(
                id=case_id,
                category=form.category,
                stage="intake",
                office=office,
                id_number=form.id_number,
                name=form.name,
                phone=form.phone,
                data=data,
                scans=[],
                password_hash=password_hash,
                registry_check=check,
                deadline=None,
                history=history(None, "intake", clerk.subject, now),
                created_at=now,
                updated_at=now,
            )
        )
        uow.audit(
            clerk.actor,
            "registration_intake",
            f"registration:{case_id}",
            after={"category": form.category, "registry_check": check},
        )
        await uow.commit()
        return await _reload(uow, case_id)


async def store_scan(
    uow: UnitOfWork, ctx: IdentityContext, clerk: Clerk, case_id: uuid.UUID, kind: str, content: bytes
) -> dict[str, Any]:
    """ID-09 / ID-11 / AR-01: intake stores one of the case's scans with it while the case is at intake
    (a new one, or one returned by review); another scan of the same kind replaces it in the case."""
    async with uow:
        row = await load_case(uow, case_id, clerk, "clerk.intake")
        domain.check_scan_kind(kind, domain.scan_kinds(row.category), "ID-09")
        entry = await scans.store(
            uow,
            ctx,
            registrations,
            row,
            case_ref=case_ref(row.id),
            owner=row.id_number,
            kind=kind,
            content=content,
            actor=clerk.actor,
            created_by=clerk.subject,
        )
        await uow.commit()
    return entry


async def submit(uow: UnitOfWork, ctx: IdentityContext, clerk: Clerk, case_id: uuid.UUID) -> Any:
    """ID-09 / ID-11: intake submits a case whose scans are all stored: a person's goes to review (1
    working day); a unit's account is created here (ID-11: no review) and its case goes to archive."""
    async with uow:
        now = uow.now
        row = await load_case(uow, case_id, clerk, "clerk.intake")
        domain.check_scans(row.category, scans.stored_kinds(row.scans))
        action = domain.submission(row.category)
        if action == "submit_unit":
            unit = row.data["unit"]
            await _check_no_account(uow, "unit", row.id_number, unit["credit_code"])
            account_id = await _create_account(uow, row, now)
            await _move(uow, ctx, row, action, clerk, "submitted", account_id=account_id)
            uow.emit(
                RegistrationApproved(
                    registration_id=str(row.id),
                    account_id=str(account_id),
                    account_kind="unit",
                    name=unit["unit_name"],
                    phone=row.phone,
                    username=unit["credit_code"],
                    approved_at=now,
                )
            )
        else:
            await _move(uow, ctx, row, action, clerk, "submitted")
        uow.audit(clerk.actor, "registration_submitted", case_ref(row.id))
        await uow.commit()
        return await _reload(uow, case_id)


async def correct(
    uow: UnitOfWork,
    ctx: IdentityContext,
    clerk: Clerk,
    case_id: uuid.UUID,
    name: str | None,
    phone: str | None,
) -> Any:
    """ID-09: intake corrects a returned case (its scans stored again where needed, the registry
    re-checked) and sends it to review again."""
    async with uow:
        row = await load_case(uow, case_id, clerk, "clerk.intake")
    if domain.submission(row.category) != "submit":
        raise domain.WrongStage("a unit's case has no review to return it: it is submitted, not corrected")
    name = name or row.name
    domain.check_scans(row.category, scans.stored_kinds(row.scans))
    check = await registry_check(ctx, row.id_number, name, row.category)
    async with uow:
        row = await load_case(uow, case_id, clerk, "clerk.intake")
        domain.check_scans(row.category, scans.stored_kinds(row.scans))
        await _move(
            uow,
            ctx,
            row,
            "correct",
            clerk,
            "corrected",
            name=name,
            phone=phone or row.phone,
            registry_check=check,
        )
        uow.audit(clerk.actor, "registration_corrected", f"registration:{row.id}")
        await uow.commit()
        return await _reload(uow, case_id)


async def return_to_intake(
    uow: UnitOfWork, ctx: IdentityContext, clerk: Clerk, case_id: uuid.UUID, reason: str
) -> Any:
    """ID-09: review returns a mismatch to intake, with the reason."""
    async with uow:
        row = await load_case(uow, case_id, clerk, "clerk.review")
        await _move(uow, ctx, row, "return", clerk, reason, return_reason=reason)
        uow.audit(clerk.actor, "registration_returned", f"registration:{row.id}", after={"reason": reason})
        await uow.commit()
        return await _reload(uow, case_id)


async def approve(uow: UnitOfWork, ctx: IdentityContext, clerk: Clerk, case_id: uuid.UUID) -> Any:
    """ID-09: re-runs a registry check intake could not make; creates the account (counter channel);
    publishes the approval (notify sends the account details) and the person's phone (ID-06)."""
    async with uow:
        row = await load_case(uow, case_id, clerk, "clerk.review")
    check = row.registry_check
    if check != "passed":
        check = await registry_check(ctx, row.id_number, row.name, row.category)
        if check != "passed":
            raise domain.RegistryCheckPending(
                "the population registry still cannot be reached; approve once it answers"
            )
    async with uow:
        now = uow.now
        row = await load_case(uow, case_id, clerk, "clerk.review")
        await _check_no_account(uow, "personal", row.id_number, None)
        account_id = await _create_account(uow, row, now)
        await _move(uow, ctx, row, "approve", clerk, "approved", account_id=account_id, registry_check=check)
        uow.emit(
            RegistrationApproved(
                registration_id=str(row.id),
                account_id=str(account_id),
                account_kind="personal",
                name=row.name,
                phone=row.phone,
                username=row.phone,
                approved_at=now,
            ),
            PersonPhoneChanged(
                id_kind=row.data.get("id_kind", "resident_id"),
                id_number=row.id_number,
                name=row.name,
                phone=row.phone,
                registration_id=str(row.id),
                changed_at=now,
            ),
        )
        uow.audit(
            clerk.actor,
            "registration_approved",
            f"registration:{row.id}",
            after={"account_id": str(account_id)},
        )
        await uow.commit()
        return await _reload(uow, case_id)


async def reject(uow: UnitOfWork, ctx: IdentityContext, clerk: Clerk, case_id: uuid.UUID, reason: str) -> Any:
    """ID-09: review rejects; the reason goes out by SMS (notify consumes the event)."""
    async with uow:
        now = uow.now
        row = await load_case(uow, case_id, clerk, "clerk.review")
        await _move(uow, ctx, row, "reject", clerk, reason, reject_reason=reason)
        uow.emit(
            RegistrationRejected(
                registration_id=str(row.id), name=row.name, phone=row.phone, reason=reason, rejected_at=now
            )
        )
        uow.audit(clerk.actor, "registration_rejected", f"registration:{row.id}", after={"reason": reason})
        await uow.commit()
        return await _reload(uow, case_id)


async def archive(
    uow: UnitOfWork, ctx: IdentityContext, clerk: Clerk, case_id: uuid.UUID, filed: list[str]
) -> Any:
    """ID-09 / ID-11 / AR-01: the archive post binds and files the originals."""
    items = sorted(set(filed))
    async with uow:
        row = await load_case(uow, case_id, clerk, "clerk.archive")
        domain.check_originals(row.category, items)
        await _move(uow, ctx, row, "archive", clerk, filed_items=items)
        uow.audit(clerk.actor, "registration_filed", f"registration:{row.id}", after={"filed": items})
        await uow.commit()
        return await _reload(uow, case_id)
