"""SMS templates (NT-01): one template per message kind, Chinese text under the platform's signature, with
named parameters that a command must supply exactly.

A template's text is fixed here, in notify; senders only name the template and give the parameters, so
the wording of what citizens receive is kept in one place (and is what an SMS provider registers). The
parameters are checked before anything is rendered: every named parameter present, no others, each
within its shape, and never a full identity number (masked forms such as `1301**********1234` pass).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

SIGNATURE = "【交管12123】"
MAX_PARAM_LENGTH = 200

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# 17 digits and a digit or X, not inside a longer run of digits: the shape of a resident identity number
# (GB 11643). Checked after NFKC (full-width digits) with separators removed, so `1301 0219 9003 0712 34`
# is caught too; an 18-digit order number is refused as well, the mistake worth making.
_ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dX](?!\d)")
_SEPARATORS = re.compile(r"[\s\-_.·•/]")


class TemplateError(ValueError):
    """A send that cannot be rendered. A `ValueError`, so message models refuse it as invalid input;
    `code` and `rule` let the web layer answer with a problem (422) should a request ever raise it."""

    code: ClassVar[str] = "SMS_TEMPLATE_INVALID"
    rule: ClassVar[str] = "NT-01"


class UnknownTemplate(TemplateError):
    code: ClassVar[str] = "SMS_TEMPLATE_UNKNOWN"


class TemplateParamsMismatch(TemplateError):
    code: ClassVar[str] = "SMS_TEMPLATE_PARAMS"


class IdentityNumberInMessage(TemplateError):
    code: ClassVar[str] = "SMS_IDENTITY_NUMBER"


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
        unknown = set(self.shapes) - self.params
        if unknown:
            raise ValueError(f"template {self.key}: shapes for unknown parameters {sorted(unknown)}")

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


def _registry(*templates: Template) -> Mapping[str, Template]:
    registry: dict[str, Template] = {}
    for template in templates:
        if template.key in registry:
            raise ValueError(f"template {template.key} defined twice")
        registry[template.key] = template
    return MappingProxyType(registry)


TEMPLATES: Mapping[str, Template] = _registry(
    Template(
        key="verification_code",
        title="短信验证码",
        rule="NT-02",
        text="您的验证码为{code}，{minutes}分钟内有效。请勿将验证码告知他人，如非本人操作请忽略本短信。",
        shapes={"code": re.compile(r"\d{6}"), "minutes": re.compile(r"[1-9]\d{0,2}")},
    ),
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
