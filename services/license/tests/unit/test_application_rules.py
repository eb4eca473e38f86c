"""The application rules added by ADR 0051, pure: deferrals (DL-06), the validity ladder (DL-07), the
medical certificate's life (DL-09), the periodic certificate (DL-10), the workflow and its ban (VH-07)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from pydantic import ValidationError

from license_service import domain
from license_service.subscriptions import VehicleDeliveryBan
from servicekit.clock import SHANGHAI
from servicekit.refusal import Refusal

TODAY = date(2027, 3, 1)


def refused(call: object, *args: object, **kwargs: object) -> Refusal:
    with pytest.raises(Refusal) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value


def test_dl06_a_deferral_moves_its_date_by_the_months_asked() -> None:
    plan = domain.plan_deferral(date(2027, 9, 30), None, 6, TODAY)
    assert plan == domain.Deferral(
        due=date(2027, 9, 30), original_due=date(2027, 9, 30), deferred_to=date(2028, 3, 30)
    )


def test_dl06_deferrals_of_one_date_reach_at_most_three_years_past_it() -> None:
    original = date(2027, 9, 30)
    domain.plan_deferral(date(2029, 9, 30), original, 12, TODAY)  # 2030-09-30: exactly three years
    problem = refused(domain.plan_deferral, date(2029, 9, 30), original, 13, TODAY)
    assert (problem.code, problem.rule, problem.status, problem.extra) == (
        "DEFERRAL_TOO_LONG",
        "DL-06",
        422,
        {"latest": "2030-09-30"},
    )


def test_dl06_no_date_no_deferral_and_a_month_ahead_still_holds() -> None:
    assert refused(domain.plan_deferral, None, None, 6, TODAY).code == "NOTHING_TO_DEFER"
    long_term = refused(domain.plan_deferral, domain.LONG_TERM, None, 6, TODAY)  # no renewal to defer
    assert (long_term.code, long_term.rule) == ("NOTHING_TO_DEFER", "DL-06")
    assert refused(domain.plan_deferral, date(2027, 3, 31), None, 6, TODAY).code == "DEFERRAL_TOO_LATE"


def test_dl06_a_deferral_is_in_its_own_slot_and_cards_share_one() -> None:
    assert {domain.slot(k) for k in domain.PRODUCES_A_LICENCE} == {"card"}
    assert {domain.slot(k) for k in domain.DEFERRALS} == set(domain.DEFERRALS)


def test_dl07_a_renewal_deferral_counts_the_11_months_from_the_deferred_date() -> None:
    until = date(2027, 6, 30)
    assert domain.renewal_window(until, date(2029, 6, 30)) == (date(2027, 4, 1), date(2030, 5, 29))
    domain.check_renewal(until, date(2030, 5, 29), date(2029, 6, 30))
    assert refused(domain.check_renewal, until, date(2030, 5, 29)).code == "OUTSIDE_RENEWAL_WINDOW"


def test_dl07_the_validity_ladder_runs_6_10_long_term_unless_a_cycle_reached_12_points() -> None:
    six = (date(2021, 5, 6), date(2027, 5, 6))
    assert domain.renewed_validity(*six, full_points_in_term=False) == (date(2027, 5, 6), date(2037, 5, 6))
    assert domain.renewed_validity(*six, full_points_in_term=True) == (date(2027, 5, 6), date(2033, 5, 6))
    ten = (date(2017, 2, 28), date(2027, 2, 28))
    assert domain.renewed_validity(*ten, full_points_in_term=False) == (date(2027, 2, 28), domain.LONG_TERM)
    assert domain.renewed_validity(*ten, full_points_in_term=True) == (date(2027, 2, 28), date(2037, 2, 28))


def test_dl07_a_long_term_licence_is_never_renewed() -> None:
    problem = refused(domain.check_renewal, domain.LONG_TERM, TODAY)
    assert (problem.code, problem.rule) == ("OUTSIDE_RENEWAL_WINDOW", "DL-07")


def test_dl09_a_certificate_counts_six_months_and_not_from_the_future() -> None:
    assert domain.certificate_valid_until(date(2026, 9, 2)) == date(2027, 3, 1)
    domain.check_certificate(date(2026, 9, 2), TODAY)
    problem = refused(domain.check_certificate, date(2026, 9, 1), TODAY)
    assert (problem.code, problem.rule, problem.status) == ("MEDICAL_CERTIFICATE_EXPIRED", "DL-09", 422)
    assert refused(domain.check_certificate, TODAY + timedelta(days=1), TODAY).code == "EXAM_DATE_IN_FUTURE"


def test_dl09_a_fit_certificate_sends_the_waiting_application_to_intake_an_unfit_one_ends_it() -> None:
    assert domain.medical_outcome("fit") == ("medical_received", None)
    assert domain.medical_outcome("unfit") == ("reject", domain.UNFIT_REASON)
    assert domain.move_application("over_age", "awaiting_medical", "reject") == "rejected"
    problem = refused(domain.move_application, "renew", "submitted", "medical_received")
    assert (problem.code, problem.rule) == ("APPLICATION_STATE_DOES_NOT_ALLOW", "DL-07")


def test_dl10_yearly_at_60_every_three_years_for_c5() -> None:
    assert domain.periodic_medical(frozenset({"C1"}), date(1967, 3, 1), TODAY) == ("age_60", 1)
    assert domain.periodic_medical(frozenset({"C1"}), date(1967, 3, 2), TODAY) is None
    assert domain.periodic_medical(frozenset({"C5"}), date(1990, 1, 1), TODAY) == ("c5", 3)
    assert domain.periodic_medical(frozenset({"C5"}), date(1960, 1, 1), TODAY) == ("age_60", 1)


def test_dl10_a_periodic_certificate_is_taken_from_the_review_date_and_moves_it_on() -> None:
    review = date(2027, 2, 1)
    assert domain.check_periodic(frozenset({"C5"}), date(1990, 1, 1), review, TODAY) == 3
    assert domain.next_review(review, 3, TODAY) == date(2030, 2, 1)
    assert domain.next_review(date(2025, 2, 1), 1, TODAY) == date(2028, 2, 1)  # a lapse is not told twice
    problem = refused(domain.check_periodic, frozenset({"C5"}), date(1990, 1, 1), TODAY + timedelta(1), TODAY)
    assert (problem.code, problem.rule) == ("PERIODIC_MEDICAL_NOT_DUE", "DL-10")
    assert refused(domain.check_periodic, frozenset({"C1"}), date(1990, 1, 1), review, TODAY).code == (
        "PERIODIC_MEDICAL_NOT_DUE"
    )
    assert refused(domain.check_periodic, frozenset({"C5"}), date(1990, 1, 1), None, TODAY).code == (
        "PERIODIC_MEDICAL_NOT_DUE"
    )


def test_dl10_the_certificate_is_due_30_days_after_the_review_date_unless_the_record_says() -> None:
    review = date(2027, 3, 1)
    assert domain.submit_by(review, None) == date(2027, 3, 31)
    assert domain.submit_by(review, date(2027, 4, 15)) == date(2027, 4, 15)
    assert domain.submit_by(review, date(2026, 4, 15)) == date(2027, 3, 31)  # an older date is last year's


def test_vh07_a_licence_not_refused_or_collected_is_archived_and_the_ban_lasts_a_year() -> None:
    for state, action in (("mailed", "refuse_delivery"), ("ready", "miss_pickup")):
        after = domain.move_application("replace", state, action)  # type: ignore[arg-type]
        assert domain.move_application("replace", after, "archive") == "archived"
    assert domain.ban_until(datetime(2027, 3, 1, 0, 30, tzinfo=SHANGHAI)) == date(2028, 2, 29)
    ready = datetime(2027, 1, 31, 10, 0, tzinfo=SHANGHAI)
    assert domain.pickup_due(ready) == datetime(2027, 2, 28, 10, 0, tzinfo=SHANGHAI)
    domain.check_pickup_missed(
        "ready", domain.pickup_due(ready), domain.pickup_due(ready) + timedelta(seconds=1)
    )
    problem = refused(domain.check_pickup_missed, "ready", domain.pickup_due(ready), domain.pickup_due(ready))
    assert (problem.code, problem.rule) == ("PICKUP_NOT_YET_MISSED", "VH-07")


def test_vh07_licence_delivery_a_vehicle_ban_the_database_would_refuse_is_refused_by_the_model() -> None:
    """A NUL or an overlong value would fail in PostgreSQL on every retry: the local model refuses it, so
    the message goes to the dead-letter queue at once."""
    good = {
        "id_number": "130102199003071233",
        "until": "2028-02-29",
        "reason": "refused",
        "case_id": "0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e75",
        "imposed_at": "2027-03-01T09:00:00+08:00",
        "item": "plate",
    }
    assert VehicleDeliveryBan.model_validate(good).until == date(2028, 2, 29)
    for bad in ({"case_id": "a\x00b"}, {"reason": "x" * 21}, {"imposed_at": "2027-03-01T09:00:00"}):
        with pytest.raises(ValidationError):
            VehicleDeliveryBan.model_validate(good | bad)
