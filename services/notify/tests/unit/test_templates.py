"""NT-01: one template per message kind, under the platform signature, parameters checked exactly."""

from __future__ import annotations

import re

import pytest

from notify_service import templates
from notify_service.templates import (
    SIGNATURE,
    TEMPLATES,
    IdentityNumberInMessage,
    Template,
    TemplateError,
    TemplateParamsMismatch,
    UnknownTemplate,
)
from servicekit.web.problems import problem_of

GOOD_PARAMS: dict[str, dict[str, str]] = {
    "verification_code": {"code": "482913", "minutes": "5"},
    "registration_approved": {"name": "张三", "account": "138****8000"},
    "registration_rejected": {"name": "李四", "reason": "现场照片与身份证件照片不一致"},
    "change_approved": {"name": "张三", "items": "绑定非本人机动车冀A12345"},
    "change_rejected": {"name": "李四", "reason": "未提交机动车所有人身份证明"},
    "account_cancelled": {"account": "1301**********1233", "reason": "注册后24小时内未预选号牌"},
    "licence_photo_approved": {},
    "licence_photo_rejected": {"reason": "照片模糊，无法辨认"},
    "delivery_ban_imposed": {"item": "机动车号牌", "reason": "邮寄送达时被拒收", "until": "2028年3月9日"},
    "selection_confirmed": {
        "plate": "冀A8K2M7",
        "certificate": "YX1301202700012",
        "register_by": "2027年3月4日",
    },
    "selection_cancelled": {"plate": "冀AD12345", "vin_tail": "123456", "reason": "您已放弃该预选号牌"},
    "selection_cancelled_banned": {
        "plate": "（未选定）",
        "vin_tail": "A12345",
        "reason": "未在3个工作日内办理注册登记",
        "ban_until": "2029年3月4日",
    },
    "appointment_made": {
        "business": "机动车安全技术检验",
        "place": "石家庄市第一检测站",
        "slot": "2027年3月5日9:00-10:00",
    },
    "appointment_cancelled": {
        "station": "石家庄市第一检测站",
        "business": "机动车安全技术检验",
        "slot": "2027年3月5日9:00-10:00",
        "reason": "停止检验服务",
    },
    "delivery_mailed": {"item": "机动车号牌", "tracking": "EMS1234567890CN"},
    "delivery_ready_for_pickup": {"item": "机动车行驶证", "pickup_by": "2027年4月5日"},
    "application_rejected": {"item": "机动车号牌", "business": "补领", "reason": "号牌未列入网上补领范围"},
    "deferral_approved": {"business": "延期审验", "until": "2027年10月1日"},
    "medical_certificate_needed": {"business": "期满换证", "wait_until": "2027年3月31日"},
    "periodic_medical_due": {"review_date": "2027年3月1日", "submit_by": "2027年3月31日"},
    "full_points_reached": {"points": "12"},
    "exam_seated": {
        "subject": "科目一",
        "place": "石家庄市第一考场",
        "slot": "2027年3月15日 08:30",
        "requests": "340",
        "rank": "12",
        "capacity": "100",
        "basis": "首次预约科目一，按受理时间2027年1月5日 10:00",
    },
    "exam_not_seated": {
        "subject": "科目二",
        "place": "石家庄市第二考场",
        "slot": "2027年3月15日 08:30",
        "requests": "340",
        "rank": "101",
        "capacity": "100",
        "basis": "按上次考试时间2027年2月1日 09:00",
    },
    "exam_passed": {"day": "2027年3月15日", "subject": "科目一", "next": "下一科目为科目二。"},
    "exam_failed": {"day": "2027年3月15日", "subject": "科目二", "next": "可于2027年3月25日起重新预约考试。"},
    "exam_absent": {"day": "2027年3月15日", "subject": "科目三道路驾驶技能", "next": "可重新预约。"},
    "penalty_decision_issued": {
        "plate": "冀A12345",
        "violated_on": "2027年2月20日",
        "penalty": "罚款200.00元",
        "points": "6",
        "payment": "请于2027年3月16日前缴纳罚款（缴款编号1301042027000123459）。",
    },
    "penalty_paid": {"plate": "冀A12345", "amount": "206.00", "late_fee": "6.00", "paid_on": "2027年3月17日"},
}

