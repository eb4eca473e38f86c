"""Account life (ID-12, ID-16): password, details, suspension and reactivation, self-service and forced
cancellation."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import select, update

from identity_service import domain
from identity_service.api.auth import (
    _username_filter,
    caller_ip,
    count_wrong_password,
    invalid_credentials,
    refuse_if_locked,
)
from identity_service.api.common import USER_WRITE_LIMIT, AccountOut, CtxDep, account_view, load_account
from identity_service.lifecycle import cancel_account
from identity_service.published import CounterChangeApproved
from identity_service.staff_signin import password_changed_at, spend_all
from identity_service.tables import accounts
from identity_service.tokens import hash_password, revoke_all, verify_password
from servicekit.clock import SHANGHAI
from servicekit.crypto import blind_match, with_blind
from servicekit.ids import new_id
from servicekit.validators import mobile_phone
from servicekit.web import CurrentPrincipal, NotFound, Principal, Problem, UowDep, actor_from, require_roles
from servicekit.web.limits import enforce_limit, per_user_limit
from servicekit.web.openapi_problems import declared

router = APIRouter(prefix="/api/v1/users", tags=["account"])

Phone = Annotated[str, AfterValidator(mobile_phone)]
Password = Annotated[str, Field(min_length=1, max_length=128)]
Canceller = Annotated[Principal, Depends(require_roles("clerk.admin", "clerk.intake", "system"))]


class PasswordChange(BaseModel):
    old_password: Password
    new_password: Password


class DetailsChange(BaseModel):
    email: Annotated[str, Field(max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    phone: Phone | None = None
    sms_code: Annotated[str, Field(min_length=4, max_length=10)] | None = None  # sent to the new phone


class PasswordConfirm(BaseModel):
    password: Password


class Reactivation(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    phone: Phone = Field(description="the account's registered phone, the one the code was sent to")
    password: Password
    sms_code: Annotated[str, Field(min_length=4, max_length=10)]


class ForcedCancellation(BaseModel):
    reason: Literal["deceased", "unit_dissolved", "false_registration_data", "counter_request"]


@router.put(
    "/me/password",
    status_code=204,
    summary="Change the password (ID-12)",
    dependencies=[Depends(per_user_limit(USER_WRITE_LIMIT, "password"))],
)
async def change_password(
    body: PasswordChange, request: Request, principal: CurrentPrincipal, uow: UowDep
) -> Response:
    domain.check_password_strength(body.new_password)
    async with uow:
        now = uow.now
        row = await load_account(uow.session, principal.subject, lock=True)
        if not verify_password(row.password_hash, body.old_password):
            raise domain.WrongPassword("the current password is wrong")
        await uow.session.execute(
            update(accounts)
            .where(accounts.c.id == row.id)
            .values(password_hash=hash_password(body.new_password), password_changed_at=now, updated_at=now)
        )
        await revoke_all(uow, row.id)  # every session signs in again (ADR 0082)
        uow.audit(actor_from(request, principal), "password_changed", f"account:{row.id}")
        await uow.commit()
    return Response(status_code=204)


@router.patch(
    "/me",
    summary="Change own contact details (ID-12)",
    dependencies=[Depends(per_user_limit(USER_WRITE_LIMIT, "details"))],
)
async def change_details(
    body: DetailsChange, request: Request, principal: CurrentPrincipal, ctx: CtxDep, uow: UowDep
) -> AccountOut:
    """The e-mail, or the phone with a code sent to the new phone (purpose `change_phone`)."""
    if body.phone is not None:
        if body.sms_code is None:
            raise domain.SmsCodeRequired("a new phone needs the code sent to it")
        await ctx.codes.verify(body.phone, "change_phone", body.sms_code)
    async with uow:
        now = uow.now
        row = await load_account(uow.session, principal.subject, lock=True)
        values: dict[str, Any] = {"updated_at": now}
        if body.email is not None:
            values["email"] = body.email
        if body.phone is not None:
            values["phone"] = body.phone
        await uow.session.execute(
            update(accounts).where(accounts.c.id == row.id).values(**with_blind(accounts, values))
        )
        uow.audit(
            actor_from(request, principal),
            "details_changed",
            f"account:{row.id}",
            before={"email": row.email, "phone": row.phone},
            after={k: v for k, v in values.items() if k != "updated_at"},
        )
        await uow.commit()
        row = await load_account(uow.session, row.id)
    return account_view(row)


@router.post("/me/suspension", status_code=204, summary="Suspend the own account (ID-12)")
async def suspend(
    body: PasswordConfirm, request: Request, principal: CurrentPrincipal, uow: UowDep
) -> Response:
    async with uow:
        now = uow.now
        row = await load_account(uow.session, principal.subject, lock=True)
        if not verify_password(row.password_hash, body.password):
            raise domain.WrongPassword("the password is wrong")
        await uow.session.execute(
            update(accounts).where(accounts.c.id == row.id).values(status="suspended", updated_at=now)
        )
        await revoke_all(uow, row.id)
        uow.audit(actor_from(request, principal), "suspended", f"account:{row.id}")
        await uow.commit()
    return Response(status_code=204)


@router.post(
    "/reactivation",
    summary="Reactivate a suspended account with the SMS code and the password (ID-12)",
    responses=declared(
        {
            401: "INVALID_CREDENTIALS: an unknown account, another phone's, a wrong password",
            429: "RATE_LIMITED: per client address, account or phone",
        }
    ),
)
async def reactivate(body: Reactivation, request: Request, ctx: CtxDep, uow: UowDep) -> AccountOut:
    """ID-12, ADR 0081: the code sent to `phone` (purpose `reactivate`) is checked first, its tries counted
    as every NT-02 code's; only then the account (named by `username`, registered with that phone) and its
    password, a wrong one counting toward the sign-in lockout. Until both are proved the answer says
    nothing of the account: unknown, another phone's or a wrong password are one 401."""
    settings = ctx.settings
    await enforce_limit(request, settings.reactivation_rate_per_ip, "reactivation", "ip", caller_ip(request))
    # Per account: the phone a reactivation of that account must name, whatever form the username takes.
    phone = body.phone  # canonical (the validator)
    await enforce_limit(request, settings.reactivation_rate_per_account, "reactivation", "phone", phone)
    await ctx.codes.verify(phone, "reactivate", body.sms_code)
    async with uow:
        now = uow.now
        rows = (
            await uow.session.execute(
                select(accounts)
                .where(_username_filter(body.username), blind_match(accounts.c.phone, phone))
                .with_for_update()
            )
        ).all()
        if len(rows) != 1:
            verify_password(None, body.password)  # the same cost as a real check
            raise invalid_credentials()
        row = rows[0]
        refuse_if_locked(row, now)
        if not verify_password(row.password_hash, body.password):
            await count_wrong_password(uow, request, row, settings, "reactivation_failed")
            raise invalid_credentials()
        if row.status != "suspended":
            raise domain.NotSuspended("the account is not suspended")
        await uow.session.execute(
            update(accounts)
            .where(accounts.c.id == row.id)
            .values(status="active", failed_logins=0, locked_until=None, updated_at=now)
        )
        uow.audit(actor_from(request, None), "reactivated", f"account:{row.id}")
        await uow.commit()
        row = await load_account(uow.session, row.id)
    return account_view(row)


