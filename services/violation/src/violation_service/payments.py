"""VI-04: paying a decision's fine. An online order for a bank's website; a bank's signed notice booking a
payment (once per bank transaction, whatever the number of replays; an amount other than the amount due
books nothing); the daily reconciliation against the bank's statement, which books what a lost notice
left out and reports every other difference. All on the platform clock; the late fine of what a bank
took is computed at the bank's (signed) payment time.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping

from servicekit.clock import SHANGHAI
from servicekit.ids import new_id
from servicekit.refusal import refusal
from servicekit.uow import Actor, UnitOfWork
from servicekit.web import NotFound, Principal
from violation_service import domain, handling
from violation_service import published as ev
from violation_service.banks import Bank
from violation_service.context import ViolationContext
from violation_service.tables import (
    bank_notices,
    bank_transactions,
    decisions,
    payment_orders,
    reconciliations,
    violations,
)

UnknownBank = refusal("UNKNOWN_BANK", "VI-04", 422)
DecisionRevoked = refusal("DECISION_REVOKED", "VI-04")
StatementNotGenuine = refusal("STATEMENT_SIGNATURE_INVALID", "VI-04", 422)
StatementOfAnotherDay = refusal("STATEMENT_OF_ANOTHER_DAY", "VI-04", 422)
VoucherInvalid = refusal("VOUCHER_INVALID", "VI-04", 422)
NoticeSignatureInvalid = refusal("NOTICE_SIGNATURE_INVALID", "VI-04", 400)


def bank_of(ctx: ViolationContext, code: str) -> Bank:
    bank = ctx.banks.get(code)
    if bank is None:
        raise UnknownBank(f"no bank {code!r} takes fines here", extra={"banks": sorted(ctx.banks)})
    return bank


def check_open(decision: RowMapping) -> None:
    if decision["revoked_at"] is not None:
        raise DecisionRevoked("the decision was revoked: nothing to pay")
    domain.check_payable(decision["payment_state"])


def due_now(decision: RowMapping, at: datetime) -> domain.AmountDue:
    return domain.amount_due(decision["fine_fen"], decision["decided_at"], at)


# --- online orders --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    row: RowMapping
    pay_url: str


async def create_order(
    uow: UnitOfWork,
    ctx: ViolationContext,
    principal: Principal,
    actor: Actor,
    decision_id: uuid.UUID,
    bank: str,
) -> Order:
    """VI-04: an order for the amount due today (the fine and any late fine), valid until midnight, when
    the late fine may change; the payer pays it on the bank's website."""
    chosen = bank_of(ctx, bank)
    decision, _ = await handling.decision_for(uow, principal, decision_id)
    check_open(decision)
    due = due_now(decision, uow.now)
    order_number = f"VI{uow.now.astimezone(SHANGHAI):%Y%m%d}{new_id().hex[-16:].upper()}"
    row: RowMapping = (
        (
            await uow.session.execute(
                insert(payment_orders)
                .values(
                    id=new_id(),
                    order_number=order_number,
                    decision_id=decision_id,
                    account_id=principal.subject,
                    bank=bank,
                    amount_fen=due.total_fen,
                    fine_fen=due.fine_fen,
                    late_fee_fen=due.late_fee_fen,
                    state="created",
                    created_at=uow.now,
                    expires_at=domain.end_of_local_day(uow.now),
                )
                .returning(payment_orders)
            )
        )
        .mappings()
        .one()
    )
    uow.audit(actor, "payment.order_created", f"decision:{decision_id}", after={"order": order_number})
    return Order(row, chosen.checkout_url(order_number, due.total_fen, row["expires_at"]))


# --- notices and booking --------------------------------------------------------------------------------


async def receive_notice(uow: UnitOfWork, ctx: ViolationContext, bank_code: str, body: bytes) -> str:
    """VI-04: a bank's notice. A bad signature (forged, or altered after signing) changes nothing but its
    own record; otherwise the payment is booked at most once (`book`)."""
    bank = ctx.banks.get(bank_code)
    if bank is None:
        raise NotFound("bank")
    verified = bank.read_notice(body)
    outcome = "forged"
    if verified.signature_ok and verified.notice is not None:
        outcome = await book(uow, ctx, verified.notice, via="notice")
    await uow.session.execute(
        insert(bank_notices).values(
            id=new_id(),
            bank=bank_code,
            received_at=uow.now,
            signature_ok=verified.signature_ok,
            bank_txn_id=verified.notice.bank_txn_id if verified.notice else None,
            outcome=outcome,
            body=body.decode("utf-8", "replace").replace("\x00", "")[:10_000],
        )
    )
    return outcome


