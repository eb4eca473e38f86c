"""The licence rules, pure (no I/O)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from license_service import domain
from license_service.domain import Candidate, Holder
from servicekit.refusal import Refusal

TODAY = date(2026, 12, 2)


def holder(**changes: object) -> Holder:
    values: dict[str, object] = {
        "channel": "counter",
        "birth_date": date(1980, 5, 6),
        "state": "valid",
        "classes": frozenset({"C1"}),
        "valid_from": date(2021, 2, 1),
        "valid_until": date(2027, 2, 1),
        "review_due": None,
        "medical_due": None,
        "photo_valid_until": date(2027, 6, 1),
        "ban_until": None,
    }
    values.update(changes)
    return Holder(**values)  # type: ignore[arg-type]


def refused(call: object, *args: object, **kwargs: object) -> Refusal:
    with pytest.raises(Refusal) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value


def test_dl01_a_record_moves_only_along_its_table() -> None:
    assert domain.move_record("valid", "suspend") == "suspended"
    assert domain.move_record("suspended", "cancel") == "cancelled"
    problem = refused(domain.move_record, "cancelled", "restore")
    assert (problem.code, problem.rule, problem.extra) == (
        "LICENCE_STATE_DOES_NOT_ALLOW",
        "DL-01",
        {"state": "cancelled"},
    )


def test_dl13_every_live_state_can_be_cancelled_and_cancelled_is_final() -> None:
    for state in domain.LICENCE_STATES:
        if state != "cancelled":
            assert domain.move_record(state, "cancel") == "cancelled"
    assert not [action for (state, action) in domain.RECORD_MOVES if state == "cancelled"]


@pytest.mark.parametrize(
    ("kind", "rule"),
    [
        ("reissue", "DL-02"),
        ("replace", "DL-03"),
        ("renew", "DL-07"),
        ("over_age", "DL-08"),
        ("defer_review", "DL-06"),
    ],
)
def test_dl02_only_counter_registered_users_apply_online(kind: domain.ApplicationKind, rule: str) -> None:
    """Seed 000: each of these is for 窗口注册个人用户; the refusal names the kind's own rule."""
    problem = refused(
        domain.check_online_application, kind, holder(channel="online"), TODAY, delivery="pickup"
    )
    assert (problem.code, problem.rule) == ("COUNTER_REGISTERED_USERS_ONLY", rule)


def test_dl03_a_revoked_licence_is_not_replaced() -> None:
    problem = refused(
        domain.check_online_application, "replace", holder(state="revoked"), TODAY, delivery="pickup"
    )
    assert problem.code == "LICENCE_STATE_BLOCKS"


def test_dl05_a_new_card_needs_a_current_photo_and_a_deferral_does_not() -> None:
    expired = holder(photo_valid_until=TODAY - timedelta(days=1))
    problem = refused(domain.check_online_application, "reissue", expired, TODAY, delivery="pickup")
    assert (problem.code, problem.rule) == ("LICENCE_PHOTO_NEEDED", "DL-05")
    domain.check_online_application("defer_medical", expired, TODAY, delivery="pickup")
    domain.check_online_application("reissue", holder(photo_valid_until=TODAY), TODAY, delivery="pickup")


def test_vh07_a_ban_bars_reissue_and_replacement_and_mails_no_renewal() -> None:
    """Seed 002 §27(6): no online 补、换领 of the licence during the ban, whatever the delivery; a renewal or
    over-age card is still made, collected at the office (ADR 0051)."""
    banned = holder(ban_until=TODAY)
    for kind in ("reissue", "replace"):
        problem = refused(domain.check_online_application, kind, banned, TODAY, delivery="pickup")
        assert (problem.code, problem.rule, problem.extra) == (
            "DELIVERY_BAN",
            "VH-07",
            {"until": "2026-12-02"},
        )
    problem = refused(domain.check_online_application, "renew", banned, TODAY, delivery="mail")
    assert (problem.code, problem.rule) == ("DELIVERY_BAN", "VH-07")
    domain.check_online_application("renew", banned, TODAY, delivery="pickup")
    domain.check_online_application("defer_review", banned, TODAY, delivery=None)
    lapsed = holder(ban_until=TODAY - timedelta(days=1))
    domain.check_online_application("reissue", lapsed, TODAY, delivery="mail")


