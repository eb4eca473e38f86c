"""What every router of the license API shares: who may call, and input types. A route runs its use case
with `servicekit.uow.committed`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from servicekit.validators import mobile_phone
from servicekit.web import Principal, require_roles

CLERKS = ("clerk.intake", "clerk.review", "clerk.archive", "clerk.admin")

# Licence services are personal (ID-08: a unit has no driving licence).
Personal = Annotated[Principal, Depends(require_roles("citizen"))]
Clerk = Annotated[Principal, Depends(require_roles(*CLERKS))]
ClerkOrSystem = Annotated[Principal, Depends(require_roles(*CLERKS, "system"))]
SystemOnly = Annotated[Principal, Depends(require_roles("system"))]
# What other police systems send (records, imports) a `clerk.admin` may read too.
SystemOrAdmin = Annotated[Principal, Depends(require_roles("system", "clerk.admin"))]
# A record: its holder, the clerks, the police systems (object-level access in licences.py).
Reader = Annotated[Principal, Depends(require_roles("citizen", *CLERKS, "system"))]
Intake = Annotated[Principal, Depends(require_roles("clerk.intake"))]
Archivist = Annotated[Principal, Depends(require_roles("clerk.archive"))]
Hospital = Annotated[Principal, Depends(require_roles("hospital"))]

OfficeCode = Annotated[str, Field(pattern=r"^\d{6}$", description="administrative division code")]
Phone = Annotated[str, AfterValidator(mobile_phone)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