async def _target(uow: UnitOfWork, notice: domain.Notice) -> tuple[RowMapping | None, RowMapping | None]:
    """The order (online) or none, and the decision (locked), that a notice pays."""
    order = None
    decision_id = None
    if notice.order_number:
        order = (
            (
                await uow.session.execute(
                    select(payment_orders)
                    .where(
                        payment_orders.c.order_number == notice.order_number,
                        payment_orders.c.bank == notice.bank,
                    )
                    .with_for_update()
                )
            )
            .mappings()
            .first()
        )
        decision_id = order["decision_id"] if order else None
        where = decisions.c.id == decision_id
    elif notice.payment_reference and domain.is_payment_reference(notice.payment_reference):
        where = decisions.c.payment_reference == notice.payment_reference
    else:
        return None, None
    if notice.order_number and decision_id is None:
        return None, None
    decision = (
        (await uow.session.execute(select(decisions).where(where).with_for_update())).mappings().first()
    )
    return order, decision


def _expected(order: RowMapping | None, decision: RowMapping, notice: domain.Notice, now: datetime) -> int:
    """What the bank should have taken: the order's amount while the order held, else the amount due at
    the bank's payment time (never later than now: a payment time in the future is not believed)."""
    paid_at = min(notice.paid_at, now)
    if order is not None and paid_at < order["expires_at"]:
        return int(order["amount_fen"])
    return due_now(decision, paid_at).total_fen


async def book(uow: UnitOfWork, ctx: ViolationContext, notice: domain.Notice, *, via: str) -> str:
    """VI-04: what a verified payment does, decided by `domain.classify_notice` under the decision's row
    lock (ten replays at once find the first one's transaction and book nothing)."""
    order, decision = await _target(uow, notice)
    known = (
        await uow.session.execute(
            select(bank_transactions.c.id).where(
                bank_transactions.c.bank == notice.bank, bank_transactions.c.bank_txn_id == notice.bank_txn_id
            )
        )
    ).first()
    outcome = domain.classify_notice(
        notice,
        signature_ok=True,
        found=decision is not None,
        already_booked_txn=known is not None,
        decision_payment_state=decision["payment_state"] if decision else None,
        due_fen=_expected(order, decision, notice, uow.now) if decision else None,
    )
    if outcome in ("replayed", "not_paid"):
        return outcome
    if decision is not None and decision["revoked_at"] is not None and outcome == "booked":
        outcome = "duplicate_payment"  # money for a revoked decision goes back like a second payment
    inserted = await uow.session.execute(
        insert(bank_transactions)
        .values(
            id=new_id(),
            bank=notice.bank,
            bank_txn_id=notice.bank_txn_id,
            order_number=notice.order_number,
            payment_reference=notice.payment_reference,
            decision_id=decision["id"] if decision else None,
            amount_fen=notice.amount_fen,
            paid_at=notice.paid_at,
            paid_on=notice.paid_at.astimezone(SHANGHAI).date(),
            outcome=outcome,
            received_via=via,
            recorded_at=uow.now,
        )
        .on_conflict_do_nothing(constraint="uq_bank_transactions_bank_txn")
        .returning(bank_transactions.c.id)
    )
    payment_id = inserted.scalar_one_or_none()
    if payment_id is None:
        return "replayed"  # a twin without an order or decision to lock got there first
    if outcome == "booked" and decision is not None:
        await _book(uow, order, decision, notice, payment_id, via)
    elif outcome == "duplicate_payment" and order is not None:
        await uow.session.execute(
            update(payment_orders).where(payment_orders.c.id == order["id"]).values(state="refund_due")
        )
    uow.audit(
        Actor(id=notice.bank, role="bank"),
        f"payment.{outcome}",
        f"bank:{notice.bank}:{notice.bank_txn_id}",
        after={
            "amount_fen": notice.amount_fen,
            "via": via,
            "decision": str(decision["id"]) if decision else None,
        },
    )
    return outcome


async def _book(
    uow: UnitOfWork,
    order: RowMapping | None,
    decision: RowMapping,
    notice: domain.Notice,
    payment_id: uuid.UUID,
    via: str,
) -> None:
    domain.check_transition(domain.PAYMENT_TRANSITIONS, decision["payment_state"], "paid")
    late_fee = notice.amount_fen - decision["fine_fen"]
    await uow.session.execute(
        update(decisions)
        .where(decisions.c.id == decision["id"])
        .values(
            payment_state="paid",
            paid_at=notice.paid_at,
            paid_fen=notice.amount_fen,
            late_fee_fen=late_fee,
            updated_at=uow.now,
        )
    )
    if order is not None:
        await uow.session.execute(
            update(payment_orders)
            .where(payment_orders.c.id == order["id"])
            .values(state="paid", bank_txn_id=notice.bank_txn_id, paid_at=notice.paid_at)
        )
    plate = (
        await uow.session.execute(
            select(violations.c.plate_number).where(violations.c.id == decision["violation_id"])
        )
    ).scalar_one()
    uow.emit(
        ev.PaymentConfirmed(
            payment_id=str(payment_id),
            decision_id=str(decision["id"]),
            decision_number=decision["number"],
            violation_id=str(decision["violation_id"]),
            plate_number=plate,
            bank=notice.bank,
            bank_txn_id=notice.bank_txn_id,
            channel="online" if order is not None else "counter",
            amount_fen=notice.amount_fen,
            fine_fen=decision["fine_fen"],
            late_fee_fen=late_fee,
            paid_at=notice.paid_at,
            booked_by="notice" if via == "notice" else "reconciliation",
            phone=decision["phone"],
        )
    )


