"""DL-06..DL-08: deferrals (at least a month ahead, at most three years), renewal on expiry and the
validity ladder, the over-age exchange.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from license_service.domain.dates import add_months, age_on, months_before
from license_service.domain.records import LicenceClass
from servicekit.refusal import refusal

# --- DL-06: deferrals at least one month ahead, at most three years ---------------------------------

TooLateToDefer = refusal("DEFERRAL_TOO_LATE", "DL-06")
NothingToDefer = refusal("NOTHING_TO_DEFER", "DL-06")
DeferralTooLong = refusal("DEFERRAL_TOO_LONG", "DL-06", 422)

# 《机动车驾驶证申领和使用规定》: 延期期限最长不超过三年, counted from the date first deferred.
MAX_DEFERRAL_MONTHS = 36


def check_deferral(due: date, today: date) -> None:
    """DL-06: a deferral is asked for at least one month before the date it defers
    (有效期止之日前至少一个月): on that day one month earlier at the latest."""
    last_day = months_before(due, 1)
    if today > last_day:
        raise TooLateToDefer(
            f"a deferral must be asked for by {last_day.isoformat()}, one month before {due.isoformat()}",
            extra={"last_day": last_day.isoformat()},
        )


@dataclass(frozen=True)
class Deferral:
    """DL-06: the date deferred, where its chain of deferrals began, and the new date."""

    due: date
    original_due: date
    deferred_to: date


def plan_deferral(due: date | None, original_due: date | None, months: int, today: date) -> Deferral:
    """DL-06: defer `due` by `months`, asked at least a month ahead; all deferrals of one date together
    reach at most three years past the date first deferred (`original_due`, the same as `due` unless
    `due` is itself a deferred date)."""
    if due is None or due == LONG_TERM:
        raise NothingToDefer("the licence record has no such date to defer")
    check_deferral(due, today)
    start = original_due or due
    deferred_to = add_months(due, months)
    latest = add_months(start, MAX_DEFERRAL_MONTHS)
    if deferred_to > latest:
        raise DeferralTooLong(
            f"deferrals reach at most {latest.isoformat()}, three years after {start.isoformat()}",
            extra={"latest": latest.isoformat()},
        )
    return Deferral(due=due, original_due=start, deferred_to=deferred_to)


# --- DL-07: renewal on expiry, and the validity ladder -----------------------------------------------

OutsideRenewalWindow = refusal("OUTSIDE_RENEWAL_WINDOW", "DL-07")

# 长期: a long-term licence has no expiry; the record keeps this date so that `valid_until` stays a date.
LONG_TERM = date(9999, 12, 31)


def renewal_window(valid_until: date, deferred_to: date | None = None) -> tuple[date, date]:
    """DL-07: from 90 days before the expiry (前九十日内) to the last day before 11 months after it; a
    granted renewal deferral (DL-06) counts the 11 months from the deferred date instead."""
    opens = valid_until - timedelta(days=90)
    closes = add_months(max(valid_until, deferred_to or valid_until), 11) - timedelta(days=1)
    return opens, closes


def check_renewal(valid_until: date, today: date, deferred_to: date | None = None) -> None:
    if valid_until == LONG_TERM:
        raise OutsideRenewalWindow("a long-term licence is not renewed")
    opens, closes = renewal_window(valid_until, deferred_to)
    if not opens <= today <= closes:
        raise OutsideRenewalWindow(
            f"online renewal is open from {opens.isoformat()} to {closes.isoformat()}",
            extra={"opens": opens.isoformat(), "closes": closes.isoformat()},
        )


def renewed_validity(valid_from: date, valid_until: date, full_points_in_term: bool) -> tuple[date, date]:
    """DL-07, 《机动车驾驶证申领和使用规定》's ladder: a 6-year licence with no scoring cycle of 12 points in
    its term is renewed for 10 years, a 10-year one for the long term; with a full-points cycle the same
    term again. The new term runs on from the old expiry (a late renewal gains no time)."""
    years = valid_until.year - valid_from.year
    if full_points_in_term:
        term: int | None = 10 if years >= 10 else 6
    else:
        term = None if years >= 10 else 10
    return valid_until, LONG_TERM if term is None else add_months(valid_until, 12 * term)


# --- DL-08: over-age exchange -----------------------------------------------------------------------

# 60+: large bus, tractor-trailer, city bus, medium bus, large truck → small car or small automatic.
# 70+: three- and two-wheel motorcycles → light motorcycle.
OVER_AGE_EXCHANGES: tuple[tuple[int, frozenset[LicenceClass], frozenset[LicenceClass]], ...] = (
    (60, frozenset({"A1", "A2", "A3", "B1", "B2"}), frozenset({"C1", "C2"})),
    (70, frozenset({"D", "E"}), frozenset({"F"})),
)

NoOverAgeExchange = refusal("NO_OVER_AGE_EXCHANGE", "DL-08")
NotAnOverAgeTarget = refusal("NOT_AN_OVER_AGE_TARGET", "DL-08", 422)


def over_age_exchange(
    classes: frozenset[LicenceClass], birth: date, today: date, target: LicenceClass
) -> frozenset[LicenceClass]:
    """DL-08: the classes after exchanging the over-age ones for `target`; classes the rule does not name
    are kept."""
    age = age_on(birth, today)
    for min_age, given_up, targets in OVER_AGE_EXCHANGES:
        held = classes & given_up
        if age >= min_age and held:
            if target not in targets:
                raise NotAnOverAgeTarget(
                    f"{'/'.join(sorted(held))} is exchanged for {' or '.join(sorted(targets))}",
                    extra={"targets": sorted(targets)},
                )
            return (classes - given_up) | {target}
    raise NoOverAgeExchange(
        "the over-age exchange is for A1, A2, A3, B1 or B2 at 60 or over, or D or E at 70 or over",
        extra={"age": age},
    )
