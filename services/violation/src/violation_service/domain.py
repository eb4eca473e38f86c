"""The violation rules (VI-01..VI-05): pure checks, state tables and named refusals, no I/O.

The time always comes in as an argument (the unit of work's `now`, read once from the platform clock).
ADR 0060 settles the readings the rules leave open: the online limit of 200 yuan includes 200, the
payment period counts 15 calendar days from the day after the decision is received, and the late fine
is 3% of the fine for each day after that, never more than the fine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from servicekit.clock import SHANGHAI
from servicekit.refusal import refusal

# --- VI-01: the camera record ------------------------------------------------------------------------

Penalty = Literal["warning", "fine"]
PENALTIES: tuple[str, ...] = ("warning", "fine")
# 一次记分的分值 of 《道路交通安全违法行为记分管理办法》.
POINT_VALUES: frozenset[int] = frozenset({0, 1, 3, 6, 9, 12})

PenaltyInconsistent = refusal("PENALTY_INCONSISTENT", "VI-01", 422)
RecordIdReused = refusal("RECORD_ID_REUSED", "VI-01")


def check_penalty(penalty: str, fine_fen: int, points: int) -> None:
    """VI-01: a warning carries no fine, a fine a positive amount; points take the values the points
    regulation knows."""
    if penalty == "warning" and fine_fen != 0:
        raise PenaltyInconsistent("a warning carries no fine (fine_fen must be 0)")
    if penalty == "fine" and fine_fen <= 0:
        raise PenaltyInconsistent("a fine needs a positive fine_fen")
    if points not in POINT_VALUES:
        raise PenaltyInconsistent(f"points must be one of {sorted(POINT_VALUES)}", extra={"points": points})


def check_same_record(stored_digest: str, new_digest: str) -> bool:
    """VI-01: intake is idempotent by the record's own ID. The same record again is taken as a repeat
    (True); the same ID with other facts is refused, since one of the two is wrong at its source."""
    if stored_digest != new_digest:
        raise RecordIdReused("this record ID was taken with other facts")
    return True


# --- VI-02: who may handle a violation online ---------------------------------------------------------

# "200元以下" includes 200 yuan (ADR 0060); money is in fen.
ONLINE_FINE_LIMIT_FEN = 20_000

AlreadyHandled = refusal("VIOLATION_ALREADY_HANDLED", "VI-03")
PersonalUsersOnly = refusal("PERSONAL_USERS_ONLY", "VI-02")
LicenceNotBound = refusal("LICENCE_NOT_BOUND", "VI-02")
VehicleNotBound = refusal("VEHICLE_NOT_BOUND", "VI-02")
FineAboveOnlineLimit = refusal("FINE_ABOVE_ONLINE_LIMIT", "VI-02")
PointsOnVehicleNotOwned = refusal("POINTS_ON_VEHICLE_NOT_OWNED", "VI-02")


@dataclass(frozen=True)
class Handler:
    """Who asks to handle: the account kind of the token and what the account has bound (ADR 0060)."""

    account_kind: str
    licence_bound: bool
    vehicle_bound: bool
    vehicle_owned: bool


@dataclass(frozen=True)
class ViolationFacts:
    state: str
    penalty: str
    fine_fen: int
    points: int


def check_handling(handler: Handler, violation: ViolationFacts) -> None:
    """VI-02 exactly as the seed says (电子监控处理): a personal user (registered online or at a counter)
    with a bound driving licence, for a bound vehicle's violation whose penalty is a warning or a fine of
    200 yuan or less, and never a violation with points on a bound vehicle the user does not own. VI-03:
    a violation is handled once."""
    if violation.state != "open":
        raise AlreadyHandled("this violation has been handled", extra={"state": violation.state})
    if handler.account_kind != "person":
        raise PersonalUsersOnly("camera violations are handled online by personal users")
    if not handler.licence_bound:
        raise LicenceNotBound("bind your driving licence to your account first, then handle violations")
    if not handler.vehicle_bound:
        raise VehicleNotBound("the vehicle is not bound to your account")
    if violation.penalty != "warning" and violation.fine_fen > ONLINE_FINE_LIMIT_FEN:
        raise FineAboveOnlineLimit(
            "a fine above 200 yuan is handled at a traffic police office",
            extra={"fine_fen": violation.fine_fen, "limit_fen": ONLINE_FINE_LIMIT_FEN},
        )
    if violation.points > 0 and not handler.vehicle_owned:
        raise PointsOnVehicleNotOwned(
            "a violation with points on a vehicle that is not yours is handled at a traffic police office",
            extra={"points": violation.points},
        )


def handling_refusal(handler: Handler, violation: ViolationFacts) -> str | None:
    """The code that would refuse handling, or None when the user may handle it (shown before asking)."""
    try:
        check_handling(handler, violation)
    except (
        AlreadyHandled,
        PersonalUsersOnly,
        LicenceNotBound,
        VehicleNotBound,
        FineAboveOnlineLimit,
        PointsOnVehicleNotOwned,
    ) as exc:
        return exc.code
    return None


# --- VI-03: the violation's and the decision's states -------------------------------------------------

VIOLATION_STATES: tuple[str, ...] = ("open", "decided")
# open → decided when a decision is issued; decided → open when it is revoked (it may be decided again).
VIOLATION_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "open": frozenset({"decided"}),
    "decided": frozenset({"open"}),
}
# A decision's payment: a fine is unpaid until a bank's notice books it; a warning has nothing to pay.
PAYMENT_STATES: tuple[str, ...] = ("unpaid", "paid", "not_applicable")
PAYMENT_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "unpaid": frozenset({"paid"}),
    "paid": frozenset(),
    "not_applicable": frozenset(),
}

WrongState = refusal("WRONG_STATE", "VI-03")


def check_transition(table: Mapping[str, frozenset[str]], current: str, target: str) -> None:
    if target not in table.get(current, frozenset()):
        raise WrongState(f"{current} cannot become {target}", extra={"state": current})


def initial_payment_state(penalty: str, fine_fen: int) -> str:
    """VI-04: a warning (or a fine of nothing) has nothing to pay."""
    return "unpaid" if penalty == "fine" and fine_fen > 0 else "not_applicable"


def decision_number(office_code: str, year: int, serial: int) -> str:
    """VI-03: 处罚决定书编号, the deciding office's division code, the year and an 8-digit serial of that
    office and year (`130104202700012345`)."""
    if not (len(office_code) == 6 and office_code.isdigit()) or not 0 < serial < 100_000_000:
        raise ValueError("an office code of 6 digits and a serial of 1..99999999")
    return f"{office_code}{year:04d}{serial:08d}"


def payment_reference(number: str) -> str:
    """VI-04: the payment reference (缴款编号) a bank counter types from the voucher: the decision number
    and a Luhn check digit, so that a mistyped reference is refused at the counter rather than paid."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return f"{number}{(10 - total % 10) % 10}"


def is_payment_reference(value: str) -> bool:
    return len(value) == 19 and value.isdigit() and payment_reference(value[:-1]) == value


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
