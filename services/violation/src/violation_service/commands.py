"""Commands violation sends to other services: its own local copies of them. The receiver owns each
schema (notify's `published.py` for `notify.sms.send.v1`); a copy here carries the fields violation
fills, under the same `message_type`, so violation needs no import of another service's code.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field

from servicekit.messages import Command, Message
from servicekit.validators import mobile_phone


class SendSms(Command):
    """Ask notify to send one SMS from one of its templates (NT-01)."""

    message_type: ClassVar[str] = "notify.sms.send.v1"
    summary: ClassVar[str] = "Send an SMS from one of notify's templates to a mainland mobile (NT-01)."

    phone: Annotated[str, AfterValidator(mobile_phone)]
    template: str
    params: dict[str, str]
    # With `template`, the dedup key at notify: one message per template and case.
    case_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    account_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None

    def subject(self) -> str | None:
        return self.case_id

    @classmethod
    def example(cls) -> SendSms:
        return cls(
            phone="13800138000",
            template="verification_code",
            params={"code": "482913", "minutes": "5"},
            case_id=None,
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
        )


SENDS: list[type[Message]] = [SendSms]