def test_dl06_a_deferral_is_asked_for_at_least_one_month_ahead() -> None:
    due = date(2027, 3, 31)
    domain.check_deferral(due, date(2027, 2, 28))  # 31 March less a month is 28 February
    problem = refused(domain.check_deferral, due, date(2027, 3, 1))
    assert (problem.code, problem.rule, problem.extra) == (
        "DEFERRAL_TOO_LATE",
        "DL-06",
        {"last_day": "2027-02-28"},
    )
    domain.check_deferral(date(2028, 3, 31), date(2028, 2, 29))  # a leap year's February


def test_dl07_renewal_opens_90_days_before_expiry_and_closes_before_11_months_after() -> None:
    until = date(2027, 6, 30)
    assert domain.renewal_window(until) == (date(2027, 4, 1), date(2028, 5, 29))
    domain.check_renewal(until, date(2027, 4, 1))
    domain.check_renewal(until, date(2028, 5, 29))
    for day in (date(2027, 3, 31), date(2028, 5, 30)):
        problem = refused(domain.check_renewal, until, day)
        assert (problem.code, problem.rule) == ("OUTSIDE_RENEWAL_WINDOW", "DL-07")


def test_dl08_over_age_exchange_maps_classes_at_60_and_70() -> None:
    born = date(1966, 12, 2)
    assert domain.over_age_exchange(frozenset({"A1", "D"}), born, TODAY, "C1") == frozenset({"C1", "D"})
    problem = refused(domain.over_age_exchange, frozenset({"B2"}), born, TODAY - timedelta(days=1), "C1")
    assert (problem.code, problem.rule) == ("NO_OVER_AGE_EXCHANGE", "DL-08")  # 59 until today
    problem = refused(domain.over_age_exchange, frozenset({"B2"}), born, TODAY, "C3")
    assert (problem.code, problem.extra) == ("NOT_AN_OVER_AGE_TARGET", {"targets": ["C1", "C2"]})
    seventy = date(1956, 12, 2)
    assert domain.over_age_exchange(frozenset({"E", "C1"}), seventy, TODAY, "F") == frozenset({"C1", "F"})
    assert (
        refused(domain.over_age_exchange, frozenset({"C1"}), seventy, TODAY, "F").code
        == "NO_OVER_AGE_EXCHANGE"
    )


def test_dl09_renewal_and_over_age_wait_for_a_medical_certificate() -> None:
    assert domain.first_state("renew", medical_on_file=False) == "awaiting_medical"
    assert domain.first_state("renew", medical_on_file=True) == "submitted"
    assert domain.first_state("reissue", medical_on_file=False) == "submitted"
    assert domain.move_application("renew", "awaiting_medical", "medical_received") == "submitted"


def test_dl06_a_deferral_is_approved_and_a_licence_is_produced() -> None:
    assert domain.move_application("defer_review", "submitted", "approve") == "approved"
    assert domain.move_application("defer_review", "approved", "archive") == "archived"
    assert refused(domain.move_application, "defer_review", "submitted", "accept").code == (
        "NOT_FOR_THIS_APPLICATION_KIND"
    )
    assert refused(domain.move_application, "reissue", "submitted", "approve").code == (
        "NOT_FOR_THIS_APPLICATION_KIND"
    )
    state: domain.ApplicationState = "submitted"
    for action in ("accept", "produce", "mail", "deliver", "archive"):
        state = domain.move_application("reissue", state, action)
    assert state == "archived"
    assert (
        refused(domain.move_application, "reissue", "archived", "mail").code
        == "APPLICATION_STATE_DOES_NOT_ALLOW"
    )


def test_dl10_holders_at_60_or_with_c5_need_a_certificate_from_the_review_date() -> None:
    review = date(2027, 1, 1)
    assert domain.needs_periodic_medical(frozenset({"C1"}), date(1966, 1, 1), review, review)
    assert not domain.needs_periodic_medical(
        frozenset({"C1"}), date(1966, 1, 1), review, review - timedelta(1)
    )
    assert domain.needs_periodic_medical(frozenset({"C5"}), date(1990, 1, 1), review, review)
    assert not domain.needs_periodic_medical(frozenset({"C1"}), date(1990, 1, 1), review, review)


