"""`/api/v1/temp-plates`: temporary plates issued by car dealers on the police's behalf (VH-12).

The review post (clerk.review) grants, renews, suspends and cancels a dealer's qualification; the intake
post (clerk.intake) hands out blank plates in the dealer's quota and takes back damaged ones; the dealer
(role `dealer`) issues plates for the brands and models it is authorised to sell. The use cases are in
`qualifications.py` and `temp_plates.py`; this module parses, calls and shapes.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import AfterValidator, BaseModel, Field

from servicekit.uow import committed
from servicekit.validators import social_credit_code
from servicekit.web import Principal, UowDep, actor_from, require_roles
from vehicle_service import domain, qualifications
from vehicle_service import temp_plates as cases
from vehicle_service.api.common import Input, Intake, OwnerIn, Phone, Vin

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


def _out(row: dict[str, Any]) -> DealerOut:
    data = {k: row[k] for k in DealerOut.model_fields if k != "explanation_required"}
    data["authorised"] = list(row["authorised"])
    repeated = row["mismatch_count"] >= domain.REPEATED or row["damaged_count"] >= domain.REPEATED
    return DealerOut.model_validate(data | {"explanation_required": repeated})


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
    sales); the qualification is valid one year. One live qualification per unit."""
    return _out(
        await committed(
            uow, qualifications.qualify, actor_from(request, principal), principal.office, body.model_dump()
        )
    )


@router.get("/dealers/{dealer_id}", response_model=DealerOut, summary="A dealer's qualification")
async def get_dealer(
    dealer_id: uuid.UUID,
    uow: UowDep,
    principal: Annotated[
        Principal, Depends(require_roles("dealer", "clerk.review", "clerk.intake", "system"))
    ],
) -> DealerOut:
    return _out(await committed(uow, qualifications.dealer, principal, dealer_id))


class RenewalIn(Input):
    documents: dict[str, Annotated[str, Field(max_length=200)]]
    authorised: Annotated[list[Text100], Field(min_length=1, max_length=200)] | None = None


@router.post("/dealers/{dealer_id}/renewal", response_model=DealerOut, summary="Yearly review")
async def renew(
    dealer_id: uuid.UUID, body: RenewalIn, request: Request, uow: UowDep, principal: Reviewer
) -> DealerOut:
    """VH-12: the yearly review, in the qualification's last month, with the documents again; passing it
    extends the qualification by a year."""
    actor = actor_from(request, principal)
    return _out(await committed(uow, qualifications.renew, actor, dealer_id, body.documents, body.authorised))


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
    actor = actor_from(request, principal)
    return _out(await committed(uow, qualifications.set_quota, actor, dealer_id, body.quota, body.basis))


class CancellationIn(Input):
    reason: Literal["repeated_owner_mismatch", "repeated_damaged_blanks", "review_missed", "other"]
    note: Annotated[str, Field(max_length=300)] | None = None


@router.post("/dealers/{dealer_id}/cancellation", response_model=DealerOut, summary="Cancel a qualification")
async def cancel(
    dealer_id: uuid.UUID, body: CancellationIn, request: Request, uow: UowDep, principal: Reviewer
) -> DealerOut:
    """VH-12: repeated owner mismatches or damaged blanks without good reason cancel the qualification;
    the dealer may not apply again for a year."""
    actor = actor_from(request, principal)
    return _out(await committed(uow, qualifications.cancel, actor, dealer_id, body.reason, body.note))


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
    checked = body.network_check == "passed"
    actor = actor_from(request, principal)
    done = await committed(
        uow, cases.collect, actor, dealer_id, body.quantity, body.damaged_returned, checked
    )
    return CollectionOut.model_validate(done, from_attributes=True)


class CheckIn(Input):
    passed: bool


@router.post("/collections/{collection_id}/check", response_model=CollectionOut, summary="Late network check")
async def late_check(
    collection_id: uuid.UUID, body: CheckIn, request: Request, uow: UowDep, principal: Intake
) -> CollectionOut:
    """VH-12: blanks handed out while the check was down are checked once the network is back; a failed
    check suspends the qualification and recalls the blanks not yet issued."""
    done = await committed(uow, cases.late_check, actor_from(request, principal), collection_id, body.passed)
    return CollectionOut.model_validate(done, from_attributes=True)


class DamagedIn(Input):
    count: Annotated[int, Field(ge=1, le=100)]
    cause: Annotated[str, Field(min_length=1, max_length=200)]


@router.post("/damaged-blanks", response_model=DealerOut, summary="Report damaged blanks")
async def report_damaged(body: DamagedIn, request: Request, uow: UowDep, principal: Dealer) -> DealerOut:
    """VH-12: blanks spoiled by poor storage or a printing fault are kept and handed back at the next
    collection; repeated damage makes the review post ask for an explanation."""
    actor = actor_from(request, principal)
    return _out(await committed(uow, cases.report_damaged, principal, actor, body.count, body.cause))


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
    owner = domain.Owner(body.owner.id_kind, body.owner.id_number, body.owner.name)
    car = cases.Car(vin=body.vin, brand=body.brand, model=body.model, owner=owner, phone=body.phone)
    row = await committed(uow, cases.issue, principal, actor_from(request, principal), car)
    return TempPlateOut.model_validate({k: row[k] for k in TempPlateOut.model_fields})
