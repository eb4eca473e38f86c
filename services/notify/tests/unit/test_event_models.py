"""NT-01: how notify reads the outcome events and words their SMS (no I/O)."""

from __future__ import annotations

import inspect
from datetime import date, datetime

import pytest

from notify_service import subscriptions, templates
from notify_service.subscriptions import (
    CANCELLATION_REASONS,
    AccountCancelled,
    DeliveryBanImposed,
    ExamResultRecorded,
    LicenceDeliveryBanImposed,
    LicencePhotoApproved,
    RegistrationApproved,
    SelectionConfirmed,
    chinese_date,
    chinese_slot,
    exam_next_step,
    free_text,
    masked_account,
)
from notify_service.templates import TEMPLATES, looks_like_identity_number
from servicekit.clock import SHANGHAI


@pytest.mark.parametrize(
    ("username", "shown"),
    [
        ("130102199003071233", "1301**********1233"),
        ("13800138000", "138****8000"),
        ("138****8000", "138****8000"),
        ("91130100MA0CXY1X2B", "91130100MA0CXY1X2B"),
    ],
)
def test_nt01_the_account_named_in_an_sms_is_never_a_full_identity_number(username: str, shown: str) -> None:
    assert masked_account(username) == shown
    assert not looks_like_identity_number(masked_account(username))


def test_id09_a_unit_approved_without_a_credit_code_is_still_read() -> None:
    event = RegistrationApproved.model_validate(
        {"registration_id": "r", "account_id": "a", "name": "某公司", "phone": "13800138000", "username": ""}
    )
    assert event.username == ""


def test_pp08_register_by_is_read_as_a_date_or_a_shanghai_instant() -> None:
    base = {
        "selection_id": "s",
        "plate_number": "冀A12345",
        "phone": "13800138000",
        "certificate_number": "c",
    }
    for value in ("2027-03-04", "2027-03-04T23:59:59.999999+08:00", "2027-03-04T15:59:59Z"):
        event = SelectionConfirmed.model_validate(base | {"register_by": value})
        assert chinese_date(event.register_by) == "2027年3月4日"


def test_nt01_dates_and_slots_are_written_the_chinese_way_in_shanghai_time() -> None:
    assert chinese_date(date(2027, 10, 1)) == "2027年10月1日"
    assert chinese_slot(datetime(2027, 3, 8, 1, 0, tzinfo=SHANGHAI)) == "2027年3月8日 01:00"
    assert chinese_slot(datetime.fromisoformat("2027-03-07T17:30:00+00:00")) == "2027年3月8日 01:30"


def test_pp09_every_cancellation_reason_adr_0003_names_has_its_wording() -> None:
    assert set(CANCELLATION_REASONS) == {
        "not_registered_in_time",
        "registration_mismatch",
        "abandoned",
        "appeal_decided",
    }


def test_nt01_every_template_but_the_code_is_rendered_by_an_event_subscription() -> None:
    """A template that no outcome event renders is one nothing produces (codes come by command)."""
    source = inspect.getsource(subscriptions)
    unused = [key for key in TEMPLATES if key != "verification_code" and f'"{key}"' not in source]
    assert unused == []


@pytest.mark.parametrize(
    ("reason", "says"),
    [
        ("现场照片与身份证件照片不一致", "现场照片与身份证件照片不一致"),
        ("证件号130102199003071233与登记不符", "证件号1301**********1233与登记不符"),
        ("请联系13812345678", "请联系138****5678"),
        ("第一行\n第二行【伪造签名】", "第一行 第二行[伪造签名]"),
        ("号码123456789012345678有误", "号码1234**********5678有误"),
    ],
)
def test_nt01_a_clerks_reason_reaches_the_sms_masked_and_on_one_line(reason: str, says: str) -> None:
    assert free_text(reason) == says
    templates.render("licence_photo_rejected", {"reason": free_text(reason)})


def test_nt01_an_overlong_reason_is_cut_to_the_templates_limit_not_dead_lettered() -> None:
    text = free_text("照" * 500)
    assert len(text) == templates.MAX_PARAM_LENGTH
    assert text.endswith("…")


@pytest.mark.parametrize(
    "model", [AccountCancelled, LicencePhotoApproved, DeliveryBanImposed, LicenceDeliveryBanImposed]
)
def test_nt01_an_event_from_before_the_phone_was_added_is_read_and_tells_nobody(model: type) -> None:
    base = {
        "account_id": "a",
        "reason": "refused",
        "photo_id": "p",
        "case_id": "c",
        "until": "2028-03-09",
    }
    assert model.model_validate(base).phone is None


def exam_result(**more: object) -> ExamResultRecorded:
    data: dict[str, object] = {
        "booking_id": "b",
        "exam_subject": 2,
        "outcome": "failed",
        "exam_at": "2027-03-15T08:30:00+08:00",
        "learner_state": "learning",
        "next_subject": 2,
        "book_from": "2027-03-25",
        "road_bookings_left": 4,
        "voided": False,
        "phone": "13912345678",
    }
    data.update(more)
    return ExamResultRecorded.model_validate(data)


def test_dl11_what_follows_an_exam_result_is_told_in_words() -> None:
    assert exam_next_step(exam_result()) == "可于2027年3月25日起重新预约考试（该科目剩余预约考试次数4次）。"
    passed = exam_result(outcome="passed", exam_subject=1, next_subject=2, road_bookings_left=None)
    assert exam_next_step(passed) == "下一科目为科目二，可于2027年3月25日起预约考试。"
    again = exam_result(
        outcome="absent", exam_subject=1, next_subject=1, book_from=None, road_bookings_left=None
    )
    assert exam_next_step(again) == "可通过交管12123重新预约考试。"
    assert exam_next_step(exam_result(learner_state="licensed", outcome="passed")) == (
        "您已通过全部考试科目，驾驶证已核发。"
    )
    assert "成绩作废" in exam_next_step(exam_result(learner_state="ended", voided=True, next_subject=None))
    for case in (exam_result(), passed, again):
        templates.render(
            "exam_failed", {"day": "2027年3月15日", "subject": "科目二", "next": exam_next_step(case)}
        )
