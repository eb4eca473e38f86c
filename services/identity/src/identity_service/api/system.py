"""Routes for `system` clients (other police systems): the ID-03 projection's feed until vehicle and license
publish their events (ADR 0003 consequences)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import AfterValidator, BaseModel, Field

from identity_service.records import RecordChange, apply_record
from servicekit.validators import mobile_phone
from servicekit.web import Principal, UowDep, actor_from, require_roles

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


@router.put("/{record_kind}/{ref}", summary="Record a vehicle, licence or licence application (ID-03 feed)")
async def put_person_record(
    record_kind: Literal["vehicle", "licence", "licence_application"],
    ref: Annotated[str, Field(min_length=1, max_length=64)],
    body: PersonRecordIn,
    request: Request,
    principal: SystemDep,
    uow: UowDep,
) -> dict[str, Any]:
    """ID-03 projection; a vehicle's transfer, deregistration or commercial → non-commercial change unbinds
    it from everyone but its owner and a cancelled licence from its user (ID-14); a licence or a registered
    vehicle turns a learner or new-car owner into an owner/driver user (ID-07)."""
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
