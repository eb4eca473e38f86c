"""SMS templates (NT-01): one template per message kind, Chinese text under the platform's signature, with
named parameters that a command must supply exactly.

A template's text is fixed here, in notify; senders only name the template and give the parameters, so
the wording of what citizens receive is kept in one place (and is what an SMS provider registers). The
parameters are checked before anything is rendered: every named parameter present, no others, each
within its shape, and never a full identity number (masked forms such as `1301**********1233` pass).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from servicekit.refusal import Refusal

SIGNATURE = "【交管12123】"
MAX_PARAM_LENGTH = 200

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# 17 digits and a digit or X, not inside a longer run of digits: the shape of a resident identity number
# (GB 11643). Checked after NFKC (full-width digits) with separators removed, so `1301 0219 9003 0712 34`
# is caught too; an 18-digit order number is refused as well, the mistake worth making.
_ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dX](?!\d)")
_SEPARATORS = re.compile(r"[\s\-_.·•/]")


class TemplateError(Refusal, ValueError):
    """A send that cannot be rendered. A `ValueError` too, so message models refuse it as invalid
    input; a request that raises it is answered 422."""

    code = "SMS_TEMPLATE_INVALID"
    rule = "NT-01"
    status = 422


class UnknownTemplate(TemplateError):
    code = "SMS_TEMPLATE_UNKNOWN"


class TemplateParamsMismatch(TemplateError):
    code = "SMS_TEMPLATE_PARAMS"


class IdentityNumberInMessage(TemplateError):
    code = "SMS_IDENTITY_NUMBER"


def looks_like_identity_number(value: str) -> bool:
    compact = _SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).upper()
    return _ID_NUMBER.search(compact) is not None


@dataclass(frozen=True)
class Template:
    """One message kind. `text` holds `{name}` placeholders and no signature (`render` adds it)."""

    key: str
    title: str  # what the message is, for people (catalogue, admin screens)
    rule: str  # the catalogue rule that names this message
    text: str
    # Shapes some parameters must have (a full match); the others are free text within the common limits.
    shapes: Mapping[str, re.Pattern[str]] = field(default_factory=dict)
    # One-time secrets (verification codes): kept only until the provider has the message (delivery.py).
    secret: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not _KEY.match(self.key):
            raise ValueError(f"template key {self.key!r} must be lower snake case")
        if SIGNATURE in self.text:
            raise ValueError(f"template {self.key}: the signature is added by render(), not in the text")
        for _, name, spec, conversion in string.Formatter().parse(self.text):
            if name is None:
                continue
            if not name.isidentifier() or spec or conversion:
                raise ValueError(f"template {self.key}: placeholders are plain names, got {{{name}}}")
        unknown = (set(self.shapes) | self.secret) - self.params
        if unknown:
            raise ValueError(
                f"template {self.key}: shapes or secrets for unknown parameters {sorted(unknown)}"
            )

    @property
    def params(self) -> frozenset[str]:
        return frozenset(name for _, name, _, _ in string.Formatter().parse(self.text) if name)

    def check(self, params: Mapping[str, str]) -> None:
        """Raise `TemplateError` unless `params` are exactly this template's, each acceptable."""
        missing = self.params - params.keys()
        extra = params.keys() - self.params
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {sorted(missing)}")
            if extra:
                parts.append(f"unexpected {sorted(extra)}")
            raise TemplateParamsMismatch(f"template {self.key}: {', '.join(parts)}")
        for name in sorted(params):
            value = params[name]
            if not isinstance(value, str) or not value.strip():
                raise TemplateParamsMismatch(f"template {self.key}: {name} must be a non-empty string")
            if len(value) > MAX_PARAM_LENGTH:
                raise TemplateParamsMismatch(
                    f"template {self.key}: {name} is longer than {MAX_PARAM_LENGTH} characters"
                )
            if "【" in value or "】" in value:
                # Square brackets mark the sender's signature on Chinese SMS: a parameter may not fake one.
                raise TemplateParamsMismatch(f"template {self.key}: {name} may not contain 【 or 】")
            if any(unicodedata.category(ch) == "Cc" for ch in value):
                raise TemplateParamsMismatch(f"template {self.key}: {name} contains control characters")
            shape = self.shapes.get(name)
            if shape is not None and not shape.fullmatch(value):
                raise TemplateParamsMismatch(f"template {self.key}: {name} does not have the expected form")
            if looks_like_identity_number(value):
                raise IdentityNumberInMessage(
                    f"template {self.key}: {name} holds a full identity number; send a masked one"
                )

    def render(self, params: Mapping[str, str]) -> str:
        """The message as the phone shows it: signature first, then the text with the parameters."""
        self.check(params)
        return SIGNATURE + self.text.format_map(params)

    def redacted(self, params: Mapping[str, str]) -> tuple[dict[str, str], str]:
        """(params, body) with the secret parameters starred: what is kept once the provider has it."""
        kept = {name: "*" * len(value) if name in self.secret else value for name, value in params.items()}
        return kept, SIGNATURE + self.text.format_map(kept)


