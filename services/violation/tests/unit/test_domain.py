"""The violation rules without I/O: VI-01 penalties, VI-02 eligibility, VI-03 numbers and states, VI-04
the payment period, the late fine, notices and the reconciliation."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from servicekit.clock import SHANGHAI
from servicekit.refusal import Refusal
from violation_service import domain
from violation_service.domain import Handler, ViolationFacts

DECIDED = datetime(2027, 3, 1, 9, 30, tzinfo=SHANGHAI)
OWNER = Handler(account_kind="person", licence_bound=True, vehicle_bound=True, vehicle_owned=True)
OPEN_FINE = ViolationFacts(state="open", penalty="fine", fine_fen=20_000, points=6)


def refused(code: str, rule: str, check: object, *args: object) -> None:
    with pytest.raises(Refusal) as caught:
        check(*args)  # type: ignore[operator]
    assert (caught.value.code, caught.value.rule) == (code, rule)


# --- VI-01 ---------------------------------------------------------------------------------------------


def test_vi01_a_warning_has_no_fine_and_a_fine_an_amount() -> None:
    domain.check_penalty("warning", 0, 0)
    domain.check_penalty("fine", 5_000, 3)
    refused("PENALTY_INCONSISTENT", "VI-01", domain.check_penalty, "warning", 5_000, 0)
    refused("PENALTY_INCONSISTENT", "VI-01", domain.check_penalty, "fine", 0, 0)


def test_vi01_points_take_the_values_of_the_points_regulation() -> None:
    for points in (0, 1, 3, 6, 9, 12):
        domain.check_penalty("fine", 10_000, points)
    for points in (2, 4, 13):
        refused("PENALTY_INCONSISTENT", "VI-01", domain.check_penalty, "fine", 10_000, points)


def test_vi01_the_same_record_id_with_other_facts_is_refused() -> None:
    assert domain.check_same_record("a" * 64, "a" * 64)
    refused("RECORD_ID_REUSED", "VI-01", domain.check_same_record, "a" * 64, "b" * 64)


# --- VI-02 ---------------------------------------------------------------------------------------------


def test_vi02_an_owner_with_a_bound_licence_handles_a_fine_with_points() -> None:
    domain.check_handling(OWNER, OPEN_FINE)
    assert domain.handling_refusal(OWNER, OPEN_FINE) is None


def test_vi02_200_yuan_is_included_and_200_yuan_and_a_fen_is_not() -> None:
    domain.check_handling(OWNER, ViolationFacts("open", "fine", 20_000, 0))
    refused(
        "FINE_ABOVE_ONLINE_LIMIT",
        "VI-02",
        domain.check_handling,
        OWNER,
        ViolationFacts("open", "fine", 20_001, 0),
    )


def test_vi02_a_warning_is_handled_online() -> None:
    domain.check_handling(OWNER, ViolationFacts("open", "warning", 0, 0))


def test_vi02_counter_and_online_personal_users_alike_but_not_units() -> None:
    refused(
        "PERSONAL_USERS_ONLY",
        "VI-02",
        domain.check_handling,
        Handler("unit", True, True, True),
        OPEN_FINE,
    )


def test_vi02_without_a_bound_licence_nothing_is_handled() -> None:
    refused(
        "LICENCE_NOT_BOUND",
        "VI-02",
        domain.check_handling,
        Handler("person", False, True, True),
        ViolationFacts("open", "warning", 0, 0),
    )


def test_vi02_only_violations_of_bound_vehicles() -> None:
    refused(
        "VEHICLE_NOT_BOUND", "VI-02", domain.check_handling, Handler("person", True, False, False), OPEN_FINE
    )


def test_vi02_points_on_a_bound_vehicle_not_owned_are_excluded_but_not_a_fine_without_points() -> None:
    borrower = Handler("person", True, vehicle_bound=True, vehicle_owned=False)
    refused("POINTS_ON_VEHICLE_NOT_OWNED", "VI-02", domain.check_handling, borrower, OPEN_FINE)
    domain.check_handling(borrower, ViolationFacts("open", "fine", 20_000, 0))
    assert domain.handling_refusal(borrower, OPEN_FINE) == "POINTS_ON_VEHICLE_NOT_OWNED"


def test_vi03_a_violation_is_handled_once() -> None:
    refused(
        "VIOLATION_ALREADY_HANDLED",
        "VI-03",
        domain.check_handling,
        OWNER,
        ViolationFacts("decided", "fine", 20_000, 6),
    )


# --- VI-03 ---------------------------------------------------------------------------------------------


def test_vi03_decision_numbers_are_office_year_and_an_8_digit_serial() -> None:
    assert domain.decision_number("130104", 2027, 12345) == "130104202700012345"
    with pytest.raises(ValueError, match="serial"):
        domain.decision_number("130104", 2027, 0)


def test_vi03_state_tables() -> None:
    domain.check_transition(domain.VIOLATION_TRANSITIONS, "open", "decided")
    domain.check_transition(domain.PAYMENT_TRANSITIONS, "unpaid", "paid")
    refused("WRONG_STATE", "VI-03", domain.check_transition, domain.PAYMENT_TRANSITIONS, "paid", "unpaid")
    assert domain.initial_payment_state("warning", 0) == "not_applicable"
    assert domain.initial_payment_state("fine", 5_000) == "unpaid"


# --- VI-04 ---------------------------------------------------------------------------------------------


def test_vi04_the_payment_reference_carries_a_check_digit() -> None:
    reference = domain.payment_reference("130104202700012345")
    assert len(reference) == 19
    assert domain.is_payment_reference(reference)
    typo = reference[:-2] + str((int(reference[-2]) + 1) % 10) + reference[-1]
    assert not domain.is_payment_reference(typo)


def test_vi04_fifteen_days_from_the_day_after_receipt_then_3_percent_a_day_from_the_16th() -> None:
    assert domain.pay_by(DECIDED) == date(2027, 3, 16)
    day = lambda d: datetime(2027, 3, d, 23, 59, tzinfo=SHANGHAI)  # noqa: E731
    assert domain.amount_due(20_000, DECIDED, day(16)).late_fee_fen == 0  # the 15th day: on time
    due = domain.amount_due(20_000, DECIDED, datetime(2027, 3, 17, 0, 0, tzinfo=SHANGHAI))  # the 16th
    assert (due.late_days, due.late_fee_fen, due.total_fen) == (1, 600, 20_600)
    assert domain.amount_due(20_000, DECIDED, day(26)).late_fee_fen == 6_000  # 10 days late


def test_vi04_the_day_is_shanghais_whatever_the_offset_of_the_instant() -> None:
    decided_utc = datetime(2027, 3, 1, 16, 30, tzinfo=UTC)  # 00:30 on 2 March in Shanghai
    assert domain.pay_by(decided_utc) == date(2027, 3, 17)


def test_vi04_the_late_fine_never_passes_the_fine() -> None:
    at_33 = datetime(2027, 4, 18, 12, 0, tzinfo=SHANGHAI)  # 33 days late: 99%
    at_34 = datetime(2027, 4, 19, 12, 0, tzinfo=SHANGHAI)  # 34 days late: 102%, capped
    assert domain.amount_due(20_000, DECIDED, at_33).late_fee_fen == 19_800
    assert domain.amount_due(20_000, DECIDED, at_34).late_fee_fen == 20_000
    assert domain.amount_due(20_000, DECIDED, datetime(2028, 1, 1, tzinfo=SHANGHAI)).total_fen == 40_000


def test_vi04_the_late_fine_is_rounded_down_to_the_fen() -> None:
    at = datetime(2027, 3, 17, 12, 0, tzinfo=SHANGHAI)
    assert domain.amount_due(5_050, DECIDED, at).late_fee_fen == 151  # 151.5 fen


def test_vi04_an_order_holds_until_midnight_in_shanghai() -> None:
    at = datetime(2027, 3, 1, 23, 0, tzinfo=SHANGHAI)
    assert domain.end_of_local_day(at) == datetime(2027, 3, 2, tzinfo=SHANGHAI)


def test_vi04_only_an_unpaid_fine_is_paid() -> None:
    domain.check_payable("unpaid")
    refused("NOTHING_TO_PAY", "VI-04", domain.check_payable, "paid")
    refused("NOTHING_TO_PAY", "VI-04", domain.check_payable, "not_applicable")


def _notice(amount: int = 20_000, status: str = "SUCCESS") -> domain.Notice:
    return domain.Notice("sim", "T1", "O1", None, amount, DECIDED, status)


def test_vi04_a_notice_books_only_when_signed_new_known_successful_and_exact() -> None:
    ok = {"found": True, "already_booked_txn": False, "decision_payment_state": "unpaid", "due_fen": 20_000}
    assert domain.classify_notice(_notice(), signature_ok=True, **ok) == "booked"  # type: ignore[arg-type]
    assert domain.classify_notice(_notice(), signature_ok=False, **ok) == "forged"  # type: ignore[arg-type]
    assert (
        domain.classify_notice(_notice(), signature_ok=True, **(ok | {"already_booked_txn": True}))  # type: ignore[arg-type]
        == "replayed"
    )
    assert domain.classify_notice(_notice(), signature_ok=True, **(ok | {"found": False})) == "unknown_order"  # type: ignore[arg-type]
    assert domain.classify_notice(_notice(19_999), signature_ok=True, **ok) == "amount_mismatch"  # type: ignore[arg-type]
    assert domain.classify_notice(_notice(status="FAIL"), signature_ok=True, **ok) == "not_paid"  # type: ignore[arg-type]
    paid = ok | {"decision_payment_state": "paid"}
    assert domain.classify_notice(_notice(), signature_ok=True, **paid) == "duplicate_payment"  # type: ignore[arg-type]


def test_vi04_the_reconciliation_finds_each_kind_of_difference() -> None:
    at = DECIDED
    statement = [
        domain.StatementLine("A", "O-A", None, 100, at),  # booked, same: no difference
        domain.StatementLine("B", "O-B", None, 200, at),  # lost notice, our order
        domain.StatementLine("C", None, "R-C", 300, at),  # booked with another amount
        domain.StatementLine("D", "O-X", None, 400, at),  # an order we never made
    ]
    booked = [domain.Booked("A", 100), domain.Booked("C", 299), domain.Booked("E", 500)]
    found = domain.differences(statement, booked, frozenset({"O-A", "O-B", "R-C"}))
    assert [(d.kind, d.bank_txn_id, d.statement_fen, d.platform_fen) for d in found] == [
        ("amount_differs", "C", 300, 299),
        ("missing_notice", "B", 200, None),
        ("not_at_bank", "E", None, 500),
        ("unknown_at_platform", "D", 400, None),
    ]
