"""Routes for `system` clients (other police systems): the ID-03 projection's feed for what no service
publishes yet (ADR 0003 consequences): licence applications, and vehicles as other police systems still
send them. Licence records left it (ADR 0050): license owns them and identity reads its events; a PUT of a
licence answers 410 and names license's API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import AfterValidator, BaseModel, Field

from identity_service.records import RecordChange, apply_record
from servicekit.validators import mobile_phone
from servicekit.web import Principal, Problem, UowDep, actor_from, require_roles

router = APIRouter(prefix="/api/v1/users/person-records", tags=["system"])

SystemDep = Annotated[Principal, Depends(require_roles("system"))]


class PersonRecordIn(BaseModel):
    id_number: Annotated[str, Field(min_length=6, max_length=32)]
    state: Annotated[str, Field(min_length=1, max_length=24)]
    phone: Annotated[str, AfterValidator(mobile_phone)] | None = None
    plate_number: Annotated[str, Field(max_length=16)] | None = None
    vin: Annotated[str, Field(max_length=17)] | None = None
    use: Literal["commercial", "non_commercial"] | None = None
    change: Literal["registered", "transferred", "deregistered", "use_changed", "contact_changed"] | None = (
        None
    )


@router.put(
    "/licence/{ref}",
    summary="Licences left this feed (ADR 0050): 410",
    status_code=410,
    responses={410: {"description": "licence records are issued at license: POST /api/v1/licences"}},
)
async def put_licence_record(ref: str, principal: SystemDep) -> None:
    """ADR 0050: license owns the licence records (DL-01); a police system issues, corrects and moves them
    there (`POST /api/v1/licences`, `PUT /api/v1/licences/{id}`, `POST /api/v1/licences/{id}/state-changes`)
    and identity projects license's events. Nothing is recorded here."""
    raise Problem(
        410,
        "LICENCE_RECORDS_ARE_LICENSES",
        "licence records are kept by the license service: issue them with POST /api/v1/licences, correct "
        "them with PUT /api/v1/licences/{id} and move them with POST /api/v1/licences/{id}/state-changes "
        "(ADR 0050)",
    )


@router.put("/{record_kind}/{ref}", summary="Record a vehicle or a licence application (ID-03 feed)")
async def put_person_record(
    record_kind: Literal["vehicle", "licence_application"],
    ref: Annotated[str, Field(min_length=1, max_length=64)],
    body: PersonRecordIn,
    request: Request,
    principal: SystemDep,
    uow: UowDep,
) -> dict[str, Any]:
    """ID-03 projection; a vehicle's transfer, deregistration or commercial → non-commercial change unbinds
    it from everyone but its owner (ID-14); a registered vehicle turns a learner or new-car owner into an
    owner/driver user (ID-07); an accepted licence application lets a learner register (ID-04)."""
    async with uow:
        now = uow.now
        effects = await apply_record(
            uow, RecordChange(record_kind=record_kind, ref=ref, **body.model_dump()), now
        )
        uow.audit(
            actor_from(request, principal),
            "person_record",
            f"{record_kind}:{ref}",
            after={
                "state": body.state,
                "unbound": effects.unbound_accounts,
                "converted": effects.converted_accounts,
            },
        )
        await uow.commit()
    return {
        "record_kind": record_kind,
        "ref": ref,
        "state": body.state,
        "unbound_accounts": effects.unbound_accounts,
        "converted_accounts": effects.converted_accounts,
    }
