"""Medical certificates (身体条件证明) from hospitals (DL-09) and the periodic one (DL-10).

A hospital (a unit account with the `hospital` role, ID-08) submits what it examined. The certificate is
kept and published; a fit one sends the person's application waiting for it to intake, an unfit one ends
that application with the reason (DL-09); a fit periodic one moves the review date on (DL-10). The
worker's sweep tells each holder who needs a periodic certificate once per review date (DL-10).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, any_, exists, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping

from license_service import application_records as cases
from license_service import domain, records
from license_service import published as ev
from license_service.applications import today_of
from license_service.domain import Conclusion, MedicalPurpose
from license_service.tables import (
    licence_applications,
    licence_records,
    medical_certificates,
    medical_reminders,
)
from servicekit.crypto import blind_match
from servicekit.ids import new_id
from servicekit.masking import mask_id_number
from servicekit.runtime import Runtime
from servicekit.uow import SYSTEM_ACTOR, Actor, UnitOfWork
from servicekit.web import NotFound, Principal


@dataclass(frozen=True)
class Submission:
    id_number: str
    name: str
    purpose: MedicalPurpose
    conclusion: Conclusion
    examined_on: date
    doctor: str | None = None
    remarks: str | None = None


@dataclass(frozen=True)
class Submitted:
    certificate: RowMapping
    applications: list[RowMapping]  # the waiting applications it moved (DL-09)


async def submit(uow: UnitOfWork, principal: Principal, actor: Actor, sub: Submission) -> Submitted:
    """DL-09/DL-10: check, keep and publish the certificate, then act on it. The person's record is held
    locked, so an application made at the same moment either sees the certificate on file or is already
    waiting when it arrives."""
    today = today_of(uow)
    domain.check_certificate(sub.examined_on, today)
    record = await records.load_by_number(uow, sub.id_number, lock=True)
    if record is not None and record["name"] != sub.name:
        raise domain.NameMismatch("the name differs from the licence record's for this identity number")
    years: int | None = None
    if sub.purpose == "periodic":
        if record is None:
            raise domain.PeriodicNotDue("no licence record for this identity number")
        years = domain.check_periodic(
            records.classes_of(record), record["birth_date"], record["review_due"], today
        )
    certificate: RowMapping = (
        (
            await uow.session.execute(
                medical_certificates.insert()
                .values(
                    id=new_id(),
                    id_number=sub.id_number,
                    name=sub.name,
                    record_id=record["id"] if record else None,
                    hospital_subject=principal.subject,
                    hospital_code=principal.id_number,
                    purpose=sub.purpose,
                    conclusion=sub.conclusion,
                    examined_on=sub.examined_on,
                    valid_until=domain.certificate_valid_until(sub.examined_on),
                    doctor=sub.doctor,
                    remarks=sub.remarks,
                    submitted_at=uow.now,
                )
                .returning(medical_certificates)
            )
        )
        .mappings()
        .one()
    )
    uow.emit(
        ev.MedicalCertificateSubmitted(
            certificate_id=str(certificate["id"]),
            id_number=sub.id_number,
            record_id=str(record["id"]) if record else None,
            hospital_code=principal.id_number,
            purpose=sub.purpose,
            conclusion=sub.conclusion,
            examined_on=sub.examined_on,
            valid_until=certificate["valid_until"],
            submitted_at=uow.now,
        )
    )
    uow.audit(
        actor,
        "medical_certificate.submitted",
        f"medical_certificate:{certificate['id']}",
        None,
        {"id_number": mask_id_number(sub.id_number), "purpose": sub.purpose, "conclusion": sub.conclusion},
    )
    if record is None:
        return Submitted(certificate, [])
    moved = await _move_waiting(uow, actor, record["id"], certificate)
    if years is not None and sub.conclusion == "fit":
        await _periodic_done(uow, actor, record, certificate, years, today)
    return Submitted(certificate, moved)


async def _move_waiting(
    uow: UnitOfWork, actor: Actor, record_id: uuid.UUID, certificate: RowMapping
) -> list[RowMapping]:
    """DL-09: the applications waiting for this person's certificate move on (a fit one, to intake, and
    the certificate is theirs) or end (an unfit one, with the reason)."""
    waiting = (
        (
            await uow.session.execute(
                select(licence_applications)
                .where(
                    licence_applications.c.record_id == record_id,
                    licence_applications.c.state == "awaiting_medical",
                )
                .order_by(licence_applications.c.created_at)
                .with_for_update()
            )
        )
        .mappings()
        .all()
    )
    action, reason = domain.medical_outcome(certificate["conclusion"])
    moved = []
    for row in waiting:
        if action == "medical_received":
            after = await cases.move(
                uow, actor, row, action, medical_certificate_id=certificate["id"], medical_wait_until=None
            )
            await uow.session.execute(
                update(medical_certificates)
                .where(medical_certificates.c.id == certificate["id"])
                .values(used_by=row["id"])
            )
        else:
            after = await cases.move(uow, actor, row, action, reason=reason, refusal_reason=reason)
        moved.append(after)
    return moved


async def _periodic_done(
    uow: UnitOfWork, actor: Actor, record: RowMapping, certificate: RowMapping, years: int, today: date
) -> None:
    """DL-10: a fit periodic certificate answers the review date reached: the next review date is a period
    on (a year at 60 or over, three for C5), the certificate due 30 days after it."""
    review_due = record["review_due"]
    nxt = domain.next_review(review_due, years, today)
    await records.change(
        uow,
        actor,
        record,
        "validity",
        "licence.periodic_medical_submitted",
        None,
        review_due=nxt,
        medical_due=nxt + domain.PERIODIC_SUBMIT_WITHIN,
    )
    await uow.session.execute(
        update(medical_reminders)
        .where(medical_reminders.c.record_id == record["id"], medical_reminders.c.review_due == review_due)
        .values(satisfied_by=certificate["id"])
    )


def may_see(principal: Principal, row: RowMapping) -> bool:
    """The hospital that submitted it, the person it is about, clerks of any office (a certificate serves
    wherever the person applies)."""
    if principal.is_staff or "system" in principal.roles:
        return True
    if "hospital" in principal.roles:
        return bool(row["hospital_subject"] == principal.subject)
    return principal.id_number is not None and principal.id_number == row["id_number"]


async def get(uow: UnitOfWork, principal: Principal, certificate_id: uuid.UUID) -> RowMapping:
    row = (
        (
            await uow.session.execute(
                select(medical_certificates).where(medical_certificates.c.id == certificate_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None or not may_see(principal, row):
        raise NotFound("medical certificate")
    return row


async def listing(
    uow: UnitOfWork, principal: Principal, id_number: str | None, limit: int
) -> list[RowMapping]:
    """A hospital its own submissions; a person theirs; clerks and systems by identity number."""
    query = select(medical_certificates).order_by(medical_certificates.c.submitted_at.desc())
    if principal.is_staff or "system" in principal.roles:
        query = query.where(blind_match(medical_certificates.c.id_number, id_number or ""))
    elif "hospital" in principal.roles:
        query = query.where(medical_certificates.c.hospital_subject == principal.subject)
        if id_number:
            query = query.where(blind_match(medical_certificates.c.id_number, id_number))
    else:
        query = query.where(blind_match(medical_certificates.c.id_number, principal.id_number or ""))
    return list((await uow.session.execute(query.limit(limit))).mappings().all())


async def sweep_periodic_reminders(runtime: Runtime) -> int:
    """DL-10: every holder aged 60 or over, or holding C5, whose review date is reached is told once per
    review date that a certificate is due through a hospital (`license.periodic_medical.due.v1`, which
    notify turns into an SMS). The reminder's key (record, review date) makes a rerun, or a second worker,
    tell nobody twice; a deferred or next review date is a new one."""
    told = 0
    async with runtime.uow() as uow:
        today = today_of(uow)
        sixty = domain.add_months(today, -12 * 60)
        reminded = exists().where(
            and_(
                medical_reminders.c.record_id == licence_records.c.id,
                medical_reminders.c.review_due == licence_records.c.review_due,
            )
        )
        rows = (
            (
                await uow.session.execute(
                    select(licence_records)
                    .where(
                        licence_records.c.review_due <= today,
                        licence_records.c.state.in_(("valid", "full_points", "suspended")),
                        or_(
                            licence_records.c.birth_date <= sixty,
                            literal("C5") == any_(licence_records.c.classes),
                        ),
                        ~reminded,
                    )
                    .order_by(licence_records.c.review_due)
                    .limit(500)
                )
            )
            .mappings()
            .all()
        )
        for record in rows:
            need = domain.periodic_medical(records.classes_of(record), record["birth_date"], today)
            if need is None:
                continue
            by = domain.submit_by(record["review_due"], record["medical_due"])
            inserted = (
                await uow.session.execute(
                    insert(medical_reminders)
                    .values(
                        record_id=record["id"],
                        review_due=record["review_due"],
                        reason=need[0],
                        submit_by=by,
                        told_at=uow.now,
                    )
                    .on_conflict_do_nothing()
                    .returning(medical_reminders.c.record_id)
                )
            ).first()
            if inserted is None:
                continue
            uow.emit(
                ev.PeriodicMedicalDue(
                    record_id=str(record["id"]),
                    review_due=record["review_due"],
                    submit_by=by,
                    reason=need[0],
                    phone=record["phone"],
                    told_at=uow.now,
                )
            )
            uow.audit(
                SYSTEM_ACTOR,
                "licence.periodic_medical_reminded",
                f"licence:{record['id']}",
                None,
                {"review_due": record["review_due"].isoformat(), "submit_by": by.isoformat()},
            )
            told += 1
        await uow.commit()
    return told
