"""`/api/v1/violations`: intake from other police systems (VI-01), the records and their evidence as each
reader may see them (VI-05). Bulk intake is `api/batches.py`; handling `api/handling.py`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from servicekit.pagination import InvalidCursor, Page, clamp_limit, decode_cursor, encode_cursor
from servicekit.uow import committed
from servicekit.web import Unprocessable, UowDep, actor_from
from servicekit.web.documents import document_response
from violation_service import access, handling, intake, queries
from violation_service.api.common import AnyCaller, HandlingOut, SystemOnly, ViolationOut, violation_out
from violation_service.context import ContextDep
from violation_service.published import SubmitCameraRecord

router = APIRouter(prefix="/api/v1/violations", tags=["violations"])


@router.post(
    "",
    status_code=201,
    response_model=ViolationOut,
    summary="Take a camera record from another police system (VI-01)",
    responses={200: {"description": "the same record again: nothing changed", "model": ViolationOut}},
)
async def take_record(
    body: SubmitCameraRecord,
    request: Request,
    response: Response,
    uow: UowDep,
    ctx: ContextDep,
    principal: SystemOnly,
) -> ViolationOut:
    """VI-01: plate, time, place, violation code, penalty (warning or fine, in fen), points and 1 to 6
    evidence images (JPEG or PNG, base64, checked by their bytes). Idempotent by `record_id`: the same
    record again answers 200 with the violation as first taken; the same ID with other facts is refused
    (409 RECORD_ID_REUSED). The same body as the `violation.camera_record.submit.v1` command."""
    actor = actor_from(request, principal)
    record = intake.CameraRecord.of(body)
    taken = await committed(uow, intake.take, ctx.documents, actor, principal.subject, record)
    if not taken.created:
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/violations/{taken.violation['id']}"
    return violation_out(taken.violation)


@router.get("", response_model=Page[ViolationOut], summary="Violations: of bound vehicles, or a search")
async def list_violations(
    uow: UowDep,
    principal: AnyCaller,
    plate_number: Annotated[str | None, Query(max_length=10)] = None,
    state: Literal["open", "decided"] | None = None,
    since: datetime | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Page[ViolationOut]:
    """VI-05: a citizen or unit lists the violations of the vehicles bound to its account; a clerk (own
    city) or another police system searches by plate or since a moment. Newest first."""
    if not queries.reads_own(principal) and not (plate_number or since):
        raise Unprocessable("SEARCH_NEEDS_A_KEY", "give plate_number or since")
    if since is not None and since.tzinfo is None:
        raise Unprocessable("SINCE_NEEDS_OFFSET", "since needs a UTC offset")
    size = clamp_limit(limit)
    after = None
    if cursor:
        try:
            after = uuid.UUID(str(decode_cursor(cursor)["id"]))
        except (InvalidCursor, KeyError, ValueError):
            raise Unprocessable("INVALID_CURSOR", "the cursor is not one of ours") from None
    rows = await committed(
        uow,
        queries.search,
        principal,
        plate_number=plate_number,
        state=state,
        since=since,
        after=after,
        limit=size + 1,
    )
    items = [violation_out(row) for row in rows[:size]]
    next_cursor = encode_cursor({"id": str(rows[size - 1]["id"])}) if len(rows) > size else None
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{violation_id}", response_model=ViolationOut, summary="One violation, with its evidence")
async def get_violation(
    violation_id: uuid.UUID, uow: UowDep, ctx: ContextDep, principal: AnyCaller
) -> ViolationOut:
    """VI-05: to whom may see it (404 otherwise), with its evidence images' links and its decision; for a
    citizen or unit, whether they may handle it online (VI-02) and if not, the refusal's code."""
    async with uow:
        row = await access.violation_for(uow, principal, violation_id)
        evidence = await ctx.documents.of_case(uow.session, intake.case_ref(violation_id))
        decision = await queries.decision_of(uow, violation_id)
        can = None
        if principal.has_any("citizen", "unit"):
            refusal = await handling.eligibility(uow, principal, row)
            can = HandlingOut(allowed=refusal is None, refusal=refusal)
    evidence = [d for d in evidence if d.kind == intake.EVIDENCE]
    return violation_out(row, evidence=evidence, handling=can, decision=decision)


@router.get("/{violation_id}/evidence/{document_id}", summary="An evidence image (VI-01)")
async def get_evidence(
    violation_id: uuid.UUID, document_id: uuid.UUID, uow: UowDep, ctx: ContextDep, principal: AnyCaller
) -> Response:
    """VI-01/AR-01: served only to those who may see the violation; anything else is a 404."""
    async with uow:
        row = await access.load(uow, violation_id)
        visible = row is not None and await access.may_see(uow, principal, row)
        found = await ctx.documents.open(
            uow.session,
            document_id,
            case_ref=intake.case_ref(violation_id),
            entitled=lambda doc: visible and doc.kind == intake.EVIDENCE,
        )
    return document_response(found)
