"""Licence applications (DL-02..DL-09), the citizen's side: applying (the checks in the office's order, one
open application per slot, DL-09's wait for a medical certificate), reading one's own or the office's
queue. The office's steps and the sweeps are `application_steps.py`. Each use case writes the case, its
event and its audit entry in the caller's unit of work; the HTTP module (`api/applications.py`) parses,
opens the unit of work, calls, commits and shapes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from license_service import application_records as cases
from license_service import domain, records
from license_service.domain import ApplicationKind, Delivery, LicenceClass
from license_service.tables import licence_applications, licence_contacts, medical_certificates
from servicekit.clock import SHANGHAI
from servicekit.crypto import blind_match
from servicekit.ids import new_id
from servicekit.refusal import refusal
from servicekit.uow import Actor, UnitOfWork
from servicekit.web import NotFound, Principal

PhoneNeeded = refusal("CONTACT_PHONE_NEEDED", "DL-04", 422)
AddressNeeded = refusal("MAIL_ADDRESS_NEEDED", "DL-02", 422)


@dataclass(frozen=True)
class Request:
    """What the citizen asks for."""

    kind: ApplicationKind
    delivery: Delivery | None = None
    address: str | None = None
    phone: str | None = None
    target_class: LicenceClass | None = None  # DL-08
    months: int | None = None  # DL-06
    deferral_reason: str | None = None
    deferral_note: str | None = None


def today_of(uow: UnitOfWork) -> date:
    return uow.now.astimezone(SHANGHAI).date()


async def own_record(uow: UnitOfWork, principal: Principal, *, lock: bool) -> RowMapping:
    """The caller's own licence (its number is their identity number), or 404."""
    row = (
        await records.load_by_number(uow, principal.id_number or "", lock=lock)
        if principal.id_number
        else None
    )
    if row is None:
        raise NotFound("licence")
    return row


def holder(principal: Principal, record: RowMapping, ban: date | None) -> domain.Holder:
    return domain.Holder(
        channel=principal.channel,
        birth_date=record["birth_date"],
        state=record["state"],
        classes=records.classes_of(record),
        valid_from=record["valid_from"],
        valid_until=record["valid_until"],
        review_due=record["review_due"],
        medical_due=record["medical_due"],
        photo_valid_until=record["photo_valid_until"],
        ban_until=ban,
    )


async def _approved(uow: UnitOfWork, record_id: uuid.UUID, kind: str) -> list[RowMapping]:
    rows = await uow.session.execute(
        select(licence_applications).where(
            licence_applications.c.record_id == record_id,
            licence_applications.c.kind == kind,
            licence_applications.c.state.in_(("approved", "archived")),
            licence_applications.c.decided_by.is_not(None),
            licence_applications.c.deferred_to.is_not(None),
        )
    )
    return list(rows.mappings().all())


async def renewal_deferred_to(uow: UnitOfWork, record: RowMapping) -> date | None:
    """DL-06: the date a granted renewal deferral moved this expiry to (the latest of its chain)."""
    dates = [
        row["deferred_to"]
        for row in await _approved(uow, record["id"], "defer_renewal")
        if row["deferral_original_due"] == record["valid_until"]
    ]
    return max(dates) if dates else None


async def deferral_dates(
    uow: UnitOfWork, record: RowMapping, kind: ApplicationKind
) -> tuple[date | None, date | None]:
    """DL-06: (the date the deferral defers, where its chain began): the expiry (or its deferred date), the
    review date or the medical-certificate due date, which an earlier deferral may already have moved."""
    if kind == "defer_renewal":
        return (await renewal_deferred_to(uow, record)) or record["valid_until"], record["valid_until"]
    due: date | None = record["review_due"] if kind == "defer_review" else record["medical_due"]
    for row in await _approved(uow, record["id"], kind):
        if row["deferred_to"] == due:
            return due, row["deferral_original_due"]
    return due, due


async def medical_on_file(uow: UnitOfWork, id_number: str, today: date) -> RowMapping | None:
    """DL-09: a fit certificate for the person, still within its six months, not yet used."""
    query = (
        select(medical_certificates)
        .where(
            blind_match(medical_certificates.c.id_number, id_number),
            medical_certificates.c.conclusion == "fit",
            medical_certificates.c.valid_until >= today,
            medical_certificates.c.used_by.is_(None),
        )
        .order_by(medical_certificates.c.examined_on.desc())
        .limit(1)
        .with_for_update()
    )
    return (await uow.session.execute(query)).mappings().first()


async def _address_on_file(uow: UnitOfWork, record_id: uuid.UUID) -> str | None:
    found: str | None = (
        await uow.session.execute(
            select(licence_contacts.c.address).where(licence_contacts.c.record_id == record_id)
        )
    ).scalar_one_or_none()
    return found


