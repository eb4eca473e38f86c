"""`/api/v1/users/*`: online registration (ID-01 to ID-05), the caller's account and capabilities (ID-07)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from identity_service import domain
from identity_service.api.auth import caller_ip
from identity_service.api.common import AccountOut, CtxDep, account_view, load_account
from identity_service.records import records_of
from identity_service.tables import accounts
from identity_service.tokens import hash_password
from servicekit.crypto import blind_match
from servicekit.ids import new_id
from servicekit.validators import mobile_phone, resident_id
from servicekit.web import CurrentPrincipal, IdempotencyKeyHeader, UowDep, actor_from, idempotent
from servicekit.web.limits import enforce_limit
from servicekit.web.openapi_problems import declared

router = APIRouter(prefix="/api/v1/users", tags=["users"])

Phone = Annotated[str, AfterValidator(mobile_phone)]
IdNumber = Annotated[str, AfterValidator(lambda v: resident_id(v, field="id_number"))]
Name = Annotated[str, Field(min_length=1, max_length=100)]


class RegistrationIn(BaseModel):
    kind: str = Field(
        description="owner_driver | learner | new_car_owner (ID-01); units register at a counter"
    )
    id_kind: Literal["resident_id"] = "resident_id"
    id_number: IdNumber
    name: Name
    phone: Phone
    password: Annotated[str, Field(min_length=1, max_length=128)]
    sms_code: Annotated[str, Field(min_length=4, max_length=10)]


@router.post(
    "",
    status_code=201,
    response_model=AccountOut,
    summary="Register online (ID-01 to ID-05)",
    responses=declared({429: "RATE_LIMITED: per client address, account or phone"}),
)
async def register(
    body: RegistrationIn,
    request: Request,
    ctx: CtxDep,
    uow: UowDep,
    _key: IdempotencyKeyHeader = None,
) -> Any:
    # ADR 0081: per client address, phone and identity number, before the idempotency layer (which would
    # keep a 429 as the key's answer).
    settings = ctx.settings
    await enforce_limit(request, settings.registration_rate_per_ip, "register", "ip", caller_ip(request))
    await enforce_limit(request, settings.registration_rate_per_phone, "register", "phone", body.phone)
    # The identity number is keyed under the service's secret: Redis holds no identity numbers.
    id_key = hmac.new(
        settings.secret_key.get_secret_value().encode(), body.id_number.encode(), hashlib.sha256
    ).hexdigest()
    await enforce_limit(request, settings.registration_rate_per_id_number, "register", "id_number", id_key)
    return await idempotent(
        request, f"register:{body.phone}", lambda: _register(body, request, ctx, uow), status_code=201
    )


async def _register(body: RegistrationIn, request: Request, ctx: CtxDep, uow: UowDep) -> AccountOut:
    """ID-01 the three personal kinds; ID-02 units only at a counter, and the identity checked against the
    population registry; ID-03 owner/driver: a vehicle or licence with this phone; ID-04 learner: an
    accepted licence application; ID-05 new-car owner (its deadlines run from now).

    ADR 0081: only the checks of the request itself come before the phone's SMS code; the registry, the
    accounts and the person's records are consulted once the caller proved the phone, so the code is
    used up by a refusal after it (a new one is a minute away, NT-02)."""
    if body.kind in domain.UNIT_KINDS or body.kind == "unit":
        raise domain.UnitOnlineRegistration("units register at a vehicle registration office counter")
    if body.kind not in domain.PERSONAL_KINDS:
        raise domain.UnknownAccountKind("kind must be one of owner_driver, learner, new_car_owner")
    domain.check_password_strength(body.password)
    await ctx.codes.verify(body.phone, "register", body.sms_code)
    person = await ctx.registry.lookup(body.id_number)
    domain.check_registry_match(person, body.id_number, body.name)
    async with uow:
        existing = await uow.session.execute(
            select(accounts.c.id).where(
                accounts.c.category == "personal",
                blind_match(accounts.c.id_number, body.id_number),
                accounts.c.status != "cancelled",
            )
        )
        if existing.first() is not None:
            raise domain.AccountExists("an account is already registered for this identity number")
        domain.check_online_eligibility(body.kind, body.phone, await records_of(uow.session, body.id_number))
    password_hash = hash_password(body.password)
    async with uow:
        now = uow.now
        account_id = new_id()
        values = {
            "id": account_id,
            "category": "personal",
            "kind": body.kind,
            "channel": "online",
            "id_kind": body.id_kind,
            "id_number": body.id_number,
            "name": body.name.strip(),
            "phone": body.phone,
            "password_hash": password_hash,
            "roles": domain.roles_for("personal"),
            "office": ctx.settings.office_code,
            "status": "active",
            "created_at": now,
            "updated_at": now,
        }
        try:
            await uow.session.execute(accounts.insert().values(**values))
            uow.audit(
                actor_from(request, None),
                "register_online",
                f"account:{account_id}",
                after={"kind": body.kind, "channel": "online"},
            )
            await uow.commit()
        except IntegrityError:
            raise domain.AccountExists("an account is already registered for this identity number") from None
        row = await load_account(uow.session, account_id)
    return account_view(row)


@router.get("/me", summary="The caller's account and capabilities (ID-07)")
async def me(principal: CurrentPrincipal, uow: UowDep) -> AccountOut:
    async with uow:
        row = await load_account(uow.session, principal.subject)
    return account_view(row)
