"""The person's rights (PIPL art. 45, 47), the part every service plays: what it holds about a person.

identity asks (`identity.data_export.requested.v1`, `identity.account.deidentified.v1`); each service
answers from its own list of `Holding`s, one per table that holds rows about a person:

- the export (art. 45): every holding's rows about the person, as JSON, sent back to identity with the
  command `identity.data_export.add_part.v1` (`export_handler`);
- de-identification (art. 47, ADR 0093): only the account's holdings (`erase` set) are overwritten; the
  state's records (a vehicle's or licence's registration, a decision) are kept as they are.

A holding finds rows by the person's keys (`by`: which column holds the account id, the identity number
or the phone; a sealed column through its blind index, ADR 0095). Columns named in `omit` (password
hashes, key material) and blind-index digests are never exported.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_jsonable_python
from sqlalchemy import ColumnElement, LargeBinary, Table, false, or_, select, update
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.consumer import Subscription
from servicekit.crypto import blind_match, with_blind
from servicekit.envelope import Envelope
from servicekit.messages import Command
from servicekit.uow import UnitOfWork

EXPORT_REQUESTED = "identity.data_export.requested.v1"
ACCOUNT_DEIDENTIFIED = "identity.account.deidentified.v1"
ADD_EXPORT_PART = "identity.data_export.add_part.v1"

PersonKey = Literal["account_id", "id_number", "phone"]
# What replaces a name, an identity number or a phone in a de-identified row: says what happened, and
# fits the narrowest column (String(11) phones).
DEIDENTIFIED = "已去标识化"


class Person(BaseModel):
    """Whom a request is about, as identity knows them (a consumer's tolerant reading of both events:
    `identity.account.deidentified.v1` carries the account id alone)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    account_id: str
    id_number: str | None = None
    phone: str | None = None

    def key(self, name: PersonKey) -> str | None:
        value: str | None = getattr(self, name)
        return value


class ExportRequest(Person):
    """A service's reading of `identity.data_export.requested.v1`."""

    export_id: str


@dataclass(frozen=True)
class Holding:
    """One table's rows about a person, found for the export by any of the person's keys (`by`).

    `erase`: column → de-identified value when the rows are the account's (ADR 0093), found by the
    account's column alone (`by["account_id"]`): the same person may hold a newer account, whose rows
    share the identity number and phone and are not touched. Empty when the rows are the state's
    records, kept after the account is gone."""

    table: Table
    label: str  # the part's section, in Chinese: what the person reads in the download
    by: Mapping[PersonKey, str]
    erase: Mapping[str, Any] = field(default_factory=dict)
    omit: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.erase and "account_id" not in self.by:
            raise ValueError(f"{self.table.name}: erasing needs the account's column")

    def about(self, person: Person) -> ColumnElement[bool]:
        matches: list[ColumnElement[bool]] = []
        for key, column_name in self.by.items():
            value = person.key(key)
            if value is None:
                continue
            column = self.table.c[column_name]
            if "blind" in column.info:
                matches.append(blind_match(column, value))
            else:
                matches.append(column == (uuid.UUID(value) if isinstance(column.type, UUID) else value))
        return or_(*matches) if matches else false()


async def export_part(session: AsyncSession, holdings: Sequence[Holding], person: Person) -> dict[str, Any]:
    """Every holding's rows about the person, JSON-ready: {label: [row, ...]}."""
    part: dict[str, Any] = {}
    for holding in holdings:
        # Stored bytes (photos, scans) are not inlined: the part names them, the owner may ask for them.
        columns = [
            c
            for c in holding.table.c
            if c.name not in holding.omit
            and not isinstance(c.type, LargeBinary)
            and "blind_of" not in c.info  # a digest, meaningless to the person
        ]
        rows = (await session.execute(select(*columns).where(holding.about(person)))).mappings().all()
        part[holding.label] = [to_jsonable_python(dict(row)) for row in rows]
    return part


async def deidentify(session: AsyncSession, holdings: Sequence[Holding], person: Person) -> dict[str, int]:
    """Overwrite the account's holdings' personal columns, found by the account id (idempotent: a second
    run writes the same values). Rows counted per table; the state's records are left alone."""
    counts: dict[str, int] = {}
    for holding in holdings:
        if not holding.erase:
            continue
        account = Person(account_id=person.account_id)
        result = await session.execute(
            update(holding.table)
            .where(holding.about(account))
            .values(with_blind(holding.table, holding.erase))
        )
        counts[holding.table.name] = int(result.rowcount)  # type: ignore[attr-defined]
    return counts


class ExportPart(Command):
    """The fields of `identity.data_export.add_part.v1`: identity owns it (its `published.py`), every
    service that answers an export keeps a copy (its `commands.py`) naming it."""

    message_type: ClassVar[str] = ADD_EXPORT_PART
    summary: ClassVar[str] = "One service's part of a person's data export (PIPL art. 45)."

    export_id: str
    service: Annotated[str, Field(min_length=1, max_length=32)]
    part: dict[str, Any]
    produced_at: datetime

    def subject(self) -> str | None:
        return self.export_id

    @classmethod
    def example(cls) -> ExportPart:
        return cls(
            export_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e60",
            service="vehicle",
            part={"机动车": [{"plate_number": "冀A12345", "vin": "LSVAU2180N2183294"}]},
            produced_at=datetime.fromisoformat("2026-05-04T10:00:00+08:00"),
        )


def export_handler(
    service: str, holdings: Sequence[Holding], command: type[ExportPart]
) -> Callable[[UnitOfWork, ExportRequest, Envelope], Awaitable[None]]:
    """The handler that answers an export request with this service's part (the inbox makes it once)."""

    async def answer(uow: UnitOfWork, request: ExportRequest, envelope: Envelope) -> None:
        part = await export_part(uow.session, holdings, request)
        uow.emit(command(export_id=request.export_id, service=service, part=part, produced_at=uow.now))

    return answer


def deidentify_handler(
    holdings: Sequence[Holding],
) -> Callable[[UnitOfWork, Person, Envelope], Awaitable[None]]:
    """The handler that de-identifies this service's account-linked rows when identity says so."""

    async def apply(uow: UnitOfWork, person: Person, envelope: Envelope) -> None:
        await deidentify(uow.session, holdings, person)

    return apply


def subscriptions(
    service: str, holdings: Sequence[Holding], command: type[ExportPart], *, deidentifies: bool = True
) -> list[Subscription]:
    """A service's part in the person's rights, as subscriptions: it answers every export; it
    de-identifies only when some of its holdings are the account's own (`deidentifies`; a service holding
    only the state's records keeps them)."""
    answers = [
        Subscription(
            name="data-export",
            handles={EXPORT_REQUESTED: ExportRequest},
            handler=export_handler(service, holdings, command),
            summary=f"PIPL art. 45: {service}'s part of a person's data export.",
        )
    ]
    if deidentifies:
        answers.append(
            Subscription(
                name="account-deidentified",
                handles={ACCOUNT_DEIDENTIFIED: Person},
                handler=deidentify_handler(holdings),
                summary="PIPL art. 47: de-identify the rows that are a cancelled account's, after its "
                "retention.",
            )
        )
    return answers