@router.post("/me/cancellation", status_code=204, summary="Self-service cancellation (ID-16)")
async def cancel_own(
    body: PasswordConfirm, request: Request, principal: CurrentPrincipal, uow: UowDep
) -> Response:
    async with uow:
        row = await load_account(uow.session, principal.subject, lock=True)
        if not verify_password(row.password_hash, body.password):
            raise domain.WrongPassword("the password is wrong")
        await cancel_account(uow, row.id, "self_service", actor_from(request, principal))
        await uow.commit()
    return Response(status_code=204)


@router.post("/{account_id}/cancellation", status_code=204, summary="Forced or counter cancellation (ID-16)")
async def cancel_by_force(
    account_id: str, body: ForcedCancellation, request: Request, principal: Canceller, uow: UowDep
) -> Response:
    """ID-16: a dead person or dissolved unit, false registration data (clerk.admin or a `system` client),
    or the user's request at a counter (clerk.intake). Person and unit accounts only (ADR 0080): a staff
    account or a system client is answered as absent (404)."""
    if body.reason == "counter_request" and "clerk.intake" not in principal.roles:
        raise Problem(403, "FORBIDDEN", "a counter request is taken by the intake post")
    if body.reason != "counter_request" and principal.roles.isdisjoint({"clerk.admin", "system"}):
        raise Problem(403, "FORBIDDEN", "forced cancellation is for clerk.admin or a system client")
    async with uow:
        row = await load_account(uow.session, account_id, lock=True)
        if not domain.may_cancel_by_force(principal.roles, row.category):
            raise NotFound("account")
        await cancel_account(uow, row.id, body.reason, actor_from(request, principal))
        await uow.commit()
    return Response(status_code=204)


StaffAdmin = Annotated[Principal, Depends(require_roles(domain.STAFF_ADMIN_ROLE))]


class StaffOut(BaseModel):
    """A staff account as its office's admin sees it: whether its second factor is enrolled and when its
    password expires (ADR 0091, 0092). No secret, no identity number."""

    id: str
    username: str
    name: str
    roles: list[str]
    status: str
    second_factor_enrolled: bool
    password_expires_at: str


@router.get("/staff", summary="The staff accounts of the admin's office (ADR 0091)")
async def list_staff(principal: StaffAdmin, ctx: CtxDep, uow: UowDep) -> list[StaffOut]:
    """What recovery needs: who of the office is enrolled, whose password runs out when."""
    max_age = timedelta(days=ctx.settings.staff_password_max_age_days)
    c = accounts.c  # not the secret: a list has no reason to open it
    query = (
        select(
            c.id,
            c.username,
            c.name,
            c.roles,
            c.status,
            c.totp_enrolled_at,
            c.password_changed_at,
            c.created_at,
        )
        .where(
            accounts.c.category == "staff",
            accounts.c.office == principal.office,
            accounts.c.status != "cancelled",
        )
        .order_by(accounts.c.username)
        .limit(500)  # an office's staff; a city has a few hundred at most
    )
    async with uow:
        rows = (await uow.session.execute(query)).all()
    return [
        StaffOut(
            id=str(row.id),
            username=row.username or "",
            name=row.name,
            roles=sorted(row.roles),
            status=row.status,
            second_factor_enrolled=row.totp_enrolled_at is not None,
            password_expires_at=(password_changed_at(row) + max_age).astimezone(SHANGHAI).isoformat(),
        )
        for row in rows
    ]


