"""`/api/v1/licences`: the licence records (DL-01) other police systems issue, correct and move (DL-13
cancellation among them), the clerks' search and the holder's own licence. The use cases are in
`licences.py`; the bulk import is `api/imports.py`.

The licence number is the holder's identity number: it travels in bodies, never in a path, and a list shows
it masked. A search by number takes it as a query parameter, which the gateway's access log leaves out and
the service's masks.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy.engine import RowMapping

from license_service import licences as cases
from license_service.api.common import ClerkOrSystem, Input, OfficeCode, Personal, Phone, Reader, SystemOnly
from license_service.domain import LicenceClass, LicenceState, PoliceAction
from license_service.records import Facts
from servicekit.masking import mask_id_number, mask_phone
from servicekit.pagination import InvalidCursor, Page, clamp_limit, decode_cursor, encode_cursor
from servicekit.uow import committed
from servicekit.validators import birth_date_of, resident_id
from servicekit.web import IdempotencyKeyHeader, Unprocessable, UowDep, actor_from, idempotent

router = APIRouter(prefix="/api/v1/licences", tags=["licences"])


def _number(value: str) -> str:
    return resident_id(value, field="number")


LicenceNumber = Annotated[
    str,
    Field(min_length=15, max_length=32, description="the holder's resident identity number"),
    AfterValidator(_number),
]
Plain = r"^[^\x00]*$"  # PostgreSQL keeps no NUL in text


class LicenceIn(Input):
    """DL-01: the record as the police system holds it. The holder's birth date is read from the number."""

    number: LicenceNumber
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=Plain)]
    classes: Annotated[list[LicenceClass], Field(min_length=1, max_length=17, description="准驾车型")]
    first_issue: date
    valid_from: date
    valid_until: date
    office_code: OfficeCode
    file_number: Annotated[str, Field(pattern=r"^\d{12}$", description="档案编号")] | None = None
    review_due: date | None = Field(default=None, description="审验日期")
    medical_due: date | None = Field(default=None, description="提交身体条件证明日期")
    phone: Phone | None = None

    def facts(self) -> Facts:
        return Facts(
            number=self.number,
            name=self.name,
            birth_date=birth_date_of(self.number),
            classes=frozenset(self.classes),
            first_issue=self.first_issue,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            office_code=self.office_code,
            file_number=self.file_number,
            review_due=self.review_due,
            medical_due=self.medical_due,
            phone=self.phone,
        )


class StateChangeIn(Input):
    action: PoliceAction = Field(description="suspend (暂扣), restore, revoke (吊销), cancel (注销, DL-13)")
    reason: Annotated[str, Field(min_length=1, max_length=500, pattern=Plain)]


class LicenceOut(BaseModel):
    id: uuid.UUID
    number: str
    file_number: str | None
    name: str
    birth_date: date
    classes: list[LicenceClass]
    first_issue: date
    valid_from: date
    valid_until: date
    review_due: date | None
    medical_due: date | None
    photo_document_id: str | None = Field(description="identity's id of the approved licence photo (DL-05)")
    photo_valid_until: date | None
    state: LicenceState
    points: int
    phone: str | None
    office_code: str
    created_at: datetime
    updated_at: datetime
    version: int


def licence_out(row: RowMapping | dict[str, Any], *, masked: bool = False) -> LicenceOut:
    data = {key: row[key] for key in LicenceOut.model_fields}
    data["classes"] = list(data["classes"])
    if masked:
        data["number"] = mask_id_number(data["number"])
        data["phone"] = mask_phone(data["phone"]) if data["phone"] else None
    return LicenceOut.model_validate(data)


# --- reading -------------------------------------------------------------------------------------------