async def apply(uow: UnitOfWork, principal: Principal, actor: Actor, ask: Request) -> RowMapping:
    """DL-02..DL-09 as the citizen applies: their own licence (else 404), the checks in the office's order
    (`domain.check_online_application`, then the kind's own: DL-07's window, DL-08's classes, DL-06's
    month ahead and three years), one open application per slot (`domain.slot`). The record's row lock
    serialises concurrent applications of one person; the partial unique index stands behind it. An
    application that needs a medical certificate takes one on file or waits for it (DL-09)."""
    record = await own_record(uow, principal, lock=True)
    today = today_of(uow)
    rule = domain.RULE_OF[ask.kind]
    domain.check_online_application(
        ask.kind,
        holder(principal, record, await cases.active_ban(uow, record["number"])),
        today,
        delivery=ask.delivery,
    )
    values: dict[str, Any] = {}
    if ask.kind == "renew":
        domain.check_renewal(record["valid_until"], today, await renewal_deferred_to(uow, record))
    elif ask.kind == "over_age":
        assert ask.target_class is not None
        domain.over_age_exchange(records.classes_of(record), record["birth_date"], today, ask.target_class)
        values["target_class"] = ask.target_class
    elif ask.kind in domain.DEFERRALS:
        assert ask.months is not None
        due, original = await deferral_dates(uow, record, ask.kind)
        plan = domain.plan_deferral(due, original, ask.months, today)
        values.update(
            deferral_due=plan.due,
            deferral_original_due=plan.original_due,
            deferred_to=plan.deferred_to,
            deferral_reason=ask.deferral_reason,
            deferral_note=ask.deferral_note,
        )
    slot = domain.slot(ask.kind)
    open_case = (
        await uow.session.execute(
            select(licence_applications.c.id, licence_applications.c.kind).where(
                licence_applications.c.record_id == record["id"],
                licence_applications.c.slot == slot,
                licence_applications.c.state.in_(domain.OPEN_APPLICATION_STATES),
            )
        )
    ).first()
    if open_case is not None:
        raise domain.ApplicationOpen(
            "an application of this kind is still open",
            rule=rule,
            extra={"application_id": str(open_case.id), "kind": open_case.kind},
        )
    phone = ask.phone or record["phone"] or principal.phone
    if not phone:
        raise PhoneNeeded("give a contact phone: the licence record has none")
    address = ask.address
    if ask.delivery == "mail" and not address:
        address = await _address_on_file(uow, record["id"])
        if not address:
            raise AddressNeeded("a mailed licence needs an address (or one on file, DL-04)", rule=rule)
    certificate = (
        await medical_on_file(uow, record["number"], today) if ask.kind in domain.NEEDS_MEDICAL else None
    )
    state = domain.first_state(ask.kind, certificate is not None)
    application_id = new_id()
    try:
        row: RowMapping = (
            (
                await uow.session.execute(
                    licence_applications.insert()
                    .values(
                        id=application_id,
                        record_id=record["id"],
                        office_code=record["office_code"],
                        id_number=record["number"],
                        applicant_subject=principal.subject,
                        kind=ask.kind,
                        slot=slot,
                        state=state,
                        delivery=ask.delivery if ask.kind in domain.PRODUCES_A_LICENCE else None,
                        address=address if ask.delivery == "mail" else None,
                        phone=phone,
                        medical_certificate_id=certificate["id"] if certificate else None,
                        medical_wait_until=uow.now + domain.MEDICAL_WAIT
                        if state == "awaiting_medical"
                        else None,
                        created_at=uow.now,
                        updated_at=uow.now,
                        **values,
                    )
                    .returning(licence_applications)
                )
            )
            .mappings()
            .one()
        )
    except IntegrityError:  # the open-slot index, should a path ever skip the record's lock
        raise domain.ApplicationOpen("an application of this kind is still open", rule=rule) from None
    if certificate is not None:
        await uow.session.execute(
            update(medical_certificates)
            .where(medical_certificates.c.id == certificate["id"])
            .values(used_by=application_id)
        )
    cases.created(uow, actor, row)
    return row


def may_see(principal: Principal, row: RowMapping) -> bool:
    if principal.is_staff:
        return principal.office is None or principal.office == row["office_code"]
    return principal.id_number is not None and principal.id_number == row["id_number"]


async def case_for(uow: UnitOfWork, principal: Principal, application_id: uuid.UUID) -> RowMapping:
    """The application, locked, or 404 when it is not there or not the caller's (their own, their
    office's)."""
    row = await cases.load(uow, application_id, lock=True)
    if row is None or not may_see(principal, row):
        raise NotFound("application")
    return row


async def get(uow: UnitOfWork, principal: Principal, application_id: uuid.UUID) -> RowMapping:
    row = await cases.load(uow, application_id)
    if row is None or not may_see(principal, row):
        raise NotFound("application")
    return row


async def listing(
    uow: UnitOfWork, principal: Principal, state: str | None, kind: str | None, limit: int
) -> list[RowMapping]:
    """A clerk's office queue (oldest first); a citizen's own applications (newest first)."""
    query = select(licence_applications)
    if principal.is_staff:
        if principal.office:
            query = query.where(licence_applications.c.office_code == principal.office)
        query = query.order_by(licence_applications.c.created_at, licence_applications.c.id)
    else:
        query = query.where(
            blind_match(licence_applications.c.id_number, principal.id_number or "")
        ).order_by(licence_applications.c.created_at.desc())
    if state:
        query = query.where(licence_applications.c.state == state)
    if kind:
        query = query.where(licence_applications.c.kind == kind)
    return list((await uow.session.execute(query.limit(limit))).mappings().all())
