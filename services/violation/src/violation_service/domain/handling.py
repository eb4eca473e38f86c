"""VI-02, VI-03: who may handle a violation online (exactly the seed's eligibility), the violation's and the
decision's states, the decision number and its payment reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from servicekit.refusal import refusal

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
