"""What every router of the license API shares: who may call, and input types. A route runs its use case
with `servicekit.uow.committed`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field

from servicekit.web import Principal, require_roles

CLERKS = ("clerk.intake", "clerk.review", "clerk.archive", "clerk.admin")

# Licence services are personal (ID-08: a unit has no driving licence).
Personal = Annotated[Principal, Depends(require_roles("citizen"))]
Clerk = Annotated[Principal, Depends(require_roles(*CLERKS))]
ClerkOrSystem = Annotated[Principal, Depends(require_roles(*CLERKS, "system"))]
SystemOnly = Annotated[Principal, Depends(require_roles("system"))]
Intake = Annotated[Principal, Depends(require_roles("clerk.intake"))]
Archivist = Annotated[Principal, Depends(require_roles("clerk.archive"))]
Hospital = Annotated[Principal, Depends(require_roles("hospital"))]

OfficeCode = Annotated[str, Field(pattern=r"^\d{6}$", description="administrative division code")]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