def test_dl12_the_cycle_runs_from_the_first_issue_date() -> None:
    first = date(2015, 8, 20)
    assert domain.points_cycle(first, date(2026, 8, 19)) == (date(2025, 8, 20), date(2026, 8, 20))
    assert domain.points_cycle(first, date(2026, 8, 20)) == (date(2026, 8, 20), date(2027, 8, 20))
    assert domain.points_cycle(first, first) == (first, date(2016, 8, 20))
    # A day before the first issue (a decision dated so by mistake) is not lost: the first cycle.
    assert domain.points_cycle(first, date(2015, 1, 1)) == (first, date(2016, 8, 20))


def test_dl12_a_licence_first_issued_on_29_february_has_cycles_that_meet() -> None:
    """In a common year the anniversary is 28 February; in a leap year 29 February. Each cycle ends where
    the next begins: 28 February 2028 is in the cycle that started on 28 February 2027 (it was in none
    when a cycle's end was counted 12 months from its own start)."""
    leap = date(2016, 2, 29)
    assert domain.points_cycle(leap, date(2027, 3, 1)) == (date(2027, 2, 28), date(2028, 2, 29))
    assert domain.points_cycle(leap, date(2028, 2, 28)) == (date(2027, 2, 28), date(2028, 2, 29))
    assert domain.points_cycle(leap, date(2028, 2, 29)) == (date(2028, 2, 29), date(2029, 2, 28))
    assert domain.points_cycle(leap, date(2029, 2, 27)) == (date(2028, 2, 29), date(2029, 2, 28))
    day, seen = date(2016, 2, 29), None
    while day < date(2033, 3, 1):  # every day in exactly one cycle, the cycles back to back
        cycle = domain.points_cycle(leap, day)
        assert cycle[0] <= day < cycle[1]
        if seen is not None and cycle != seen:
            assert cycle[0] == seen[1]
        seen, day = cycle, day + timedelta(days=1)


def entries(*pairs: tuple[date, int]) -> list[domain.PointEntry]:
    return [domain.PointEntry(decided_on=day, points=points) for day, points in pairs]


def test_dl12_a_decision_counts_in_the_cycle_of_its_decision_day() -> None:
    first = date(2015, 8, 20)
    counted = entries((date(2026, 8, 19), 6), (date(2026, 8, 20), 3), (date(2026, 9, 1), 1))
    assert domain.cycle_totals(first, counted) == {
        (date(2025, 8, 20), date(2026, 8, 20)): 6,
        (date(2026, 8, 20), date(2027, 8, 20)): 4,
    }
    standing = domain.points_standing(first, counted, date(2026, 12, 1))
    assert standing == domain.Standing(
        cycle=(date(2026, 8, 20), date(2027, 8, 20)), total=4, full=False, review_on=date(2027, 8, 20)
    )


def test_dl12_twelve_in_a_cycle_is_full_points_and_outlives_the_cycle() -> None:
    first = date(2015, 8, 20)
    exactly = entries((date(2026, 1, 5), 6), (date(2026, 3, 5), 6))
    assert domain.points_standing(first, exactly, date(2026, 4, 1)).full
    over = entries((date(2026, 1, 5), 9), (date(2026, 3, 5), 6))
    assert domain.points_standing(first, over, date(2026, 4, 1)).total == 15
    assert not domain.points_standing(first, entries((date(2026, 1, 5), 11)), date(2026, 4, 1)).full
    # 6 + 6 in two cycles is not 12 in one.
    split = entries((date(2026, 8, 19), 6), (date(2026, 8, 20), 6))
    assert not domain.points_standing(first, split, date(2026, 9, 1)).full
    # After the full cycle ends the total is the new cycle's, and the flag stays until cleared.
    later = domain.points_standing(first, exactly, date(2026, 9, 1))
    assert (later.total, later.full, later.review_on) == (0, True, None)
    assert domain.full_cycles(first, [*exactly, *entries((date(2026, 9, 1), 3))]) == {
        (date(2025, 8, 20), date(2026, 8, 20))
    }


def test_dl12_a_cycle_under_12_is_cleared_by_ending() -> None:
    first = date(2015, 8, 20)
    counted = entries((date(2026, 5, 1), 9))
    before = domain.points_standing(first, counted, date(2026, 8, 19))
    assert (before.total, before.review_on) == (9, date(2026, 8, 20))
    after = domain.points_standing(first, counted, date(2026, 8, 20))
    assert (after.total, after.full, after.review_on) == (0, False, None)