def _registry(*templates: Template) -> Mapping[str, Template]:
    registry: dict[str, Template] = {}
    for template in templates:
        if template.key in registry:
            raise ValueError(f"template {template.key} defined twice")
        registry[template.key] = template
    return MappingProxyType(registry)


_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")
_COUNT = re.compile(r"[1-9]\d{0,5}")
_PLATE = re.compile(r"[\u4e00-\u9fa5][A-HJ-NP-Z][A-HJ-NP-Z0-9]{5,6}|（未选定）")

TEMPLATES: Mapping[str, Template] = _registry(
    Template(
        key="verification_code",
        title="短信验证码",
        rule="NT-02",
        text="您的验证码为{code}，{minutes}分钟内有效。请勿将验证码告知他人，如非本人操作请忽略本短信。",
        shapes={"code": re.compile(r"\d{6}"), "minutes": re.compile(r"[1-9]\d{0,2}")},
        secret=frozenset({"code"}),
    ),
    # ID-09: counter registration reviewed (seed §12(二)5-6).
    Template(
        key="registration_approved",
        title="注册审核通过",
        rule="ID-09",
        text=(
            "{name}，您好！您在互联网交通安全综合服务管理平台的注册申请已审核通过，账号为{account}。"
            "请使用交管12123 App或网页登录办理业务。"
        ),
    ),
    Template(
        key="registration_rejected",
        title="注册审核未通过",
        rule="ID-09",
        text=(
            "{name}，您好！您在互联网交通安全综合服务管理平台的注册申请未通过审核，原因：{reason}。"
            "如有疑问，请携带身份证明到车辆管理所窗口咨询。"
        ),
    ),
    # ID-13: counter change reviewed (seed §19(二)5-6).
    Template(
        key="change_approved",
        title="用户变更审核通过",
        rule="ID-13",
        text=(
            "{name}，您好！您在互联网交通安全综合服务管理平台办理的用户信息变更已审核通过，"
            "变更事项：{items}。"
        ),
    ),
    Template(
        key="change_rejected",
        title="用户变更审核未通过",
        rule="ID-13",
        text=(
            "{name}，您好！您在互联网交通安全综合服务管理平台办理的用户信息变更未通过审核，原因：{reason}。"
            "如有疑问，请到车辆管理所窗口咨询。"
        ),
    ),
    # ID-05/ID-16: an account cancelled, on request or by force, is told why.
    Template(
        key="account_cancelled",
        title="用户账号注销",
        rule="ID-16",
        text="您在互联网交通安全综合服务管理平台的账号{account}已注销，原因：{reason}。",
    ),
    # ID-15 (DL-05): the licence photo submitted online, reviewed by the review post.
    Template(
        key="licence_photo_approved",
        title="驾驶证照片审核通过",
        rule="ID-15",
        text="您通过互联网交通安全综合服务管理平台提交的驾驶证证件照片已审核通过并保存。",
    ),
    Template(
        key="licence_photo_rejected",
        title="驾驶证照片审核未通过",
        rule="ID-15",
        text="您通过互联网交通安全综合服务管理平台提交的驾驶证证件照片未通过审核，原因：{reason}。请重新提交。",
    ),
    # PP-08: the pre-selection success SMS the seed promises (seed 000: 选号成功的提示短信).
    Template(
        key="selection_confirmed",
        title="预选号牌成功",
        rule="PP-08",
        text=(
            "您已成功预选机动车号牌{plate}，预选号凭证编号{certificate}。请于{register_by}前"
            "（3个工作日内）到车辆管理所办理注册登记；逾期未办理或登记信息与预选信息不一致的，"
            "预选号牌作废，2年内不得通过互联网预选号牌。"
        ),
        shapes={"plate": _PLATE, "register_by": _DATE},
    ),
    # PP-09: cancelled without a ban (abandoned, an appeal decided) and with the 2-year ban.
    Template(
        key="selection_cancelled",
        title="预选号牌作废",
        rule="PP-09",
        text="您为车辆（识别代号后六位{vin_tail}）预选的机动车号牌{plate}已作废，原因：{reason}。",
        shapes={"plate": _PLATE, "vin_tail": re.compile(r"[A-HJ-NPR-Z0-9]{6}")},
    ),
    Template(
        key="selection_cancelled_banned",
        title="预选号牌作废并限制预选",
        rule="PP-09",
        text=(
            "您为车辆（识别代号后六位{vin_tail}）预选的机动车号牌{plate}已作废，原因：{reason}。"
            "{ban_until}前不得通过互联网预选号牌，可到车辆管理所现场选号。"
        ),
        shapes={
            "plate": _PLATE,
            "vin_tail": re.compile(r"[A-HJ-NPR-Z0-9]{6}"),
            "ban_until": _DATE,
        },
    ),
    # VH-13/VH-14: inspection appointments made, or cancelled by a station (exams: the exam_* templates).
    Template(
        key="appointment_made",
        title="预约成功",
        rule="NT-01",
        text="您已成功预约{business}：{place}，{slot}。如需取消，请在预约日前通过交管12123办理。",
    ),
    Template(
        key="appointment_cancelled",
        title="预约取消",
        rule="VH-14",
        text="因{station}暂停或停止服务，您预约的{business}（{slot}）已取消，原因：{reason}。请重新预约。",
    ),
    # DL-11: an exam slot's cut-off seats the request or not, with the place and its reason.
    Template(
        key="exam_seated",
        title="考试预约成功",
        rule="DL-11",
        text=(
            "您预约的{subject}考试（{place}，{slot}）已预约成功，在{requests}名申请人中排第{rank}位"
            "（考位{capacity}个，排序依据：{basis}）。请携带身份证明按时参加考试；因故不能参加的，"
            "应于考试前一日到车辆管理所申请取消，未按时参加考试的判定该次考试不合格。"
        ),
        shapes={"rank": _COUNT, "requests": _COUNT, "capacity": _COUNT},
    ),
    Template(
        key="exam_not_seated",
        title="考试预约未成功",
        rule="DL-11",
        text=(
            "您申请预约的{subject}考试（{place}，{slot}）申请人数超过考位，您在{requests}名申请人中"
            "排第{rank}位（考位{capacity}个，排序依据：{basis}），本场次未能安排，请重新预约其他考试场次。"
        ),
        shapes={"rank": _COUNT, "requests": _COUNT, "capacity": _COUNT},
    ),
    # DL-11: an examiner recorded the outcome, with what follows.
    Template(
        key="exam_passed",
        title="考试合格",
        rule="DL-11",
        text="您于{day}参加的{subject}考试成绩合格。{next}",
        shapes={"day": _DATE},
    ),
    Template(
        key="exam_failed",
        title="考试不合格",
        rule="DL-11",
        text="您于{day}参加的{subject}考试成绩不合格。{next}",
        shapes={"day": _DATE},
    ),
    Template(
        key="exam_absent",
        title="考试缺考",
        rule="DL-11",
        text="您未按预约时间参加{day}的{subject}考试，按规定判定该次考试不合格。{next}",
        shapes={"day": _DATE},
    ),
    # VH-05, DL-02/03/07/08: deliveries by mail or self pickup, of vehicle items and of driving licences.
    Template(
        key="delivery_mailed",
        title="证件邮寄",
        rule="VH-05",
        text="您申请的{item}已交邮政寄出，邮件号{tracking}，请注意查收。拒收或一个月内未领取的，一年内不得网上补换领。",
        shapes={"tracking": re.compile(r"[A-Z0-9]{8,20}")},
    ),
    Template(
        key="delivery_ready_for_pickup",
        title="证件待领取",
        rule="VH-05",
        text=(
            "您申请的{item}已制作完成，请于{pickup_by}前到车辆管理所领取。"
            "逾期未领取的，一年内不得网上补换领。"
        ),
        shapes={"pickup_by": _DATE},
    ),
    # VH-07: a delivery refused or not collected within a month bars online reissue for a year.
    Template(
        key="delivery_ban_imposed",
        title="网上补换领限制",
        rule="VH-07",
        text=(
            "您申请补换领的{item}{reason}，自即日起至{until}，不得通过互联网办理补、换领机动车号牌、"
            "行驶证、检验合格标志和驾驶证业务。"
        ),
        shapes={"until": _DATE},
    ),
    # VI-03: a penalty decision issued online; VI-04: how much and by when (the late fine follows).
    Template(
        key="penalty_decision_issued",
        title="违法处理决定书",
        rule="VI-03",
        # No decision number: 18 digits read as an identity number, which no SMS carries (the app shows it).
        text=(
            "您已通过互联网交通安全综合服务管理平台处理车辆{plate}于{violated_on}的交通违法行为，"
            "处罚决定：{penalty}，记{points}分。{payment}"
        ),
        shapes={"plate": _PLATE, "violated_on": _DATE, "points": re.compile(r"0|1|3|6|9|12")},
    ),
    Template(
        key="penalty_paid",
        title="罚款缴纳成功",
        rule="VI-04",
        text="您为车辆{plate}交通违法缴纳的罚款{amount}元（含加处罚款{late_fee}元）已于{paid_on}缴纳成功。",
        shapes={
            "plate": _PLATE,
            "amount": re.compile(r"\d+\.\d{2}"),
            "late_fee": re.compile(r"\d+\.\d{2}"),
            "paid_on": _DATE,
        },
    ),
    # VH-09, DL-02..DL-08: an application the office refused at intake (or that lapsed), with the reason.
    Template(
        key="application_rejected",
        title="业务申请未通过",
        rule="VH-09",
        text="您申请的{item}{business}业务未予受理，原因：{reason}。如有疑问，请到车辆管理所咨询。",
    ),
    # DL-06: a deferral granted, with the deferred date (延期期间不得驾驶机动车).
    Template(
        key="deferral_approved",
        title="延期申请已批准",
        rule="DL-06",
        text="您申请的驾驶证{business}已批准，延期至{until}。延期期间不得驾驶机动车。",
        shapes={"until": _DATE},
    ),
    # DL-09: a renewal or over-age exchange waits for a hospital's medical certificate.
    Template(
        key="medical_certificate_needed",
        title="需提交身体条件证明",
        rule="DL-09",
        text=(
            "您申请的驾驶证{business}业务需提交身体条件证明，请于{wait_until}前到开通互联网体检业务的医院体检，"
            "医院提交后业务自动转入受理。"
        ),
        shapes={"wait_until": _DATE},
    ),
    # DL-10: aged 60 or over, or holding C5, once the review date is reached.
    Template(
        key="periodic_medical_due",
        title="提交身体条件证明提醒",
        rule="DL-10",
        text=(
            "您的驾驶证已到审验日期（{review_date}），按规定须提交身体条件证明，请于{submit_by}前"
            "到开通互联网体检业务的医院体检，由医院通过互联网提交。"
        ),
        shapes={"review_date": _DATE, "submit_by": _DATE},
    ),
    # DL-12: the cycle's total reached 12: the licence is flagged until the study and exam are passed.
    Template(
        key="full_points_reached",
        title="驾驶证记满12分提醒",
        rule="DL-12",
        text=(
            "您的机动车驾驶证在本记分周期内累积记分已达{points}分，已记满12分。请按规定参加道路交通安全"
            "法律法规和相关知识学习、考试，合格后方可恢复驾驶资格。"
        ),
        shapes={"points": re.compile(r"1[2-9]|[2-9]\d|1\d\d")},
    ),
)


def template_for(key: str) -> Template:
    try:
        return TEMPLATES[key]
    except KeyError:
        raise UnknownTemplate(f"no SMS template {key!r}") from None


def render(key: str, params: Mapping[str, str]) -> str:
    return template_for(key).render(params)


def check(key: str, params: Mapping[str, str]) -> Template:
    """Validate a send request without rendering it; returns its template."""
    template = template_for(key)
    template.check(params)
    return template