# The outcomes NT-01 and the rules name that are built, each with its template (the table in the README;
# vehicle has no booking change). A
# delivery, a ban and a refusal are one message kind each, for a vehicle item and a driving licence alike
# (DL-02..DL-08 name the item in the parameters).
NT01_OUTCOMES = {
    "registration approved": "registration_approved",
    "registration rejected with the reason": "registration_rejected",
    "change approved": "change_approved",
    "change rejected with the reason": "change_rejected",
    "account cancelled": "account_cancelled",
    "licence photo approved": "licence_photo_approved",
    "licence photo rejected with the reason": "licence_photo_rejected",
    "pre-selection success": "selection_confirmed",
    "pre-selection cancelled": "selection_cancelled",
    "pre-selection cancelled and banned": "selection_cancelled_banned",
    "appointment made": "appointment_made",
    "appointment cancelled by a station": "appointment_cancelled",
    "delivery by mail (vehicle items, driving licences)": "delivery_mailed",
    "delivery for pickup (vehicle items, driving licences)": "delivery_ready_for_pickup",
    "delivery ban (after a vehicle item or a driving licence)": "delivery_ban_imposed",
    "application refused, with the reason (vehicle items, driving licences)": "application_rejected",
    "licence deferral granted, with the date": "deferral_approved",
    "licence application waiting for a hospital's medical certificate": "medical_certificate_needed",
    "periodic medical certificate due at the review date": "periodic_medical_due",
    "licence reached 12 points in its cycle": "full_points_reached",
    "exam seated at the cut-off": "exam_seated",
    "exam not seated at the cut-off": "exam_not_seated",
    "exam passed": "exam_passed",
    "exam failed": "exam_failed",
    "exam missed": "exam_absent",
    "penalty decision issued": "penalty_decision_issued",
    "fine paid": "penalty_paid",
}


def test_nt01_the_foundation_templates_exist() -> None:
    assert set(GOOD_PARAMS) == set(TEMPLATES)


def test_nt01_every_outcome_the_rules_name_has_its_own_template() -> None:
    assert set(NT01_OUTCOMES.values()) <= set(TEMPLATES)
    # and no template is kept that no outcome (or NT-02's codes) uses: nothing would ever send it
    assert set(TEMPLATES) - set(NT01_OUTCOMES.values()) == {"verification_code"}
    assert len(set(NT01_OUTCOMES.values())) == len(NT01_OUTCOMES)  # one template per message kind
    titles = [t.title for t in TEMPLATES.values()]
    assert len(set(titles)) == len(titles)


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_nt01_every_template_renders_under_the_signature_with_all_its_params(key: str) -> None:
    template = TEMPLATES[key]
    params = GOOD_PARAMS[key]
    assert set(params) == template.params
    body = template.render(params)
    assert body.startswith(SIGNATURE)
    assert body.count(SIGNATURE) == 1
    assert "{" not in body
    assert "}" not in body
    for value in params.values():
        assert value in body
    assert re.fullmatch(r"(NT|ID|PP|VH|DL|VI)-\d\d", template.rule)


def test_nt02_verification_code_text() -> None:
    assert templates.render("verification_code", {"code": "482913", "minutes": "5"}) == (
        "【交管12123】您的验证码为482913，5分钟内有效。请勿将验证码告知他人，如非本人操作请忽略本短信。"
    )


def test_nt01_registration_outcomes_name_the_person_and_the_account_or_reason() -> None:
    approved = templates.render("registration_approved", {"name": "张三", "account": "138****8000"})
    assert approved == (
        "【交管12123】张三，您好！您在互联网交通安全综合服务管理平台的注册申请已审核通过，账号为138****8000。"
        "请使用交管12123 App或网页登录办理业务。"
    )
    rejected = templates.render("registration_rejected", {"name": "李四", "reason": "身份证件已过有效期"})
    assert "未通过审核，原因：身份证件已过有效期。" in rejected


def test_nt01_unknown_template_is_refused() -> None:
    with pytest.raises(UnknownTemplate):
        templates.render("no_such_template", {})


def test_nt01_missing_parameter_is_refused() -> None:
    with pytest.raises(TemplateParamsMismatch, match=r"missing \['minutes'\]"):
        templates.render("verification_code", {"code": "482913"})


def test_nt01_extra_parameter_is_refused() -> None:
    with pytest.raises(TemplateParamsMismatch, match=r"unexpected \['plate'\]"):
        templates.render(
            "registration_approved", {"name": "张三", "account": "138****8000", "plate": "冀A12345"}
        )


