"""Licence records (DL-01, DL-13): one use case per action of the `system` API, the holder's and the clerks'
reading. The HTTP module (`api/licences.py`) parses, calls and shapes; `records.py` writes each change with
its event and audit entry; the importer calls `apply_line` for each line of a bulk import.

Who sees a record: a `system` client every one; a clerk those of their office (every office without one);
the holder their own, by the identity number in their token (ADR 0012). Anyone else is told it does not
exist (404).
"""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from license_service import domain, records
from license_service.domain import LicenceState, PoliceAction
from license_service.published import IssueSource
from license_service.records import Facts
from license_service.tables import licence_records
from servicekit.crypto import blind_match
from servicekit.refusal import Refusal
from servicekit.uow import Actor, UnitOfWork
from servicekit.web import NotFound, Principal


def holder_number(principal: Principal) -> str | None:
    """Whose licence is the caller's own: a person's identity number (the licence number); nobody's for
    units, clerks and system clients (ID-08: a unit holds no driving licence)."""
    if principal.is_staff or "system" in principal.roles or principal.account_kind != "person":
        return None
    return principal.id_number


def may_see(principal: Principal, row: RowMapping) -> bool:
    if "system" in principal.roles:
        return True
    if principal.is_staff:
        return principal.office is None or principal.office == row["office_code"]
    return holder_number(principal) == str(row["number"])


async def record_for(
    uow: UnitOfWork, principal: Principal, record_id: uuid.UUID, *, lock: bool = False
) -> RowMapping:
    """The record, or 404 when it is not there or not the caller's to see (never 403)."""
    row = await records.load(uow, record_id, lock=lock)
    if row is None or not may_see(principal, row):
        raise NotFound("licence")
    return row


async def mine(uow: UnitOfWork, principal: Principal) -> RowMapping:
    """DL-01: the holder's own licence, found by the identity number in their token."""
    number = holder_number(principal)
    row = None if number is None else await records.load_by_number(uow, number)
    if row is None:
        raise NotFound("licence")
    return row


async def search(
    uow: UnitOfWork,
    principal: Principal,
    *,
    number: str | None,
    file_number: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[RowMapping]:
    """DL-01: a clerk's (own office) or system client's search by licence number or file number, in id
    order from after `after`."""
    query = select(licence_records).order_by(licence_records.c.id).limit(limit)
    if principal.is_staff and principal.office and "system" not in principal.roles:
        query = query.where(licence_records.c.office_code == principal.office)
    if number:
        query = query.where(blind_match(licence_records.c.number, number))
    if file_number:
        query = query.where(licence_records.c.file_number == file_number.strip())
    if after is not None:
        query = query.where(licence_records.c.id > after)
    return list((await uow.session.execute(query)).mappings().all())


def _check(facts: Facts) -> None:
    domain.check_record(
        birth_date=facts.birth_date,
        classes=frozenset(facts.classes),
        first_issue=facts.first_issue,
        valid_from=facts.valid_from,
        valid_until=facts.valid_until,
    )


def _exists(row: RowMapping | None = None) -> Refusal:
    return domain.LicenceExists(
        "a licence record with this number is already on the platform; correct it with PUT "
        "/api/v1/licences/{id}",
        extra={"record_id": str(row["id"])} if row is not None else None,
    )


async def _insert(uow: UnitOfWork, actor: Actor, facts: Facts, source: IssueSource) -> RowMapping:
    """records.issue inside a savepoint: a record of the same number committed meanwhile by another
    request (the unique index) is refused as LICENCE_EXISTS, and the caller's unit of work lives on."""
    try:
        async with uow.session.begin_nested():
            return await records.issue(uow, actor, facts, source)
    except IntegrityError:
        raise _exists(await records.load_by_number(uow, facts.number)) from None


async def issue(uow: UnitOfWork, actor: Actor, facts: Facts) -> RowMapping:
    """DL-01: a police system issues a licence: a new record, valid, published as
    `license.record.issued.v1` (identity turns a learner into a driver user, ID-07). A second record of the
    same number is refused (409 LICENCE_EXISTS, with the record's id)."""
    _check(facts)
    existing = await records.load_by_number(uow, facts.number)
    if existing is not None:
        raise _exists(existing)
    return await _insert(uow, actor, facts, "police_system")


async def correct(
    uow: UnitOfWork, principal: Principal, actor: Actor, record_id: uuid.UUID, facts: Facts
) -> RowMapping:
    """DL-01: a police system's corrected record: the facts it owns, never the state or the points; the
    same facts again change nothing (and publish nothing)."""
    _check(facts)
    row = await record_for(uow, principal, record_id, lock=True)
    if facts.number != row["number"]:
        other = await records.load_by_number(uow, facts.number)
        if other is not None:
            raise _exists(other)
    try:
        async with uow.session.begin_nested():
            return await records.update_facts(uow, actor, row, facts)
    except IntegrityError:
        raise _exists(await records.load_by_number(uow, facts.number)) from None


async def change_state(
    uow: UnitOfWork,
    principal: Principal,
    actor: Actor,
    record_id: uuid.UUID,
    action: PoliceAction,
    reason: str,
) -> RowMapping:
    """DL-01 / DL-13: a police system suspends (暂扣), restores, revokes (吊销) or cancels (注销) a licence,
    with its reason, under the record's lock: of two moves at once the second sees the first's state and
    is refused by the table when it no longer applies (409 LICENCE_STATE_DOES_NOT_ALLOW). Published as
    `license.record.changed.v1`; a cancellation makes identity unbind the licence (ID-14)."""
    row = await record_for(uow, principal, record_id, lock=True)
    return await records.move(uow, actor, row, action, reason)


LineOutcome = Literal["issued", "updated", "unchanged"]


async def apply_line(
    uow: UnitOfWork, actor: Actor, facts: Facts, state: LicenceState
) -> tuple[LineOutcome, RowMapping]:
    """DL-01 bulk import, one line: a new number is issued (`source` import) and moved to the state the
    line names; a number already here has its facts corrected, or is left alone when they are the same,
    so that the same file sent again changes nothing. A record's state is the platform's once it is here:
    a later line does not move it."""
    _check(facts)
    existing = await records.load_by_number(uow, facts.number, lock=True)
    if existing is not None:
        after = await records.update_facts(uow, actor, existing, facts)
        return ("unchanged" if after is existing else "updated"), after
    row = await _insert(uow, actor, facts, "import")
    action = domain.IMPORT_MOVES[state]
    if action is not None:
        row = await records.move(uow, actor, row, action, "imported in this state")
    return "issued", row
