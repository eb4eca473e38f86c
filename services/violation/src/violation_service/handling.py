"""VI-02/VI-03: a bound user handles a camera violation online. `eligibility` tells whether they may
(VI-02, as the seed says), `send_code` sends the SMS code to the account's registered phone, `handle`
takes the code and issues the penalty decision (处罚决定书): a numbered document, its PDF kept (AR-01), and
`violation.decision.issued.v1` for license's points (DL-12), notify's SMS (NT-01) and other police
systems (VI-05). One decision per violation, however many bound users confirm at once: the violation's
row is locked and re-checked, and a partial unique index stands behind it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping

from servicekit.clock import SHANGHAI
from servicekit.documents import PDF
from servicekit.ids import new_id
from servicekit.masking import mask_phone
from servicekit.refusal import refusal
from servicekit.uow import Actor, UnitOfWork
from servicekit.web import NotFound, Principal
from violation_service import access, domain, intake, papers, projections
from violation_service import published as ev
from violation_service.commands import SendSms
from violation_service.context import ViolationContext
from violation_service.tables import decision_serials, decisions, violations

PhoneRequired = refusal("REGISTERED_PHONE_REQUIRED", "VI-03")
DECISION_DOCUMENT = "penalty_decision"


def code_purpose(violation_id: uuid.UUID) -> str:
    """The SMS code is for this violation's handling only (a code for one step is never another's)."""
    return f"vi03-{violation_id}"


async def handler_of(uow: UnitOfWork, principal: Principal, row: RowMapping) -> domain.Handler:
    """VI-02: what the projections know of the caller: their licence binding and the vehicle's."""
    licence = await projections.bound_licence(uow, principal.subject)
    vehicle = await projections.vehicle_binding(
        uow, principal.subject, row["plate_kind"], row["plate_number"]
    )
    return domain.Handler(
        account_kind=principal.account_kind,
        licence_bound=licence is not None,
        vehicle_bound=vehicle.bound,
        vehicle_owned=vehicle.owned,
    )


def facts(row: RowMapping) -> domain.ViolationFacts:
    return domain.ViolationFacts(
        state=row["state"], penalty=row["penalty"], fine_fen=row["fine_fen"], points=row["points"]
    )


async def eligibility(uow: UnitOfWork, principal: Principal, row: RowMapping) -> str | None:
    """VI-02 for the detail view: None when the caller may handle it, else the refusal's code."""
    return domain.handling_refusal(await handler_of(uow, principal, row), facts(row))


@dataclass(frozen=True)
class CodeSent:
    sent_to: str  # masked
    expires_at: datetime


async def send_code(
    uow: UnitOfWork, ctx: ViolationContext, principal: Principal, violation_id: uuid.UUID
) -> CodeSent:
    """VI-03: after the VI-02 check, a code to the account's registered phone (the token's `phn`, ADR
    0047), sent by notify; NT-02's limits hold (1 a minute, 10 a day per phone)."""
    row = await access.violation_for(uow, principal, violation_id)
    domain.check_handling(await handler_of(uow, principal, row), facts(row))
    if not principal.phone:
        raise PhoneRequired("the account has no registered phone for the SMS code")
    issued = await ctx.codes.issue(principal.phone, code_purpose(violation_id))
    minutes = max(1, round((issued.expires_at - uow.now).total_seconds() / 60))
    uow.emit(
        SendSms(
            phone=principal.phone,
            template="verification_code",
            params={"code": issued.code, "minutes": str(minutes)},
            account_id=principal.subject,
        )
    )
    return CodeSent(sent_to=mask_phone(principal.phone), expires_at=issued.expires_at)


async def _next_serial(uow: UnitOfWork, office_code: str, year: int) -> int:
    stmt = insert(decision_serials).values(office_code=office_code, year=year, last=1)
    serial = await uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[decision_serials.c.office_code, decision_serials.c.year],
            set_={"last": decision_serials.c.last + 1},
        ).returning(decision_serials.c.last)
    )
    return int(serial.scalar_one())


async def handle(
    uow: UnitOfWork,
    ctx: ViolationContext,
    principal: Principal,
    actor: Actor,
    violation_id: uuid.UUID,
    code: str,
) -> RowMapping:
    """VI-03: the code right, the violation still open and the caller still eligible: the decision issued."""
    row = await access.violation_for(uow, principal, violation_id)
    domain.check_handling(await handler_of(uow, principal, row), facts(row))
    if not principal.phone:
        raise PhoneRequired("the account has no registered phone for the SMS code")
    await ctx.codes.verify(principal.phone, code_purpose(violation_id), code)
    # Two bound users confirming at once: the second waits here, then finds the violation decided.
    row = await access.violation_for(uow, principal, violation_id, lock=True)
    domain.check_handling(await handler_of(uow, principal, row), facts(row))
    licence = await projections.bound_licence(uow, principal.subject)
    assert licence is not None  # check_handling required it
    return await issue(uow, ctx, actor, row, principal.subject, licence, principal.phone)