def test_dl12_the_state_follows_the_points() -> None:
    assert domain.points_move("valid", True) == "reach_full_points"
    assert domain.points_move("full_points", True) is None
    assert domain.points_move("full_points", False) == "clear_full_points"
    assert domain.points_move("valid", False) is None
    for state in ("suspended", "revoked", "cancelled"):
        assert domain.points_move(state, True) is None
        assert domain.points_move(state, False) is None
    domain.check_clear_full_points("full_points")
    with pytest.raises(Refusal) as refused:
        domain.check_clear_full_points("valid")
    assert (refused.value.code, refused.value.rule) == ("LICENCE_NOT_FULL_POINTS", "DL-12")


def test_dl11_subjects_are_taken_in_order() -> None:
    domain.check_subject(1, frozenset())
    domain.check_subject(3, frozenset({1, 2}))
    problem = refused(domain.check_subject, 3, frozenset({1}))
    assert (problem.code, problem.rule, problem.extra) == (
        "SUBJECT_OUT_OF_ORDER",
        "DL-11",
        {"next_subject": 2},
    )
    assert domain.next_subject(frozenset({1, 2, 3, 4})) is None


def test_dl11_a_full_slot_seats_by_the_published_order() -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)

    def c(booking: str, subject: int, **times: datetime | None) -> Candidate:
        values: dict[str, object] = {
            "accepted_at": t0,
            "last_exam_at": None,
            "last_cancelled_at": None,
            "last_absent_at": None,
            "requested_at": t0 + timedelta(days=20),
        }
        values.update(times)
        return Candidate(booking_id=booking, subject=subject, **values)  # type: ignore[arg-type]

    first_early = c("a", 1, accepted_at=t0)
    first_late = c("b", 1, accepted_at=t0 + timedelta(days=2))
    second = c("c", 2, last_exam_at=t0 + timedelta(days=1))
    cancelled = c("d", 1, accepted_at=t0 - timedelta(days=5), last_cancelled_at=t0 + timedelta(days=3))
    absent = c(
        "e",
        2,
        last_exam_at=t0,
        last_cancelled_at=t0 + timedelta(days=4),
        last_absent_at=t0 + timedelta(days=6),
    )
    tie = c("f", 1, accepted_at=t0, requested_at=t0 + timedelta(days=19))
    ordered = domain.seat_order([absent, cancelled, second, first_late, first_early, tie])
    assert [x.booking_id for x in ordered] == ["f", "a", "c", "b", "d", "e"]
    assert domain.priority_time(absent) == t0 + timedelta(days=6)  # the later of cancellation and absence


# --- DL-11: the order's reasons, seats, waiting rules, results ------------------------------------

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def cand(booking: str = "x", subject: int = 1, **times: datetime | None) -> Candidate:
    values: dict[str, object] = {
        "accepted_at": T0,
        "last_exam_at": None,
        "last_cancelled_at": None,
        "last_absent_at": None,
        "requested_at": T0 + timedelta(days=30),
    }
    values.update(times)
    return Candidate(booking_id=booking, subject=subject, **values)  # type: ignore[arg-type]


def test_dl11_the_order_names_the_rule_each_time_came_from() -> None:
    day = timedelta(days=1)
    assert domain.ranking(cand()) == (T0, "accepted")
    assert domain.ranking(cand(subject=2, last_exam_at=T0 + 3 * day)) == (T0 + 3 * day, "last_exam")
    # A first subject-1 booking after a no-show ranks by the absence, later than the acceptance.
    assert domain.ranking(cand(last_absent_at=T0 + 5 * day)) == (T0 + 5 * day, "absent")
    both = cand(subject=2, last_exam_at=T0, last_cancelled_at=T0 + 2 * day, last_absent_at=T0 + day)
    assert domain.ranking(both) == (T0 + 2 * day, "cancelled")  # the most recent of the two counts
    # A cancellation older than the last exam is spent: the exam after it is the more recent time.
    spent = cand(subject=1, last_exam_at=T0 + 9 * day, last_cancelled_at=T0 + 2 * day)
    assert domain.ranking(spent) == (T0 + 9 * day, "last_exam")
    same = cand(subject=2, last_exam_at=T0 + day, last_absent_at=T0 + day)
    assert domain.ranking(same) == (T0 + day, "absent")


def test_dl11_the_cutoff_seats_the_first_capacity_and_places_everyone() -> None:
    many = [cand(f"b{i:02d}", accepted_at=T0 + timedelta(hours=(i * 7) % 20)) for i in range(20)]
    placed = domain.decide_seats(many, 5)
    assert [p.place for p in placed] == list(range(1, 21))
    assert [p.seated for p in placed] == [True] * 5 + [False] * 15
    ordered = [c.booking_id for c in domain.seat_order(many)]
    assert [p.booking_id for p in placed] == ordered
    assert domain.decide_seats([], 5) == []
    assert all(p.seated for p in domain.decide_seats(many[:3], 5))


