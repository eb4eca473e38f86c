"""DL-09, DL-10: medical certificates from hospitals, what they do to an application, and the
periodic certificate at 60 or with C5.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal, get_args

from license_service.domain.applications import ApplicationAction
from license_service.domain.dates import add_months, age_on
from license_service.domain.records import LicenceClass
from servicekit.refusal import refusal

# --- DL-09: medical certificates from hospitals -----------------------------------------------------

MedicalPurpose = Literal[
    "first_application",  # 初次申领
    "transfer_in",  # 转入
    "renewal",  # DL-07 期满换证
    "over_age",  # DL-08 超龄换证
    "reinstatement",  # 恢复驾驶资格
    "downgrade",  # 因身体条件变化降低准驾车型
    "periodic",  # DL-10 60周岁以上或持C5, 到达审验日期
]
MEDICAL_PURPOSES: tuple[MedicalPurpose, ...] = get_args(MedicalPurpose)
Conclusion = Literal["fit", "unfit"]

# 身体条件证明自出具之日起六个月内有效.
CERTIFICATE_VALID_MONTHS = 6
# How long an application waits for its certificate before it lapses (ADR 0051).
MEDICAL_WAIT = timedelta(days=30)
UNFIT_REASON = "医院出具的身体条件证明结论为不合格"
LAPSED_REASON = "30日内未收到医院提交的身体条件证明"

ExamDateInFuture = refusal("EXAM_DATE_IN_FUTURE", "DL-09", 422)
CertificateExpired = refusal("MEDICAL_CERTIFICATE_EXPIRED", "DL-09", 422)
NameMismatch = refusal("MEDICAL_NAME_MISMATCH", "DL-09", 422)


def certificate_valid_until(examined_on: date) -> date:
    """DL-09: the last day a certificate counts, six months from the examination."""
    return add_months(examined_on, CERTIFICATE_VALID_MONTHS) - timedelta(days=1)


def check_certificate(examined_on: date, today: date) -> None:
    """DL-09: a hospital submits what it examined: not a future date, not one past its six months."""
    if examined_on > today:
        raise ExamDateInFuture("the examination date is in the future")
    if certificate_valid_until(examined_on) < today:
        raise CertificateExpired(
            "a medical certificate counts for six months from the examination",
            extra={"valid_until": certificate_valid_until(examined_on).isoformat()},
        )


def medical_outcome(conclusion: Conclusion) -> tuple[ApplicationAction, str | None]:
    """DL-09: what a certificate does to an application waiting for it: a fit one sends it to intake, an
    unfit one ends it with the reason the person is told."""
    return ("medical_received", None) if conclusion == "fit" else ("reject", UNFIT_REASON)


# --- DL-10: the periodic medical certificate --------------------------------------------------------

PeriodicNotDue = refusal("PERIODIC_MEDICAL_NOT_DUE", "DL-10")
# 记分周期结束后三十日内: the certificate is submitted within 30 days of the review date.
PERIODIC_SUBMIT_WITHIN = timedelta(days=30)
PeriodicReason = Literal["age_60", "c5"]


def periodic_medical(
    classes: frozenset[LicenceClass], birth: date, today: date
) -> tuple[PeriodicReason, int] | None:
    """DL-10: why a holder submits a periodic certificate and every how many years: yearly at 60 or over,
    every three years for C5 (《机动车驾驶证申领和使用规定》); None when neither applies."""
    if age_on(birth, today) >= 60:
        return "age_60", 1
    if "C5" in classes:
        return "c5", 3
    return None


def needs_periodic_medical(
    classes: frozenset[LicenceClass], birth: date, review_date: date, today: date
) -> bool:
    """DL-10: aged 60 or over, or holding C5, once the review date (审验日期) is reached."""
    return periodic_medical(classes, birth, today) is not None and today >= review_date


def submit_by(review_due: date, medical_due: date | None) -> date:
    """DL-10: the last day for the certificate: the record's own due date, else 30 days after review."""
    return (
        medical_due
        if medical_due is not None and medical_due >= review_due
        else review_due + PERIODIC_SUBMIT_WITHIN
    )


def check_periodic(
    classes: frozenset[LicenceClass], birth: date, review_due: date | None, today: date
) -> int:
    """DL-10: a periodic certificate is taken for a holder who needs one once the review date is reached
    (当前日期到达驾驶证审验日期后); returns its period in years."""
    need = periodic_medical(classes, birth, today)
    if need is None:
        raise PeriodicNotDue("the periodic certificate is for holders aged 60 or over or holding C5")
    if review_due is None or today < review_due:
        raise PeriodicNotDue(
            "the periodic certificate is submitted once the review date is reached",
            extra={"review_due": review_due and review_due.isoformat()},
        )
    return need[1]


def next_review(review_due: date, years: int, today: date) -> date:
    """DL-10: the next review date after a periodic certificate: the period added until it is ahead."""
    nxt = review_due
    while nxt <= today:
        nxt = add_months(nxt, 12 * years)
    return nxt