async def issue(
    uow: UnitOfWork,
    ctx: ViolationContext,
    actor: Actor,
    row: RowMapping,
    account_id: str,
    licence: projections.Licence,
    phone: str | None,
) -> RowMapping:
    """VI-03: number, row, PDF, the violation decided, the event; in the caller's unit of work."""
    domain.check_transition(domain.VIOLATION_TRANSITIONS, row["state"], "decided")
    year = uow.now.astimezone(SHANGHAI).year
    number = domain.decision_number(
        row["office_code"], year, await _next_serial(uow, row["office_code"], year)
    )
    decision_id = new_id()
    payment_state = domain.initial_payment_state(row["penalty"], row["fine_fen"])
    paper = papers.DecisionPaper(
        number=number,
        driver_name=licence.holder_name,
        driver_id_number=licence.number,
        plate_number=row["plate_number"],
        violated_at=row["violated_at"],
        place=row["place"],
        violation_code=row["violation_code"],
        description=row["description"],
        penalty=row["penalty"],
        fine_fen=row["fine_fen"],
        points=row["points"],
        decided_at=uow.now,
        pay_by=domain.pay_by(uow.now),
        payment_reference=domain.payment_reference(number),
        office_code=row["office_code"],
    )
    document = await ctx.documents.store(
        uow.session,
        papers.render_decision(ctx.secret, paper),
        case_ref=intake.case_ref(row["id"]),
        owner=account_id,
        kind=DECISION_DOCUMENT,
        allowed=(PDF,),
        created_by=actor.id,
        now=uow.now,
    )
    decision: RowMapping = (
        (
            await uow.session.execute(
                insert(decisions)
                .values(
                    id=decision_id,
                    number=number,
                    violation_id=row["id"],
                    account_id=account_id,
                    driver_id_number=licence.number,
                    driver_name=licence.holder_name,
                    phone=phone,
                    office_code=row["office_code"],
                    penalty=row["penalty"],
                    fine_fen=row["fine_fen"],
                    points=row["points"],
                    decided_at=uow.now,
                    pay_by=paper.pay_by,
                    payment_reference=paper.payment_reference,
                    payment_state=payment_state,
                    document_id=document.id,
                    updated_at=uow.now,
                )
                .returning(decisions)
            )
        )
        .mappings()
        .one()
    )
    await uow.session.execute(
        update(violations)
        .where(violations.c.id == row["id"])
        .values(state="decided", updated_at=uow.now, version=violations.c.version + 1)
    )
    fine = payment_state == "unpaid"
    uow.emit(
        ev.DecisionIssued(
            decision_id=str(decision_id),
            decision_number=number,
            violation_id=str(row["id"]),
            driver_id_number=licence.number,
            plate_number=row["plate_number"],
            violation_code=row["violation_code"],
            violated_at=row["violated_at"],
            place=row["place"],
            points=row["points"],
            fine_fen=row["fine_fen"],
            decided_at=uow.now,
            phone=phone,
            payment_reference=paper.payment_reference if fine else None,
            pay_by=paper.pay_by if fine else None,
        )
    )
    uow.audit(
        actor,
        "violation.decision_issued",
        intake.case_ref(row["id"]),
        before={"state": row["state"]},
        after={"state": "decided", "decision": number, "points": row["points"], "fine_fen": row["fine_fen"]},
    )
    return decision


async def decision_for(
    uow: UnitOfWork, principal: Principal, decision_id: uuid.UUID
) -> tuple[RowMapping, RowMapping]:
    """The decision and its violation, to the handling account, a clerk of the city or a system client;
    anyone else 404 (VI-05)."""
    row = (
        (await uow.session.execute(select(decisions).where(decisions.c.id == decision_id))).mappings().first()
    )
    if row is None or not may_see_decision(principal, row):
        raise NotFound("decision")
    violation = await access.load(uow, row["violation_id"])
    if violation is None:  # a decision's violation is never deleted
        raise NotFound("decision")
    return row, violation


def may_see_decision(principal: Principal, row: RowMapping) -> bool:
    if access.is_system(principal):
        return True
    if principal.is_staff:
        return access.same_city(principal.office, row["office_code"])
    return bool(row["account_id"] == principal.subject)