def test_dl11_a_booking_moves_only_along_its_table() -> None:
    assert domain.move_booking("requested", "seat") == "seated"
    assert domain.move_booking("seated", "be_absent") == "absent"
    for done in ("not_seated", "withdrawn", "cancelled", "passed", "failed", "absent"):
        problem = refused(domain.move_booking, done, "pass")
        assert (problem.code, problem.rule, problem.extra) == (
            "BOOKING_STATE_DOES_NOT_ALLOW",
            "DL-11",
            {"state": done},
        )
    assert refused(domain.move_booking, "requested", "pass").code == "BOOKING_STATE_DOES_NOT_ALLOW"


def test_dl11_requests_in_the_window_seats_from_the_cutoff_cancel_by_the_day_before() -> None:
    opens, cutoff = T0, T0 + timedelta(days=3)
    domain.check_booking_window("open", opens, cutoff, opens)
    for when, state in ((opens - timedelta(seconds=1), "open"), (cutoff, "open"), (opens, "decided")):
        assert refused(domain.check_booking_window, state, opens, cutoff, when).code == "BOOKING_CLOSED"
    assert refused(domain.check_cutoff_reached, cutoff, cutoff - timedelta(seconds=1)).code == (
        "CUTOFF_NOT_REACHED"
    )
    domain.check_cutoff_reached(cutoff, cutoff)
    exam = date(2027, 3, 15)
    domain.check_cancellable(exam, date(2027, 3, 14))
    problem = refused(domain.check_cancellable, exam, exam)
    assert (problem.code, problem.extra) == ("CANCEL_TOO_LATE", {"last_day": "2027-03-14"})
    assert refused(domain.check_exam_begun, T0, T0 - timedelta(minutes=1)).code == "EXAM_NOT_STARTED"


def learner(**changes: object) -> domain.Learner:
    values: dict[str, object] = {
        "state": "learning",
        "classes": frozenset({"C1"}),
        "accepted_at": T0,
        "passed": frozenset(),
        "permit_issued_on": None,
        "permit_valid_until": None,
        "last_exam_at": None,
        "last_cancelled_at": None,
        "last_absent_at": None,
        "retry_from": None,
        "road_bookings": {2: 0, 3: 0},
    }
    values.update(changes)
    return domain.Learner(**values)  # type: ignore[arg-type]


def test_dl11_the_learner_permit_waits_by_class_before_subjects_2_and_3() -> None:
    heavy, small = frozenset({"A1"}), frozenset({"C1"})
    assert domain.permit_wait_days(2, small) == 10
    assert domain.permit_wait_days(2, heavy) == 20
    assert domain.permit_wait_days(3, frozenset({"C2"})) == 20
    assert domain.permit_wait_days(3, small) == 30
    assert domain.permit_wait_days(3, heavy) == 40
    assert domain.permit_wait_days(3, frozenset({"C2", "B2"})) == 40  # the longest class applied for
    assert domain.permit_wait_days(2, frozenset({"D"})) == 10  # motorcycles: the shortest (ADR 0052)
    assert domain.permit_wait_days(1, heavy) == domain.permit_wait_days(4, heavy) == 0
    permit = date(2027, 3, 6)
    one = learner(passed=frozenset({1}), permit_issued_on=permit, permit_valid_until=date(2030, 3, 6))
    assert domain.earliest_booking(one, 2) == (date(2027, 3, 16), "permit")
    problem = refused(domain.check_can_book, one, 2, small, date(2027, 3, 25), date(2027, 3, 15))
    assert (problem.code, problem.extra) == ("TOO_EARLY_TO_BOOK", {"from": "2027-03-16", "reason": "permit"})
    domain.check_can_book(one, 2, small, date(2027, 3, 25), date(2027, 3, 16))
    problem = refused(domain.check_can_book, one, 2, small, date(2030, 3, 7), date(2027, 3, 16))
    assert (problem.code, problem.extra) == ("LEARNER_PERMIT_EXPIRES", {"permit_valid_until": "2030-03-06"})
    assert refused(domain.check_can_book, one, 2, heavy, date(2027, 3, 25), date(2027, 3, 16)).code == (
        "SLOT_NOT_FOR_CLASSES"
    )
    assert refused(domain.check_can_book, one, 3, small, date(2027, 3, 25), date(2027, 3, 16)).code == (
        "SUBJECT_OUT_OF_ORDER"
    )


