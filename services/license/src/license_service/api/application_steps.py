"""`/api/v1/licence-applications/{id}/...`: the office's steps (intake, production, hand-off, pick-up,
missed pick-up, archive) and `/api/v1/licence-applications/post-events`, the post's delivery reports."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import Field

from license_service import application_steps as steps
from license_service.api.applications import ApplicationOut, application_out
from license_service.api.common import Archivist, Input, Intake, SystemOnly
from servicekit.uow import committed
from servicekit.web import UowDep, actor_from

router = APIRouter(prefix="/api/v1/licence-applications", tags=["licence-applications"])
post_router = APIRouter(prefix="/api/v1/licence-applications/post-events", tags=["licence-applications"])

Reason = Annotated[str, Field(min_length=1, max_length=300, pattern=r"^[^\x00]*$")]


class IntakeIn(Input):
    decision: Literal["accept", "reject"]
    reason: Reason | None = Field(default=None, description="for a rejection: told to the person by SMS")


@router.post("/{application_id}/intake", response_model=ApplicationOut, summary="Intake (受理)")
async def intake(
    application_id: uuid.UUID, body: IntakeIn, request: Request, uow: UowDep, principal: Intake
) -> ApplicationOut:
    """`accept`: a deferral is approved and its date written on the record (DL-06), a licence accepted for
    production; a licence revoked or cancelled since is rejected with that reason. `reject` states its
    reason, which the person is told by SMS."""
    actor = actor_from(request, principal)
    return application_out(
        await committed(uow, steps.intake, principal, actor, application_id, **body.model_dump())
    )


@router.post("/{application_id}/production", response_model=ApplicationOut, summary="Licence produced (制证)")
async def produce(
    application_id: uuid.UUID, request: Request, uow: UowDep, principal: Intake
) -> ApplicationOut:
    """A renewal writes the new validity on the record (DL-07: 6 → 10 years → long-term when no cycle
    reached 12 points, else the same term, from the old expiry); an over-age exchange the new classes
    (DL-08)."""
    return application_out(
        await committed(uow, steps.produce, principal, actor_from(request, principal), application_id)
    )


@router.post("/{application_id}/handoff", response_model=ApplicationOut, summary="Mail or make ready")
async def handoff(
    application_id: uuid.UUID, request: Request, uow: UowDep, principal: Intake
) -> ApplicationOut:
    """Mail goes to the post (tracking number kept); pick-up becomes ready, due within a month (VH-07)."""
    return application_out(
        await committed(uow, steps.handoff, principal, actor_from(request, principal), application_id)
    )


class PickupIn(Input):
    old_card_returned: bool = False


@router.post("/{application_id}/pickup", response_model=ApplicationOut, summary="Collected at the counter")
async def picked_up(
    application_id: uuid.UUID, body: PickupIn, request: Request, uow: UowDep, principal: Intake
) -> ApplicationOut:
    actor = actor_from(request, principal)
    return application_out(
        await committed(uow, steps.pick_up, principal, actor, application_id, body.old_card_returned)
    )


@router.post("/{application_id}/missed-pickup", response_model=ApplicationOut, summary="Not collected")
async def missed_pickup(
    application_id: uuid.UUID, request: Request, uow: UowDep, principal: Intake
) -> ApplicationOut:
    """VH-07: a pick-up missed for a month (the worker's sweep records it too): a one-year ban."""
    return application_out(
        await committed(uow, steps.miss_pickup, principal, actor_from(request, principal), application_id)
    )


@router.post("/{application_id}/archive", response_model=ApplicationOut, summary="Archive post (档案岗)")
async def archive(
    application_id: uuid.UUID, request: Request, uow: UowDep, principal: Archivist
) -> ApplicationOut:
    """Files a finished case: approved, rejected, delivered, picked up, refused or not collected."""
    return application_out(
        await committed(uow, steps.archive, principal, actor_from(request, principal), application_id)
    )


class PostEventIn(Input):
    tracking_number: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]
    event: Literal["delivered", "refused"]
    old_card_collected: bool = False


@post_router.post("", response_model=ApplicationOut, summary="A delivery update from the post")
async def post_event(
    body: PostEventIn, request: Request, uow: UowDep, principal: SystemOnly
) -> ApplicationOut:
    """Delivered (the old card collected, for a replacement or exchange) or refused: VH-07's one-year ban.
    A repeated report changes nothing."""
    actor = actor_from(request, principal)
    return application_out(await committed(uow, steps.post_event, actor, **body.model_dump()))