# --- the daily reconciliation ---------------------------------------------------------------------------


async def reconcile(
    uow: UnitOfWork,
    ctx: ViolationContext,
    actor: Actor,
    bank_code: str,
    day: date,
    content: bytes,
    signature: str,
) -> RowMapping:
    """VI-04: the bank's statement of `day` against every payment the platform recorded for that bank and
    day. A payment whose notice was lost is booked now (as its notice would have been); every other
    difference is reported: a payment recorded here that the bank does not list, another amount, a
    payment of no order or reference of ours, and what was recorded but not booked (an amount other than
    the amount due, money for a decision already paid: a refund is due)."""
    bank = bank_of(ctx, bank_code)
    try:
        lines = bank.read_statement(content, signature)
    except ValueError as exc:
        raise StatementNotGenuine(f"the statement cannot be read: {exc}") from None
    if lines is None:
        raise StatementNotGenuine("the statement's signature is not the bank's")
    other = sorted({str(line.paid_at.astimezone(SHANGHAI).date()) for line in lines} - {str(day)})
    if other:
        raise StatementOfAnotherDay(
            f"the statement lists payments of {', '.join(other)}", extra={"days": other}
        )
    recorded = (
        (
            await uow.session.execute(
                select(bank_transactions).where(
                    bank_transactions.c.bank == bank_code, bank_transactions.c.paid_on == day
                )
            )
        )
        .mappings()
        .all()
    )
    refs = {ref for line in lines for ref in (line.order_number, line.payment_reference) if ref}
    known = set(
        (
            await uow.session.execute(
                select(payment_orders.c.order_number).where(payment_orders.c.order_number.in_(refs))
            )
        ).scalars()
    ) | set(
        (
            await uow.session.execute(
                select(decisions.c.payment_reference).where(decisions.c.payment_reference.in_(refs))
            )
        ).scalars()
    )
    found = domain.differences(
        lines, [domain.Booked(r["bank_txn_id"], r["amount_fen"]) for r in recorded], frozenset(known)
    )
    by_txn = {line.bank_txn_id: line for line in lines}
    report: list[dict[str, Any]] = []
    for difference in found:
        entry: dict[str, Any] = {
            "kind": difference.kind,
            "bank_txn_id": difference.bank_txn_id,
            "statement_fen": difference.statement_fen,
            "platform_fen": difference.platform_fen,
            "repair": None,
        }
        if difference.kind == "missing_notice":
            line = by_txn[difference.bank_txn_id]
            notice = domain.Notice(
                bank_code,
                line.bank_txn_id,
                line.order_number,
                line.payment_reference,
                line.amount_fen,
                line.paid_at,
                "SUCCESS",
            )
            entry["repair"] = await book(uow, ctx, notice, via="reconciliation")
        report.append(entry)
    for held in recorded:
        if held["outcome"] in ("amount_mismatch", "duplicate_payment", "unknown_order"):
            report.append(
                {
                    "kind": "refund_due" if held["outcome"] == "duplicate_payment" else held["outcome"],
                    "bank_txn_id": held["bank_txn_id"],
                    "statement_fen": by_txn[held["bank_txn_id"]].amount_fen
                    if held["bank_txn_id"] in by_txn
                    else None,
                    "platform_fen": held["amount_fen"],
                    "repair": None,
                }
            )
    row: RowMapping = (
        (
            await uow.session.execute(
                insert(reconciliations)
                .values(
                    id=new_id(),
                    bank=bank_code,
                    day=day,
                    statement_sha256=hashlib.sha256(content).hexdigest(),
                    lines=len(lines),
                    differences=report,
                    ran_at=uow.now,
                    ran_by=actor.id,
                )
                .returning(reconciliations)
            )
        )
        .mappings()
        .one()
    )
    uow.audit(actor, "payment.reconciled", f"bank:{bank_code}:{day}", after={"differences": len(report)})
    return row