@router.get("", response_model=Page[LicenceOut], summary="Search licences by number or file number")
async def search_licences(
    uow: UowDep,
    principal: ClerkOrSystem,
    number: Annotated[str | None, Query(max_length=32, pattern=Plain)] = None,
    file_number: Annotated[str | None, Query(max_length=12, pattern=Plain)] = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Page[LicenceOut]:
    """DL-01: a clerk (their office's records) or a system client finds a licence by its number (the
    holder's identity number) or its file number (档案编号). Numbers and phones are masked in the list."""
    if not (number or file_number):
        raise Unprocessable("SEARCH_NEEDS_A_KEY", "give number or file_number")
    size = clamp_limit(limit)
    after = None
    if cursor:
        try:
            after = uuid.UUID(str(decode_cursor(cursor)["id"]))
        except (InvalidCursor, KeyError, ValueError):
            raise Unprocessable("INVALID_CURSOR", "the cursor is not one of ours") from None
    rows = await committed(
        uow, cases.search, principal, number=number, file_number=file_number, after=after, limit=size + 1
    )
    items = [licence_out(row, masked=True) for row in rows[:size]]
    next_cursor = encode_cursor({"id": str(rows[size - 1]["id"])}) if len(rows) > size else None
    return Page(items=items, next_cursor=next_cursor)


@router.get("/mine", response_model=LicenceOut, summary="The caller's own licence")
async def my_licence(uow: UowDep, principal: Personal) -> LicenceOut:
    """DL-01: the holder reads their licence, found by the identity number in their token; 404 when none
    is recorded for them."""
    return licence_out(await committed(uow, cases.mine, principal))


@router.get("/{record_id}", response_model=LicenceOut, summary="One licence record")
async def get_licence(record_id: uuid.UUID, uow: UowDep, principal: Reader) -> LicenceOut:
    """DL-01: its holder, a clerk of its office or a system client; anyone else gets 404."""
    return licence_out(await committed(uow, cases.record_for, principal, record_id))


# --- what other police systems do ---------------------------------------------------------------------


@router.post("", status_code=201, response_model=LicenceOut, summary="Issue a licence record (system)")
async def issue_licence(
    request: Request,
    body: LicenceIn,
    uow: UowDep,
    principal: SystemOnly,
    _key: IdempotencyKeyHeader = None,
) -> object:
    """DL-01: a police system issues a licence; published as `license.record.issued.v1` (identity turns a
    learner or new-car owner into a driver user, ID-07). A number already on the platform is refused with
    409 LICENCE_EXISTS and the record's id, to be corrected with PUT instead."""
    actor = actor_from(request, principal)

    async def run() -> LicenceOut:
        return licence_out(await committed(uow, cases.issue, actor, body.facts()))

    return await idempotent(request, principal.subject, run, status_code=201)


@router.put("/{record_id}", response_model=LicenceOut, summary="Correct a licence record (system)")
async def correct_licence(
    record_id: uuid.UUID, body: LicenceIn, request: Request, uow: UowDep, principal: SystemOnly
) -> LicenceOut:
    """DL-01: the record as the police system now holds it (classes, validity, review and medical dates,
    phone, ...); state and points are the platform's and are moved by their own requests. Published as
    `license.record.changed.v1` when anything changed."""
    actor = actor_from(request, principal)
    return licence_out(await committed(uow, cases.correct, principal, actor, record_id, body.facts()))


@router.post(
    "/{record_id}/state-changes", response_model=LicenceOut, summary="Suspend, restore, revoke or cancel"
)
async def change_licence_state(
    record_id: uuid.UUID,
    body: StateChangeIn,
    request: Request,
    uow: UowDep,
    principal: SystemOnly,
    _key: IdempotencyKeyHeader = None,
) -> object:
    """DL-01 / DL-13: a police system suspends (暂扣), restores, revokes (吊销) or cancels (注销) the licence,
    with its reason; a move the state does not allow is refused (409 LICENCE_STATE_DOES_NOT_ALLOW, naming
    the state). Published as `license.record.changed.v1`; on a cancellation identity unbinds the licence
    from its user (ID-14)."""
    actor = actor_from(request, principal)

    async def run() -> LicenceOut:
        row = await committed(uow, cases.change_state, principal, actor, record_id, body.action, body.reason)
        return licence_out(row)

    return await idempotent(request, principal.subject, run)
