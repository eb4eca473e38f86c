"""ADR 0095/0096: every column of every service whose name says it holds a person's identity number,
phone, name or address is sealed (SM4-GCM) or is a sealed column's blind index, unless it is listed
below with the reason it may stay in clear. A table added later with such a column in clear fails here,
whether or not any flow of the dump test (tests/e2e/test_dump_at_rest.py) happens to fill it."""

from __future__ import annotations

import importlib
import re

from sqlalchemy import MetaData

from servicekit.crypto import SealedJSON, SealedText
from servicekit.service import SERVICE_NAMES, load_spec

# A licence number is the holder's identity number (GA 482); a permit's and a passport's name a person too.
PERSONAL = re.compile(
    r"id_?number|idn|phone|mobile|name|address|addr|contact|driver|owner|holder|person|email|birth"
    r"|licen[cs]e_?(?:number|no)|permit_?number|passport|doctor"
)
IN_CLEAR = {
    # ids, kinds and times, not the data itself
    "*.documents.owner": "the owning account's id",
    "*.reencrypt_progress.table_name": "a table of this service",
    "*.office_calendar_days.name": "a public holiday's name",
    "identity.accounts.username": "a staff number or a system client's id; citizens have none",
    "vehicle.preselections.owner_id_kind": "the kind of identity document, a vocabulary",
    "vehicle.vehicles.owner_id_kind": "the kind of identity document, a vocabulary",
    "vehicle.temp_plates.owner_id_kind": "the kind of identity document, a vocabulary",
    "plate-pool.selections.owner_id_kind": "the kind of identity document, a vocabulary",
    "vehicle.inspection_bookings.holder_subject": "the booking account's id",
    "vehicle.vehicles.phone_changed_at": "a time",
    "license.licence_records.phone_changed_at": "a time",
    # organisations, published
    "plate-pool.office_settings.name": "an office's name",
    "vehicle.inspection_stations.name": "an inspection station's name",
    "vehicle.inspection_stations.address": "an inspection station's address",
    "vehicle.temp_plate_dealers.name": "a dealer's name",
    "license.exam_sites.name": "an exam site's name",
    "license.exam_sites.address": "an exam site's address",
    # ADR 0096: the sweeps select by it; without the number and name it names nobody
    "identity.population.birth_date": "ADR 0096",
    "license.exam_learners.birth_date": "ADR 0096",
    "license.licence_records.birth_date": "ADR 0096",
}


def _metadata(service: str) -> MetaData:
    found: MetaData = importlib.import_module(f"{load_spec(service).package}.tables").metadata
    return found


def _allowed(service: str, table: str, column: str) -> bool:
    return f"{service}.{table}.{column}" in IN_CLEAR or f"*.{table}.{column}" in IN_CLEAR


def test_every_personal_column_of_every_service_is_sealed_or_listed_with_its_reason() -> None:
    sealed, clear = 0, []
    for service in SERVICE_NAMES:
        for table in _metadata(service).sorted_tables:
            for column in table.columns:
                if isinstance(column.type, SealedText | SealedJSON):
                    sealed += 1
                elif (
                    PERSONAL.search(column.name)
                    and not column.name.endswith("_bidx")
                    and not _allowed(service, table.name, column.name)
                ):
                    clear.append(f"{service}.{table.name}.{column.name}")
    assert sealed > 80, "the sealed columns were not found: is the check looking at the right types?"
    assert clear == [], "personal data in clear: seal it (servicekit.crypto.sealed) or list it with why"


def test_the_list_of_columns_in_clear_names_only_columns_that_exist() -> None:
    columns = [
        (service, f"{table.name}.{column.name}")
        for service in SERVICE_NAMES
        for table in _metadata(service).sorted_tables
        for column in table.columns
    ]
    stale = []
    for name in IN_CLEAR:
        service, rest = name.split(".", 1)
        if not any(rest == column and service in ("*", owner) for owner, column in columns):
            stale.append(name)
    assert stale == []


KIT_SEALED = {"outbox": ("payload",), "audit_log": ("before", "after")}


def test_every_service_seals_its_events_and_audit_values_and_has_the_revision_that_sealed_them() -> None:
    # The kit's tables carry whole events and before/after images, whose names say nothing (ADR 0095).
    unsealed, unrevised = [], []
    for service in SERVICE_NAMES:
        tables = _metadata(service).tables
        unsealed += [
            f"{service}.{table}.{column}"
            for table, columns in KIT_SEALED.items()
            for column in columns
            if not isinstance(tables[table].c[column].type, SealedText | SealedJSON)
        ]
        revisions = (load_spec(service).root / "migrations" / "versions").glob("*.py")
        if not any("seal_kit_tables(" in path.read_text(encoding="utf-8") for path in revisions):
            unrevised.append(service)
    assert (unsealed, unrevised) == ([], [])
