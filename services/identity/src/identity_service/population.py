"""The population registry (人口信息库), another police system, behind an adapter (ID-02, ID-09, ID-10).

In dev and test the adapter reads the local `population` table, seeded with demo people and by
`POST /api/v1/_test/population`; in prod another implementation of `PopulationRegistry` calls the real
system. `RegistryUnreachable` is what intake tolerates (ID-09: proceed, re-check at review).
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from identity_service.domain import RegistryPerson
from identity_service.tables import population
from servicekit.crypto import blind_match


class RegistryUnreachable(Exception):
    """The registry did not answer: a counter case may proceed and be re-checked at review (ID-09)."""


class PopulationRegistry(Protocol):
    async def lookup(self, id_number: str) -> RegistryPerson | None:
        """The person with this identity number, or None when the registry has no such person."""
        ...


class LocalPopulationRegistry:
    """dev/test: the registry is a table of identity's own database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.unreachable = False  # tests switch it on to take the ID-09 "registry down" path

    async def lookup(self, id_number: str) -> RegistryPerson | None:
        if self.unreachable:
            raise RegistryUnreachable("the population registry did not answer")
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(population).where(blind_match(population.c.id_number, id_number)))
            ).first()
        if row is None:
            return None
        return RegistryPerson(
            id_number=row.id_number,
            name=row.name,
            sex=row.sex,
            birth_date=row.birth_date,
            status=row.status,
            disqualifications=tuple(row.disqualifications or ()),
        )
