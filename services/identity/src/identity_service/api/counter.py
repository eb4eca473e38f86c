"""`/api/v1/counter/registrations/*`: counter registration through the intake, review and archive posts
(ID-09 to ID-11), each post working its own queue, each case with its working-day deadline (WD-01)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import select, tuple_, update
from sqlalchemy.exc import IntegrityError

from identity_service import domain
from identity_service.api.common import CtxDep, parse_uuid
from identity_service.context import IdentityContext
from identity_service.population import RegistryUnreachable
from identity_service.published import PersonPhoneChanged, RegistrationApproved, RegistrationRejected
from identity_service.tables import accounts, registrations
from identity_service.tokens import hash_password
from servicekit.clock import SHANGHAI
from servicekit.ids import new_id
from servicekit.masking import mask_id_number, mask_phone
from servicekit.pagination import InvalidCursor, clamp_limit, decode_cursor, encode_cursor
from servicekit.uow import UnitOfWork
from servicekit.validators import InvalidValue, mobile_phone, resident_id, social_credit_code
from servicekit.web import (
    CurrentPrincipal,
    Forbidden,
    NotFound,
    Principal,
    Unprocessable,
    UowDep,
    actor_from,
    require_roles,
)

router = APIRouter(prefix="/api/v1/counter/registrations", tags=["counter"])

Phone = Annotated[str, AfterValidator(mobile_phone)]
IdNumber = Annotated[str, AfterValidator(lambda v: resident_id(v, field="id_number"))]
QUEUE_ROLE = {"intake": "clerk.intake", "review": "clerk.review", "archive": "clerk.archive"}
# Who may read a case at each stage: a filed case stays retrievable by the archive post (AR-01).
READ_ROLE = {**QUEUE_ROLE, "filed": "clerk.archive"}
IntakeClerk = Annotated[Principal, Depends(require_roles("clerk.intake"))]
ReviewClerk = Annotated[Principal, Depends(require_roles("clerk.review"))]
ArchiveClerk = Annotated[Principal, Depends(require_roles("clerk.archive"))]


class Scan(BaseModel):
    kind: Annotated[str, Field(min_length=1, max_length=64)]
    ref: Annotated[str, Field(min_length=1, max_length=200)]  # where the scan is stored


class UnitDetails(BaseModel):
    """ID-11: what a unit's counter registration records besides its agent."""

    unit_kind: Literal[
        "state_agency", "enterprise", "public_institution", "social_group", "other_organisation"
    ]
    unit_name: Annotated[str, Field(min_length=1, max_length=200)]
    credit_code: str
    mailing_address: Annotated[str, Field(min_length=1, max_length=300)]
    postcode: Annotated[str, Field(pattern=r"^\d{6}$")]
    legal_representative_name: Annotated[str, Field(min_length=1, max_length=100)]
    legal_representative_phone: Phone
    email: Annotated[str, Field(max_length=200)] | None = None
    requested_items: list[str] = []
    delegated_roles: list[Literal["dealer", "hospital"]] = []


class CaseIn(BaseModel):
    category: Literal["personal", "unit"] = "personal"
    kind: Literal["owner_driver", "learner", "new_car_owner"] = "owner_driver"  # personal only
    id_kind: Literal["resident_id"] = "resident_id"
    id_number: IdNumber  # the person, or the unit's agent
    name: Annotated[str, Field(min_length=1, max_length=100)]
    phone: Phone
    password: Annotated[str, Field(min_length=1, max_length=128)]  # typed by the person on the keypad
    scans: list[Scan]
    unit: UnitDetails | None = None


