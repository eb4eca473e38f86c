"""The messages the notify service owns: its events, and the commands addressed to it.

Notify owns the schema of the commands it takes; each sender keeps its own local copy of the model
(`<sender>_service/commands.py`) with the same `message_type`, and the AsyncAPI documents show the
owner's schema on both sides.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, model_validator

from notify_service import templates
from servicekit.messages import Command, Message
from servicekit.validators import mobile_phone

Phone = Annotated[
    str,
    AfterValidator(mobile_phone),
    Field(description="Mainland mobile number; +86, spaces and dashes are accepted and dropped."),
]
TemplateKey = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_]{0,63}$",
        description="The key of one of notify's templates.",
        json_schema_extra={"enum": sorted(templates.TEMPLATES)},
    ),
]
CaseId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description="The business case the message is about. With `template` it is the dedup key: one "
        "message per template and case, however often the command is sent.",
    ),
]


class SendSms(Command):
    """Send one SMS, from one of notify's templates, to a mainland mobile number (NT-01)."""

    message_type: ClassVar[str] = "notify.sms.send.v1"
    summary: ClassVar[str] = "Send an SMS from one of notify's templates to a mainland mobile (NT-01)."

    phone: Phone
    template: TemplateKey
    params: dict[str, str] = Field(
        description="The template's named parameters, exactly: none missing, none extra. Never a full "
        "identity number (send a masked one)."
    )
    case_id: CaseId | None = None
    account_id: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="The account the message is for, where there is one."
    )

    @model_validator(mode="after")
    def _params_fit_the_template(self) -> SendSms:
        templates.check(self.template, self.params)
        return self

    def subject(self) -> str | None:
        return self.case_id

    @classmethod
    def example(cls) -> SendSms:
        return cls(
            phone="13800138000",
            template="registration_approved",
            params={"name": "张三", "account": "138****8000"},
            case_id="registration-0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e60",
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
        )


PUBLISHED: list[type[Message]] = [SendSms]
