"""`/api/v1/temp-plates`: temporary plates issued by car dealers on the police's behalf (VH-12).

The review post (clerk.review) grants, renews, suspends and cancels a dealer's qualification; the intake
post (clerk.intake) hands out blank plates in the dealer's quota and takes back damaged ones; the dealer
(role `dealer`) issues plates for the brands and models it is authorised to sell.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping

from servicekit.clock import SHANGHAI
from servicekit.ids import new_id
from servicekit.uow import UnitOfWork
from servicekit.validators import social_credit_code
from servicekit.web import Conflict, NotFound, Principal, UowDep, actor_from, require_roles
from vehicle_service import dealers, domain
from vehicle_service import published as ev
from vehicle_service.api.common import Input, Intake, OwnerIn, Phone, Vin
from vehicle_service.tables import temp_plate_collections, temp_plate_dealers, temp_plates

router = APIRouter(prefix="/api/v1/temp-plates", tags=["temp-plates"])

Reviewer = Annotated[Principal, Depends(require_roles("clerk.review"))]
Dealer = Annotated[Principal, Depends(require_roles("dealer"))]
Uscc = Annotated[str, AfterValidator(social_credit_code)]
Text100 = Annotated[str, Field(min_length=1, max_length=100)]


class DealerOut(BaseModel):
    id: uuid.UUID
    account_subject: str
    office_code: str
    uscc: str
    name: str
    authorised: list[str]
    quota: int
    state: str
    valid_from: date
    valid_until: date
    mismatch_count: int
    damaged_count: int
    damaged_outstanding: int
    explanation_required: bool
    state_reason: str | None
    blanks_in_stock: int = 0


async def _out(uow: UnitOfWork, row: RowMapping) -> DealerOut:
    data = {k: row[k] for k in DealerOut.model_fields if k not in ("explanation_required", "blanks_in_stock")}
    data["authorised"] = list(row["authorised"])
    return DealerOut.model_validate(
        data
        | {
            "explanation_required": row["mismatch_count"] >= domain.REPEATED
            or row["damaged_count"] >= domain.REPEATED,
            "blanks_in_stock": await dealers.stock(uow, row["id"]),
        }
    )


class QualificationIn(Input):
    account_subject: Text100
    uscc: Uscc
    name: Annotated[str, Field(min_length=1, max_length=200)]
    legal_rep_name: Text100
    legal_rep_phone: Phone
    authorised: Annotated[list[Text100], Field(min_length=1, max_length=200)]
    documents: dict[str, Annotated[str, Field(max_length=200)]]
    quota: Annotated[int, Field(ge=1, le=1000)]


@router.post("/dealers", status_code=201, response_model=DealerOut, summary="Grant a qualification")
async def qualify(body: QualificationIn, request: Request, uow: UowDep, principal: Reviewer) -> DealerOut:
    """VH-12: the review post checks the documents, that the dealer is not barred (a cancelled dealer waits
    one year), and records the dealer, its authorised brands/models and its blank quota (set from its
    sales); the qualification is valid one year."""
    domain.check_dealer_documents(body.documents)
    async with uow:
        existing = (
            await uow.session.execute(
                select(temp_plate_dealers.c.state, temp_plate_dealers.c.cancelled_at).where(
                    temp_plate_dealers.c.uscc == body.uscc
                )
            )
        ).all()
        if any(e.state in ("active", "suspended") for e in existing):
            raise Conflict("DEALER_ALREADY_QUALIFIED", "this unit holds a qualification", rule="VH-12")
        last_cancel = max((e.cancelled_at for e in existing if e.cancelled_at), default=None)
        domain.check_reapply_bar(last_cancel, uow.now)
        today = uow.now.astimezone(SHANGHAI).date()
        row = (
            (
                await uow.session.execute(
                    temp_plate_dealers.insert()
                    .values(
                        id=new_id(),
                        office_code=principal.office or "000000",
                        state="active",
                        valid_from=today,
                        valid_until=domain.qualification_until(today),
                        created_at=uow.now,
                        updated_at=uow.now,
                        **body.model_dump(),
                    )
                    .returning(temp_plate_dealers)
                )
            )
            .mappings()
            .one()
        )
        uow.emit(
            ev.DealerStateChanged(
                dealer_id=str(row["id"]),
                uscc=row["uscc"],
                name=row["name"],
                state="active",
                change="qualified",
                reason=None,
                valid_until=row["valid_until"],
                changed_at=uow.now,
            )
        )
        uow.audit(
            actor_from(request, principal),
            "temp_plate_dealer.qualified",
            f"dealer:{row['id']}",
            None,
            {"uscc": row["uscc"], "quota": row["quota"]},
        )
        out = await _out(uow, row)
        await uow.commit()
    return out


@router.get("/dealers/{dealer_id}", response_model=DealerOut, summary="A dealer's qualification")
async def get_dealer(
    dealer_id: uuid.UUID,
    uow: UowDep,
    principal: Annotated[
        Principal, Depends(require_roles("dealer", "clerk.review", "clerk.intake", "system"))
    ],
) -> DealerOut:
    async with uow:
        row = await dealers.load(uow, dealer_id, lock=False)
        if (
            "dealer" in principal.roles
            and not principal.is_staff
            and row["account_subject"] != principal.subject
        ):
            raise NotFound("dealer")
        return await _out(uow, row)


class RenewalIn(Input):
    documents: dict[str, Annotated[str, Field(max_length=200)]]
    authorised: Annotated[list[Text100], Field(min_length=1, max_length=200)] | None = None


@router.post("/dealers/{dealer_id}/renewal", response_model=DealerOut, summary="Yearly review")
async def renew(
    dealer_id: uuid.UUID, body: RenewalIn, request: Request, uow: UowDep, principal: Reviewer
) -> DealerOut:
    """VH-12: the yearly review, in the qualification's last month, with the documents again; passing it
    extends the qualification by a year."""
    domain.check_dealer_documents(body.documents)
    async with uow:
        row = await dealers.load(uow, dealer_id)
        domain.check_dealer_can_issue(row["state"], row["valid_until"], uow.now.astimezone(SHANGHAI).date())
        domain.check_renewal_window(row["valid_until"], uow.now.astimezone(SHANGHAI).date())
        values: dict[str, Any] = {
            "valid_until": domain.qualification_until(row["valid_until"] + timedelta(days=1)),
            "documents": body.documents,
        }
        if body.authorised:
            values["authorised"] = body.authorised
        after = await dealers.change(uow, actor_from(request, principal), row, "renewed", **values)
        out = await _out(uow, after)
        await uow.commit()
    return out


class QuotaIn(Input):
    quota: Annotated[int, Field(ge=1, le=1000)]
    basis: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="The sales figures the quota follows, e.g. 上月销售新车 120 辆"
    )


@router.put("/dealers/{dealer_id}/quota", response_model=DealerOut, summary="Set the blank quota")
async def set_quota(
    dealer_id: uuid.UUID, body: QuotaIn, request: Request, uow: UowDep, principal: Reviewer
) -> DealerOut:
    """VH-12: the office sets how many blanks a dealer collects at a time from its sales."""
    async with uow:
        row = await dealers.load(uow, dealer_id)
        after = (
            (
                await uow.session.execute(
                    update(temp_plate_dealers)
                    .where(temp_plate_dealers.c.id == dealer_id)
                    .values(quota=body.quota, updated_at=uow.now)
                    .returning(temp_plate_dealers)
                )
            )
            .mappings()
            .one()
        )
        uow.audit(
            actor_from(request, principal),
            "temp_plate_dealer.quota",
            f"dealer:{dealer_id}",
            {"quota": row["quota"]},
            {"quota": body.quota, "basis": body.basis},
        )
        out = await _out(uow, after)
        await uow.commit()
    return out


class CancellationIn(Input):
    reason: Literal["repeated_owner_mismatch", "repeated_damaged_blanks", "review_missed", "other"]
    note: Annotated[str, Field(max_length=300)] | None = None


@router.post("/dealers/{dealer_id}/cancellation", response_model=DealerOut, summary="Cancel a qualification")
async def cancel(
    dealer_id: uuid.UUID, body: CancellationIn, request: Request, uow: UowDep, principal: Reviewer
) -> DealerOut:
    """VH-12: repeated owner mismatches or damaged blanks without good reason cancel the qualification;
    the dealer may not apply again for a year."""
    async with uow:
        row = await dealers.load(uow, dealer_id)
        if row["state"] == "cancelled":
            raise Conflict("DEALER_ALREADY_CANCELLED", "the qualification is cancelled", rule="VH-12")
        after = await dealers.change(
            uow,
            actor_from(request, principal),
            row,
            "cancelled",
            reason=body.reason,
            state="cancelled",
            state_reason=body.note or body.reason,
            cancelled_at=uow.now,
        )
        out = await _out(uow, after)
        await uow.commit()
    return out


class CollectionIn(Input):
    quantity: Annotated[int, Field(ge=1, le=1000)]
    damaged_returned: Annotated[int, Field(ge=0)] = 0
    network_check: Literal["passed", "unavailable"] = "passed"


class CollectionOut(BaseModel):
    id: uuid.UUID
    dealer_id: uuid.UUID
    quantity: int
    damaged_returned: int
    check_state: str
    recalled: int


@router.post(
    "/dealers/{dealer_id}/collections",
    status_code=201,
    response_model=CollectionOut,
    summary="Hand out blank plates",
)
async def collect(
    dealer_id: uuid.UUID, body: CollectionIn, request: Request, uow: UowDep, principal: Intake
) -> CollectionOut:
    """VH-12: the intake post hands out blanks within the dealer's quota, after taking back (and
    destroying) every damaged blank reported since the last collection. When the network check cannot
    run, the blanks go out and the check is completed later (`/collections/{id}/check`)."""
    async with uow:
        row = await dealers.load(uow, dealer_id)
        domain.check_dealer_can_issue(row["state"], row["valid_until"], uow.now.astimezone(SHANGHAI).date())
        if body.quantity > row["quota"]:
            raise domain.QuotaExceeded(
                f"at most {row['quota']} blanks per collection", extra={"quota": row["quota"]}
            )
        if body.damaged_returned != row["damaged_outstanding"]:
            raise domain.DamagedCountWrong(
                f"{row['damaged_outstanding']} damaged blanks are due back",
                extra={"due": row["damaged_outstanding"]},
            )
        collection_id = new_id()
        await uow.session.execute(
            temp_plate_collections.insert().values(
                id=collection_id,
                dealer_id=dealer_id,
                quantity=body.quantity,
                damaged_returned=body.damaged_returned,
                check_state="passed" if body.network_check == "passed" else "pending",
                collected_at=uow.now,
                checked_at=uow.now if body.network_check == "passed" else None,
            )
        )
        await uow.session.execute(
            update(temp_plate_dealers)
            .where(temp_plate_dealers.c.id == dealer_id)
            .values(damaged_outstanding=0)
        )
        uow.audit(
            actor_from(request, principal),
            "temp_plate.blanks_collected",
            f"dealer:{dealer_id}",
            None,
            {
                "quantity": body.quantity,
                "damaged_destroyed": body.damaged_returned,
                "check": body.network_check,
            },
        )
        await uow.commit()
    return CollectionOut(
        id=collection_id,
        dealer_id=dealer_id,
        quantity=body.quantity,
        damaged_returned=body.damaged_returned,
        check_state="passed" if body.network_check == "passed" else "pending",
        recalled=0,
    )


class CheckIn(Input):
    passed: bool


@router.post("/collections/{collection_id}/check", response_model=CollectionOut, summary="Late network check")
async def late_check(
    collection_id: uuid.UUID, body: CheckIn, request: Request, uow: UowDep, principal: Intake
) -> CollectionOut:
    """VH-12: blanks handed out while the check was down are checked once the network is back; a failed
    check suspends the qualification and recalls the blanks not yet issued."""
    async with uow:
        row = (
            (
                await uow.session.execute(
                    select(temp_plate_collections)
                    .where(temp_plate_collections.c.id == collection_id)
                    .with_for_update()
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("collection")
        if row["check_state"] != "pending":
            raise Conflict("ALREADY_CHECKED", f"the collection's check {row['check_state']}", rule="VH-12")
        dealer = await dealers.load(uow, row["dealer_id"])
        recalled = 0
        actor = actor_from(request, principal)
        if not body.passed:
            recalled = max(0, min(row["quantity"], await dealers.stock(uow, dealer["id"])))
            if dealer["state"] == "active":
                await dealers.change(
                    uow,
                    actor,
                    dealer,
                    "suspended",
                    reason="late network check failed",
                    state="suspended",
                    state_reason="late network check failed",
                )
        await uow.session.execute(
            update(temp_plate_collections)
            .where(temp_plate_collections.c.id == collection_id)
            .values(check_state="passed" if body.passed else "failed", checked_at=uow.now, recalled=recalled)
        )
        uow.audit(
            actor,
            "temp_plate.collection_checked",
            f"collection:{collection_id}",
            None,
            {"passed": body.passed, "recalled": recalled},
        )
        await uow.commit()
    return CollectionOut(
        id=collection_id,
        dealer_id=row["dealer_id"],
        quantity=row["quantity"],
        damaged_returned=row["damaged_returned"],
        check_state="passed" if body.passed else "failed",
        recalled=recalled,
    )


async def _my_dealer(uow: UnitOfWork, principal: Principal) -> RowMapping:
    row = (
        (
            await uow.session.execute(
                select(temp_plate_dealers)
                .where(
                    temp_plate_dealers.c.account_subject == principal.subject,
                    temp_plate_dealers.c.state != "cancelled",
                )
                .with_for_update()
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise domain.DealerNotActive(
            "this account holds no temporary-plate qualification", extra={"state": "none"}
        )
    return row


class DamagedIn(Input):
    count: Annotated[int, Field(ge=1, le=100)]
    cause: Annotated[str, Field(min_length=1, max_length=200)]


@router.post("/damaged-blanks", response_model=DealerOut, summary="Report damaged blanks")
async def report_damaged(body: DamagedIn, request: Request, uow: UowDep, principal: Dealer) -> DealerOut:
    """VH-12: blanks spoiled by poor storage or a printing fault are kept and handed back at the next
    collection; repeated damage makes the review post ask for an explanation."""
    async with uow:
        dealer = await _my_dealer(uow, principal)
        if await dealers.stock(uow, dealer["id"]) < body.count:
            raise domain.NoBlanksLeft("more damaged blanks than blanks held")
        after = (
            (
                await uow.session.execute(
                    update(temp_plate_dealers)
                    .where(temp_plate_dealers.c.id == dealer["id"])
                    .values(
                        damaged_count=temp_plate_dealers.c.damaged_count + body.count,
                        damaged_outstanding=temp_plate_dealers.c.damaged_outstanding + body.count,
                    )
                    .returning(temp_plate_dealers)
                )
            )
            .mappings()
            .one()
        )
        uow.audit(
            actor_from(request, principal),
            "temp_plate.blanks_damaged",
            f"dealer:{dealer['id']}",
            None,
            {"count": body.count, "cause": body.cause},
        )
        out = await _out(uow, after)
        await uow.commit()
    return out


class IssueIn(Input):
    vin: Vin
    brand: Annotated[str, Field(min_length=1, max_length=60)]
    model: Annotated[str, Field(min_length=1, max_length=60)]
    owner: OwnerIn
    phone: Phone


class TempPlateOut(BaseModel):
    id: uuid.UUID
    dealer_id: uuid.UUID
    number: str
    vin: str
    brand: str
    model: str
    valid_until: date
    issued_at: datetime
    state: str


@router.post("", status_code=201, response_model=TempPlateOut, summary="Issue a temporary plate")
async def issue(body: IssueIn, request: Request, uow: UowDep, principal: Dealer) -> TempPlateOut:
    """VH-12: an active, unexpired dealer issues a plate from its blanks, only for a brand/model it is
    authorised to sell, for a car that will be registered."""
    async with uow:
        dealer = await _my_dealer(uow, principal)
        today = uow.now.astimezone(SHANGHAI).date()
        domain.check_dealer_can_issue(dealer["state"], dealer["valid_until"], today)
        if not domain.is_authorised(dealer["authorised"], body.brand, body.model):
            raise domain.BrandNotAuthorised(
                f"{body.brand} {body.model} is outside the dealer's authorisation"
            )
        if await dealers.stock(uow, dealer["id"]) < 1:
            raise domain.NoBlanksLeft("no blank temporary plates left; collect more at the office")
        plate_id = new_id()
        number = f"{dealer['office_code'][:2]}T{secrets.randbelow(10**8):08d}"
        valid_until = today + timedelta(days=domain.TEMP_PLATE_DAYS - 1)
        await uow.session.execute(
            temp_plates.insert().values(
                id=plate_id,
                dealer_id=dealer["id"],
                number=number,
                vin=body.vin,
                brand=body.brand,
                model=body.model,
                owner_id_kind=body.owner.id_kind,
                owner_id_number=body.owner.id_number,
                owner_name=body.owner.name,
                phone=body.phone,
                issued_at=uow.now,
                valid_until=valid_until,
                state="issued",
            )
        )
        uow.emit(
            ev.TempPlateIssued(
                temp_plate_id=str(plate_id),
                dealer_id=str(dealer["id"]),
                number=number,
                vin=body.vin,
                brand=body.brand,
                model=body.model,
                owner=ev.OwnerRef(
                    id_kind=body.owner.id_kind, id_number=body.owner.id_number, name=body.owner.name
                ),
                valid_until=valid_until,
                issued_at=uow.now,
            )
        )
        uow.audit(
            actor_from(request, principal),
            "temp_plate.issued",
            f"temp_plate:{plate_id}",
            None,
            {"vin": body.vin, "number": number},
        )
        await uow.commit()
    return TempPlateOut(
        id=plate_id,
        dealer_id=dealer["id"],
        number=number,
        vin=body.vin,
        brand=body.brand,
        model=body.model,
        valid_until=valid_until,
        issued_at=uow.now,
        state="issued",
    )