class CaseCorrection(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    phone: Phone | None = None
    scans: list[Scan] | None = None


class ReasonIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class ArchiveIn(BaseModel):
    filed: list[str]


def _history(
    row: Any, stage: str, actor: str, now: datetime, note: str | None = None
) -> list[dict[str, Any]]:
    return [*list(row.history or []), {"stage": stage, "by": actor, "at": now.isoformat(), "note": note}]


def case_view(row: Any, now: datetime, *, full: bool) -> dict[str, Any]:
    overdue = row.deadline is not None and now > row.deadline and row.stage in ("review", "intake")
    view: dict[str, Any] = {
        "id": str(row.id),
        "category": row.category,
        "stage": row.stage,
        "office": row.office,
        "name": row.name,
        "id_number": mask_id_number(row.id_number),
        "phone": mask_phone(row.phone),
        "registry_check": row.registry_check,
        "deadline": row.deadline.astimezone(SHANGHAI).isoformat() if row.deadline else None,
        "overdue": overdue,
        "created_at": row.created_at.astimezone(SHANGHAI).isoformat(),
        "return_reason": row.return_reason,
    }
    if full:
        view.update(
            {
                "data": row.data,
                "scans": row.scans,
                "reject_reason": row.reject_reason,
                "account_id": str(row.account_id) if row.account_id else None,
                "filed_items": row.filed_items,
                "history": row.history,
            }
        )
    return view


async def _registry_check(ctx: IdentityContext, id_number: str, name: str, category: str) -> str:
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


async def _load_case(uow: UnitOfWork, case_id: str, principal: Principal, stage_role: str | None) -> Any:
    """A case of the clerk's office at the clerk's own post, else 404 (other posts' cases do not leak)."""
    row = (
        await uow.session.execute(
            select(registrations)
            .where(registrations.c.id == parse_uuid(case_id, "registration"))
            .with_for_update()
        )
    ).first()
    if row is None or (principal.office is not None and row.office != principal.office):
        raise NotFound("registration")
    if stage_role is not None:
        stage_of_role = {v: k for k, v in QUEUE_ROLE.items()}[stage_role]
        if row.stage != stage_of_role:
            raise NotFound("registration")
    return row


async def _review_moves(
    uow: UnitOfWork,
    row: Any,
    principal: Principal,
    now: datetime,
    stage: str,
    reason_column: str,
    reason: str,
) -> None:
    """Review sends the case on (back to intake, or rejected), its reason kept in `reason_column`."""
    await uow.session.execute(
        update(registrations)
        .where(registrations.c.id == row.id)
        .values(
            {
                "stage": stage,
                reason_column: reason,
                "deadline": None,
                "history": _history(row, stage, principal.subject, now, reason),
                "updated_at": now,
            }
        )
    )


async def _check_no_account(uow: UnitOfWork, category: str, id_number: str, credit_code: str | None) -> None:
    if category == "personal":
        where = (accounts.c.category == "personal") & (accounts.c.id_number == id_number)
    else:
        where = (accounts.c.category == "unit") & (accounts.c.credit_code == credit_code)
    found = await uow.session.execute(select(accounts.c.id).where(where, accounts.c.status != "cancelled"))
    if found.first() is not None:
        raise domain.AccountExists("an account is already registered for this person or unit")


async def _create_account(uow: UnitOfWork, row: Any, now: datetime) -> uuid.UUID:
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


@router.post("", status_code=201, summary="Intake: open a counter registration (ID-09, ID-10, ID-11)")
async def open_case(body: CaseIn, request: Request, principal: IntakeClerk, ctx: CtxDep, uow: UowDep) -> Any:
    """The intake post checks the form and identity document against the population registry and the
    ID-10 disqualifications, enters the data, the on-site photo and scans. A personal case goes to review
    (deadline: 1 working day); a unit's account is created at intake and the case goes to archive (ID-11)."""
    domain.check_password_strength(body.password)
    domain.check_scans(body.category, (s.kind for s in body.scans))
    data: dict[str, Any] = {"kind": body.kind, "id_kind": body.id_kind}
    credit_code = None
    if body.category == "unit":
        if body.unit is None:
            raise domain.UnitDetailsRequired("a unit registration needs its unit details")
        try:
            credit_code = social_credit_code(body.unit.credit_code, field="unit.credit_code")
        except InvalidValue as exc:
            raise domain.InvalidCreditCode(str(exc)) from None
        data["unit"] = {**body.unit.model_dump(), "credit_code": credit_code}
    check = await _registry_check(ctx, body.id_number, body.name, body.category)
    password_hash = hash_password(body.password)
    office = principal.office or ctx.settings.office_code
    async with uow:
        now = uow.now
        await _check_no_account(uow, body.category, body.id_number, credit_code)
        case_id = new_id()
        unit = body.category == "unit"
        await uow.session.execute(
            registrations.insert().values(
                id=case_id,
                category=body.category,
                stage="archive" if unit else "review",
                office=office,
                id_number=body.id_number,
                name=body.name.strip(),
                phone=body.phone,
                data=data,
                scans=[s.model_dump() for s in body.scans],
                password_hash=password_hash,
                registry_check=check,
                deadline=None if unit else domain.review_deadline(now, ctx.calendar),
                history=[{"stage": "intake", "by": principal.subject, "at": now.isoformat(), "note": None}],
                created_at=now,
                updated_at=now,
            )
        )
        row = (await uow.session.execute(select(registrations).where(registrations.c.id == case_id))).one()
        if unit:
            account_id = await _create_account(uow, row, now)
            await uow.session.execute(
                update(registrations).where(registrations.c.id == case_id).values(account_id=account_id)
            )
            uow.emit(
                RegistrationApproved(
                    registration_id=str(case_id),
                    account_id=str(account_id),
                    account_kind="unit",
                    name=data["unit"]["unit_name"],
                    phone=body.phone,
                    username=credit_code or "",
                    approved_at=now,
                )
            )
        uow.audit(
            actor_from(request, principal, role="clerk.intake"),
            "registration_intake",
            f"registration:{case_id}",
            after={"category": body.category, "registry_check": check},
        )
        await uow.commit()
        row = (await uow.session.execute(select(registrations).where(registrations.c.id == case_id))).one()
    return case_view(row, now, full=True)


@router.get("", summary="A post's work queue (ID-09), oldest first, with deadlines and overdue flags")
async def queue(
    principal: CurrentPrincipal,
    uow: UowDep,
    queue: Annotated[Literal["intake", "review", "archive"], Query()],
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> dict[str, Any]:
    """Each clerk post reaches only its own queue (403 otherwise); cases of the clerk's office only."""
    if QUEUE_ROLE[queue] not in principal.roles:
        raise Forbidden(f"the {queue} queue belongs to the {QUEUE_ROLE[queue]} post")
    page = clamp_limit(limit)
    query = select(registrations).where(registrations.c.stage == queue)
    if principal.office is not None:
        query = query.where(registrations.c.office == principal.office)
    if cursor is not None:
        try:
            after = decode_cursor(cursor)
            query = query.where(
                tuple_(registrations.c.created_at, registrations.c.id)
                > tuple_(datetime.fromisoformat(str(after["t"])), uuid.UUID(str(after["id"])))
            )
        except (InvalidCursor, KeyError, ValueError):
            raise Unprocessable("INVALID_CURSOR", "the cursor is not one this list returned") from None
    query = query.order_by(registrations.c.created_at, registrations.c.id).limit(page + 1)
    async with uow:
        now = uow.now
        rows = (await uow.session.execute(query)).all()
    items = [case_view(row, now, full=False) for row in rows[:page]]
    next_cursor = None
    if len(rows) > page:
        last = rows[page - 1]
        next_cursor = encode_cursor({"t": last.created_at.isoformat(), "id": str(last.id)})
    return {"items": items, "next_cursor": next_cursor}


@router.get(
    "/{case_id}", summary="One case, for the post it is at, the archive once filed (AR-01), or its person"
)
async def get_case(case_id: str, principal: CurrentPrincipal, uow: UowDep) -> dict[str, Any]:
    async with uow:
        now = uow.now
        row = (
            await uow.session.execute(
                select(registrations).where(registrations.c.id == parse_uuid(case_id, "registration"))
            )
        ).first()
        if row is None:
            raise NotFound("registration")
        own_person = principal.id_number is not None and principal.id_number == row.id_number
        at_my_post = (
            principal.is_staff
            and (principal.office is None or principal.office == row.office)
            and (READ_ROLE.get(row.stage) in principal.roles or "clerk.admin" in principal.roles)
        )
        if not (own_person or at_my_post):
            raise NotFound("registration")
    return case_view(row, now, full=at_my_post)


@router.put("/{case_id}", summary="Intake corrects a returned case and sends it to review again")
async def correct_case(
    case_id: str, body: CaseCorrection, request: Request, principal: IntakeClerk, ctx: CtxDep, uow: UowDep
) -> dict[str, Any]:
    async with uow:
        now = uow.now
        row = await _load_case(uow, case_id, principal, "clerk.intake")
        name = body.name.strip() if body.name else row.name
        scans = [s.model_dump() for s in body.scans] if body.scans is not None else row.scans
        domain.check_scans(row.category, (s["kind"] for s in scans))
    check = await _registry_check(ctx, row.id_number, name, row.category)
    async with uow:
        now = uow.now
        row = await _load_case(uow, case_id, principal, "clerk.intake")
        await uow.session.execute(
            update(registrations)
            .where(registrations.c.id == row.id)
            .values(
                name=name,
                phone=body.phone or row.phone,
                scans=scans,
                registry_check=check,
                stage="review",
                deadline=domain.review_deadline(now, ctx.calendar),
                history=_history(row, "review", principal.subject, now, "corrected"),
                updated_at=now,
            )
        )
        uow.audit(
            actor_from(request, principal, role="clerk.intake"),
            "registration_corrected",
            f"registration:{row.id}",
        )
        await uow.commit()
        row = (await uow.session.execute(select(registrations).where(registrations.c.id == row.id))).one()
    return case_view(row, now, full=True)


@router.post("/{case_id}/return", summary="Review returns the case to intake on a mismatch (ID-09)")
async def return_case(
    case_id: str, body: ReasonIn, request: Request, principal: ReviewClerk, uow: UowDep
) -> dict[str, Any]:
    async with uow:
        now = uow.now
        row = await _load_case(uow, case_id, principal, "clerk.review")
        await _review_moves(uow, row, principal, now, "intake", "return_reason", body.reason)
        uow.audit(
            actor_from(request, principal, role="clerk.review"),
            "registration_returned",
            f"registration:{row.id}",
            after={"reason": body.reason},
        )
        await uow.commit()
        row = (await uow.session.execute(select(registrations).where(registrations.c.id == row.id))).one()
    return case_view(row, now, full=True)


@router.post("/{case_id}/approve", summary="Review approves: the account is created, SMS by event (ID-09)")
async def approve_case(
    case_id: str, request: Request, principal: ReviewClerk, ctx: CtxDep, uow: UowDep
) -> dict[str, Any]:
    """Re-runs a registry check that intake could not make; creates the account (counter channel);
    publishes `identity.registration.approved.v1` (notify sends the account details) and, for a person,
    `identity.person.phone_changed.v1` (ID-06: the phone replaces the one on vehicle and licence records)."""
    async with uow:
        row = await _load_case(uow, case_id, principal, "clerk.review")
    check = row.registry_check
    if check != "passed":
        check = await _registry_check(ctx, row.id_number, row.name, row.category)
        if check != "passed":
            raise domain.RegistryCheckPending(
                "the population registry still cannot be reached; approve once it answers"
            )
    async with uow:
        now = uow.now
        row = await _load_case(uow, case_id, principal, "clerk.review")
        await _check_no_account(uow, "personal", row.id_number, None)
        account_id = await _create_account(uow, row, now)
        await uow.session.execute(
            update(registrations)
            .where(registrations.c.id == row.id)
            .values(
                stage="archive",
                account_id=account_id,
                registry_check=check,
                deadline=None,
                history=_history(row, "archive", principal.subject, now, "approved"),
                updated_at=now,
            )
        )
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
            actor_from(request, principal, role="clerk.review"),
            "registration_approved",
            f"registration:{row.id}",
            after={"account_id": str(account_id)},
        )
        await uow.commit()
        row = (await uow.session.execute(select(registrations).where(registrations.c.id == row.id))).one()
    return case_view(row, now, full=True)


@router.post("/{case_id}/reject", summary="Review rejects, with the reason sent by SMS (ID-09)")
async def reject_case(
    case_id: str, body: ReasonIn, request: Request, principal: ReviewClerk, uow: UowDep
) -> dict[str, Any]:
    async with uow:
        now = uow.now
        row = await _load_case(uow, case_id, principal, "clerk.review")
        await _review_moves(uow, row, principal, now, "rejected", "reject_reason", body.reason)
        uow.emit(
            RegistrationRejected(
                registration_id=str(row.id),
                name=row.name,
                phone=row.phone,
                reason=body.reason,
                rejected_at=now,
            )
        )
        uow.audit(
            actor_from(request, principal, role="clerk.review"),
            "registration_rejected",
            f"registration:{row.id}",
            after={"reason": body.reason},
        )
        await uow.commit()
        row = (await uow.session.execute(select(registrations).where(registrations.c.id == row.id))).one()
    return case_view(row, now, full=True)


@router.post("/{case_id}/archive", summary="Archive binds and files the originals (ID-09, ID-11, AR-01)")
async def archive_case(
    case_id: str, body: ArchiveIn, request: Request, principal: ArchiveClerk, uow: UowDep
) -> dict[str, Any]:
    async with uow:
        now = uow.now
        row = await _load_case(uow, case_id, principal, "clerk.archive")
        domain.check_originals(row.category, body.filed)
        await uow.session.execute(
            update(registrations)
            .where(registrations.c.id == row.id)
            .values(
                stage="filed",
                filed_items=sorted(set(body.filed)),
                history=_history(row, "filed", principal.subject, now, None),
                updated_at=now,
            )
        )
        uow.audit(
            actor_from(request, principal, role="clerk.archive"),
            "registration_filed",
            f"registration:{row.id}",
            after={"filed": sorted(set(body.filed))},
        )
        await uow.commit()
        row = (await uow.session.execute(select(registrations).where(registrations.c.id == row.id))).one()
    return case_view(row, now, full=True)