@router.delete(
    "/{account_id}/second-factor",
    status_code=204,
    summary="Reset a staff member's second factor: they enrol again at their next sign-in (ADR 0091)",
    responses=declared(
        {
            403: "FORBIDDEN: not clerk.admin; SELF_RESET_REFUSED: one's own second factor",
            404: "NOT_FOUND: no staff account of the admin's office",
        }
    ),
)
async def reset_second_factor(
    account_id: str, request: Request, principal: StaffAdmin, uow: UowDep
) -> Response:
    """Recovery of a lost authenticator: a clerk.admin of the same office clears the secret. The staff
    member's sessions and pending sign-in steps end with it; the next sign-in enrols again."""
    async with uow:
        row = await load_account(uow.session, account_id, lock=True)
        reachable = domain.may_reset_second_factor(
            caller_id=principal.subject,
            caller_roles=principal.roles,
            caller_office=principal.office,
            target_id=str(row.id),
            target_category=row.category,
            target_office=row.office,
        )
        if not reachable:
            raise NotFound("account")
        await uow.session.execute(
            update(accounts)
            .where(accounts.c.id == row.id)
            .values(totp_secret=None, totp_last_step=None, totp_enrolled_at=None, updated_at=uow.now)
        )
        await spend_all(uow, row.id)
        await revoke_all(uow, row.id)
        uow.audit(
            actor_from(request, principal),
            "second_factor_reset",
            f"account:{row.id}",
            before={"enrolled": row.totp_secret is not None},
            after={"enrolled": False},
        )
        await uow.commit()
    return Response(status_code=204)


class UnitChange(BaseModel):
    """ID-13: the items of a unit's change form, taken at the counter."""

    unit_name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    mailing_address: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    postcode: Annotated[str, Field(pattern=r"^\d{6}$")] | None = None
    legal_representative_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    legal_representative_phone: Phone | None = None
    agent_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    agent_id_number: Annotated[str, Field(min_length=15, max_length=18)] | None = None
    phone: Phone | None = None
    email: Annotated[str, Field(max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None


# ID-13: the change items as the unit change form names them (what the SMS lists, NT-01).
UNIT_CHANGE_ITEMS = {
    "unit_name": "单位名称",
    "mailing_address": "邮寄地址",
    "postcode": "邮政编码",
    "legal_representative_name": "法定代表人姓名",
    "legal_representative_phone": "法定代表人手机号码",
    "agent_name": "代理人姓名",
    "agent_id_number": "代理人身份证明号码",
    "phone": "手机号码",
    "email": "电子信箱",
}
IntakeClerk = Annotated[Principal, Depends(require_roles("clerk.intake"))]
units_router = APIRouter(prefix="/api/v1/units", tags=["account"])


@units_router.patch("/{account_id}", summary="Counter change of a unit's registration (ID-13)")
async def change_unit(
    account_id: str, body: UnitChange, request: Request, principal: IntakeClerk, uow: UowDep
) -> AccountOut:
    """ID-13: a unit change whose unit or agent details differ from the registration updates it."""
    changes = body.model_dump(exclude_none=True)
    async with uow:
        now = uow.now
        row = await load_account(uow.session, account_id, lock=True)
        if row.category != "unit":
            raise NotFound("unit")
        details = dict(row.details or {})
        before = {k: details.get(k) for k in changes}
        values: dict[str, Any] = {"updated_at": now}
        for key, value in changes.items():
            if key == "unit_name":
                values["name"] = value
            elif key == "phone":
                values["phone"] = value
            elif key == "email":
                values["email"] = value
            elif key == "agent_id_number":
                values["id_number"] = value
            details[key] = value
        values["details"] = details
        await uow.session.execute(
            update(accounts).where(accounts.c.id == row.id).values(**with_blind(accounts, values))
        )
        phone = values.get("phone", row.phone)
        if changes and phone:
            uow.emit(  # ID-13, NT-01: the unit change applied is told to the unit's (new) phone
                CounterChangeApproved(
                    change_id=str(new_id()),
                    account_id=str(row.id),
                    change_kind="details",
                    items="、".join(UNIT_CHANGE_ITEMS[key] for key in changes),
                    name=values.get("name", row.name),
                    phone=phone,
                    approved_at=now,
                )
            )
        uow.audit(
            actor_from(request, principal, role="clerk.intake"),
            "unit_changed",
            f"account:{row.id}",
            before=before,
            after=changes,
        )
        await uow.commit()
        row = await load_account(uow.session, row.id)
    return account_view(row)