@pytest.mark.parametrize("value", ["", "   ", "x" * (templates.MAX_PARAM_LENGTH + 1), "张三\n【中国银行】"])
def test_nt01_empty_overlong_or_signature_faking_parameters_are_refused(value: str) -> None:
    with pytest.raises(TemplateParamsMismatch):
        templates.render("registration_rejected", {"name": "李四", "reason": value})


@pytest.mark.parametrize(
    "value",
    [
        "130102199003071233",
        "13010219900307123X",
        "13010219900307123x",
        "证件号130102199003071233有误",
        "１３０１０２１９９００３０７１２３４",  # full-width digits
        "1301 0219 9003 0712 34",
        "130102-19900307-1234",
    ],
)
def test_nt01_a_full_identity_number_never_goes_into_a_message(value: str) -> None:
    with pytest.raises(IdentityNumberInMessage):
        templates.render("registration_approved", {"name": "张三", "account": value})


@pytest.mark.parametrize("value", ["1301**********1233", "138****8000", "13800138000", "1234567890123456789"])
def test_nt01_masked_numbers_phones_and_longer_digit_runs_pass(value: str) -> None:
    templates.render("registration_approved", {"name": "张三", "account": value})


@pytest.mark.parametrize(
    "params",
    [
        {"code": "48291", "minutes": "5"},
        {"code": "4829134", "minutes": "5"},
        {"code": "48291a", "minutes": "5"},
        {"code": "482913", "minutes": "0"},
        {"code": "482913", "minutes": "五"},
    ],
)
def test_nt02_verification_code_is_six_digits_and_minutes_a_number(params: dict[str, str]) -> None:
    with pytest.raises(TemplateParamsMismatch, match="expected form"):
        templates.render("verification_code", params)


def test_nt01_check_validates_without_rendering() -> None:
    assert templates.check("verification_code", GOOD_PARAMS["verification_code"]).key == "verification_code"
    with pytest.raises(TemplateParamsMismatch):
        templates.check("verification_code", {})


def test_nt01_template_errors_are_value_errors_that_become_422_problems() -> None:
    with pytest.raises(TemplateError) as caught:
        templates.render("registration_approved", {"name": "张三", "account": "130102199003071233"})
    assert isinstance(caught.value, ValueError)
    problem = problem_of(caught.value)
    assert problem is not None
    assert (problem.status, problem.code, problem.rule) == (422, "SMS_IDENTITY_NUMBER", "NT-01")
    assert problem.detail is not None
    assert "130102199003071233" not in problem.detail


@pytest.mark.parametrize(
    ("text", "shapes"),
    [
        ("【交管12123】{name}", {}),  # the signature is render()'s job
        ("{name!r}", {}),  # conversions
        ("{amount:>10}", {}),  # format specs
        ("{person.name}", {}),  # attribute access
        ("{name}", {"other": re.compile(r"\d")}),  # a shape for a parameter the text does not have
    ],
)
def test_nt01_malformed_template_definitions_are_refused(
    text: str, shapes: dict[str, re.Pattern[str]]
) -> None:
    with pytest.raises(ValueError, match="template"):
        Template(key="bad", title="坏模板", rule="NT-01", text=text, shapes=shapes)


def test_nt01_template_keys_are_lower_snake_case() -> None:
    with pytest.raises(ValueError, match="snake"):
        Template(key="Bad-Key", title="坏模板", rule="NT-01", text="{name}")


def test_dl06_dl09_dl10_the_licence_outcomes_read_as_the_person_is_told() -> None:
    assert templates.render("deferral_approved", GOOD_PARAMS["deferral_approved"]) == (
        "【交管12123】您申请的驾驶证延期审验已批准，延期至2027年10月1日。延期期间不得驾驶机动车。"
    )
    assert templates.render("medical_certificate_needed", GOOD_PARAMS["medical_certificate_needed"]) == (
        "【交管12123】您申请的驾驶证期满换证业务需提交身体条件证明，请于2027年3月31日前到开通互联网体检业务"
        "的医院体检，医院提交后业务自动转入受理。"
    )
    assert templates.render("periodic_medical_due", GOOD_PARAMS["periodic_medical_due"]) == (
        "【交管12123】您的驾驶证已到审验日期（2027年3月1日），按规定须提交身体条件证明，请于2027年3月31日前"
        "到开通互联网体检业务的医院体检，由医院通过互联网提交。"
    )
