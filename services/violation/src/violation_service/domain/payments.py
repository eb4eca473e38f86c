"""VI-04: the payment period and the late fine (ADR 0060), a payment's notices from the bank and the daily
reconciliation against its statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from servicekit.clock import SHANGHAI
from servicekit.refusal import refusal

# --- VI-04: the payment period and the late fine ------------------------------------------------------

PAYMENT_DAYS = 15  # 《行政处罚法》 art. 67: within 15 days of receiving the decision
LATE_FEE_PERCENT_PER_DAY = 3  # art. 72(1), 《道路交通安全法》 art. 109(1)


def received_on(decided_at: datetime) -> date:
    """The day the decision is received: handled online, it is served at once (当场交付), in Shanghai."""
    return decided_at.astimezone(SHANGHAI).date()


def pay_by(decided_at: datetime) -> date:
    """VI-04 (ADR 0060): the last day without a late fine. The day of receipt is not counted; the 15 days
    are calendar days (art. 85 makes working days only of 二日 to 七日) and not extended over holidays,
    since online and bank payment are open every day."""
    return received_on(decided_at) + timedelta(days=PAYMENT_DAYS)


def late_days(decided_at: datetime, at: datetime) -> int:
    """VI-04: the days of late fine at `at`: 1 on the 16th day after receipt, one more each day."""
    return max(0, (at.astimezone(SHANGHAI).date() - pay_by(decided_at)).days)


@dataclass(frozen=True)
class AmountDue:
    fine_fen: int
    late_fee_fen: int
    late_days: int
    pay_by: date

    @property
    def total_fen(self) -> int:
        return self.fine_fen + self.late_fee_fen


def amount_due(fine_fen: int, decided_at: datetime, at: datetime) -> AmountDue:
    """VI-04: the fine and the late fine at `at`: 3% of the fine for each late day, rounded down to the
    fen (never against the payer), and never more than the fine itself."""
    days = late_days(decided_at, at)
    late = min(fine_fen, fine_fen * LATE_FEE_PERCENT_PER_DAY * days // 100)
    return AmountDue(fine_fen=fine_fen, late_fee_fen=late, late_days=days, pay_by=pay_by(decided_at))


def end_of_local_day(at: datetime) -> datetime:
    """The instant the Shanghai day of `at` ends: an online order's amount holds until then, since the
    late fine may change at midnight."""
    day = at.astimezone(SHANGHAI).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


# --- VI-04: payments, bank notices and the daily reconciliation ---------------------------------------

PaymentNotDue = refusal("NOTHING_TO_PAY", "VI-04")
NoticeOutcome = Literal[
    "booked", "replayed", "forged", "unknown_order", "amount_mismatch", "duplicate_payment", "not_paid"
]
# An online order: created → paid (the bank's notice or the reconciliation books it), or expired at the
# end of its day unpaid (a late notice for it still books when its amount is the amount due then).
ORDER_STATES: tuple[str, ...] = ("created", "paid", "expired", "refund_due")


def check_payable(payment_state: str) -> None:
    """VI-04: only an unpaid fine is paid."""
    if payment_state != "unpaid":
        raise PaymentNotDue(f"the decision's payment is {payment_state}", extra={"payment": payment_state})


@dataclass(frozen=True)
class Notice:
    """What a bank's signed notice says: one payment it took."""

    bank: str
    bank_txn_id: str
    order_number: str | None  # online: the order the platform made
    payment_reference: str | None  # at a counter: the voucher's reference
    amount_fen: int
    paid_at: datetime
    status: str  # the bank's word: "SUCCESS" books, anything else is not a payment


def classify_notice(
    notice: Notice,
    *,
    signature_ok: bool,
    found: bool,
    already_booked_txn: bool,
    decision_payment_state: str | None,
    due_fen: int | None,
) -> NoticeOutcome:
    """VI-04: what a bank notice does. A bad signature changes nothing (forged or altered); a notice for a
    transaction already booked changes nothing (replayed); a notice of no payment of ours, or not a
    success, books nothing; an amount other than the amount due at the bank's payment time books nothing
    (kept for the reconciliation); money for a decision already paid is a second payment (refund due)."""
    if not signature_ok:
        return "forged"
    if already_booked_txn:
        return "replayed"
    if not found:
        return "unknown_order"
    if notice.status != "SUCCESS":
        return "not_paid"
    if decision_payment_state == "paid":
        return "duplicate_payment"
    if due_fen is None or notice.amount_fen != due_fen:
        return "amount_mismatch"
    return "booked"


DifferenceKind = Literal["missing_notice", "not_at_bank", "amount_differs", "unknown_at_platform"]


@dataclass(frozen=True)
class StatementLine:
    """One line of a bank's daily statement file."""

    bank_txn_id: str
    order_number: str | None
    payment_reference: str | None
    amount_fen: int
    paid_at: datetime


@dataclass(frozen=True)
class Booked:
    """A payment the platform booked (or was told of) for the same bank and day."""

    bank_txn_id: str
    amount_fen: int


@dataclass(frozen=True)
class Difference:
    kind: DifferenceKind
    bank_txn_id: str
    statement_fen: int | None
    platform_fen: int | None


def differences(
    statement: Sequence[StatementLine], booked: Sequence[Booked], known_refs: frozenset[str]
) -> list[Difference]:
    """VI-04: the daily reconciliation, by the bank's transaction id. In the statement but not booked:
    the notice was lost (`missing_notice`, repairable when the line names an order or reference of ours,
    else `unknown_at_platform`); booked but not in the statement: `not_at_bank`; in both with other
    amounts: `amount_differs`. `known_refs` are the order numbers and payment references the platform
    issued among those the statement names."""
    by_txn = {b.bank_txn_id: b for b in booked}
    found: list[Difference] = []
    seen: set[str] = set()
    for line in statement:
        seen.add(line.bank_txn_id)
        mine = by_txn.get(line.bank_txn_id)
        if mine is None:
            ref = line.order_number or line.payment_reference
            kind: DifferenceKind = "missing_notice" if ref in known_refs else "unknown_at_platform"
            found.append(Difference(kind, line.bank_txn_id, line.amount_fen, None))
        elif mine.amount_fen != line.amount_fen:
            found.append(Difference("amount_differs", line.bank_txn_id, line.amount_fen, mine.amount_fen))
    for b in booked:
        if b.bank_txn_id not in seen:
            found.append(Difference("not_at_bank", b.bank_txn_id, None, b.amount_fen))
    return sorted(found, key=lambda d: (d.kind, d.bank_txn_id))
