"""`/api/v1/_test/*` of identity (dev and test only): seed the local population registry."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy.dialects.postgresql import insert

from identity_service.domain import DISQUALIFICATIONS
from identity_service.tables import population
from servicekit.masking import mask_id_number
from servicekit.validators import birth_date_of, resident_id, sex_of
from servicekit.web import RuntimeDep

router = APIRouter(prefix="/api/v1/_test", tags=["test"])

Disqualification = Literal["drug_use_unrecovered", "drug_rehab_in_progress", "licence_revoked_ban"]
assert set(Disqualification.__args__) == set(DISQUALIFICATIONS)  # type: ignore[attr-defined]


class PopulationPersonIn(BaseModel):
    id_number: Annotated[str, AfterValidator(lambda v: resident_id(v, field="id_number"))]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    sex: Literal["M", "F"] | None = None
    birth_date: date | None = None
    status: Literal["normal", "deceased", "emigrated"] = "normal"
    disqualifications: list[Disqualification] = []


@router.post("/population", status_code=201, summary="Add or replace a person in the local registry")
async def add_person(body: PopulationPersonIn, runtime: RuntimeDep) -> dict[str, str]:
    values = {
        "name": body.name,
        "sex": body.sex or sex_of(body.id_number),
        "birth_date": body.birth_date or birth_date_of(body.id_number),
        "status": body.status,
        "disqualifications": list(body.disqualifications),
    }
    async with runtime.engine.begin() as conn:
        await conn.execute(
            insert(population)
            .values(id_number=body.id_number, **values)
            .on_conflict_do_update(index_elements=[population.c.id_number_bidx], set_=values)
        )
    return {"id_number": mask_id_number(body.id_number), "status": body.status}