def test_dl11_a_pass_of_subject_1_issues_the_learner_permit_for_three_years() -> None:
    exam = datetime(2028, 2, 29, 1, 0, tzinfo=UTC)
    after = domain.after_result(learner(), 1, "passed", exam, date(2028, 2, 29))
    assert (after.licensed, after.ended) == (False, None)
    assert after.learner.passed == frozenset({1})
    assert (after.learner.permit_issued_on, after.learner.permit_valid_until) == (
        date(2028, 2, 29),
        date(2031, 2, 28),
    )
    assert after.learner.last_exam_at == exam
    assert domain.permit_lapsed(after.learner, date(2031, 3, 1))
    assert not domain.permit_lapsed(after.learner, date(2031, 2, 28))


def test_dl11_a_failed_or_missed_road_test_waits_ten_days_and_counts_toward_five() -> None:
    exam = datetime(2027, 4, 1, 1, 0, tzinfo=UTC)
    two = learner(
        passed=frozenset({1}), permit_issued_on=date(2027, 3, 6), permit_valid_until=date(2030, 3, 6)
    )
    failed = domain.after_result(two, 2, "failed", exam, date(2027, 4, 1))
    assert failed.learner.retry_from == date(2027, 4, 11)
    assert domain.earliest_booking(failed.learner, 2) == (date(2027, 4, 11), "retry")
    assert domain.road_bookings_left(failed.learner, 2) == 4
    assert failed.learner.last_exam_at == exam
    absent = domain.after_result(two, 2, "absent", exam, date(2027, 4, 1))
    assert (absent.learner.last_absent_at, absent.learner.last_exam_at) == (exam, None)
    assert absent.learner.retry_from == date(2027, 4, 11)  # 判定不合格: a failure's wait
    theory = domain.after_result(learner(), 1, "failed", exam, date(2027, 4, 1))
    assert theory.learner.retry_from is None  # subject 1 is booked again at once
    assert domain.road_bookings_left(theory.learner, 1) is None


def test_dl11_the_fifth_failed_road_test_voids_the_subjects_passed() -> None:
    exam = datetime(2027, 6, 1, 1, 0, tzinfo=UTC)
    fourth = learner(passed=frozenset({1, 2}), permit_issued_on=date(2027, 3, 6), road_bookings={2: 1, 3: 4})
    after = domain.after_result(fourth, 3, "failed", exam, date(2027, 6, 1))
    assert (after.ended, after.learner.state, after.learner.passed) == ("fifth_failure", "ended", frozenset())
    missed = domain.after_result(fourth, 3, "absent", exam, date(2027, 6, 1))
    assert missed.ended == "fifth_failure"
    passed = domain.after_result(fourth, 3, "passed", exam, date(2027, 6, 1))
    assert (passed.ended, passed.learner.passed) == (None, frozenset({1, 2, 3}))
    ended = refused(
        domain.check_can_book, after.learner, 1, frozenset({"C1"}), date(2027, 7, 1), date(2027, 6, 2)
    )
    assert (ended.code, ended.extra) == ("LEARNER_NOT_LEARNING", {"learner_state": "ended"})


def test_dl11_the_last_pass_licenses_and_the_first_licence_is_valid_six_years() -> None:
    three = learner(passed=frozenset({1, 2, 3}), retry_from=date(2027, 5, 1))
    after = domain.after_result(three, 4, "passed", datetime(2027, 6, 1, tzinfo=UTC), date(2027, 6, 1))
    assert (after.licensed, after.learner.state, after.learner.retry_from) == (True, "licensed", None)
    assert domain.first_licence_validity(date(2027, 6, 1)) == (date(2027, 6, 1), date(2033, 6, 1))
    assert domain.first_licence_validity(date(2028, 2, 29)) == (date(2028, 2, 29), date(2034, 2, 28))
    # The safe-driving test has no ten-day wait and no five-booking limit.
    failed = domain.after_result(three, 4, "failed", datetime(2027, 6, 1, tzinfo=UTC), date(2027, 6, 1))
    assert (failed.learner.retry_from, failed.ended) == (date(2027, 5, 1), None)
