"""The messages the notify service consumes: a local tolerant model, a handler and a queue each."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, model_validator
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from notify_service import templates
from notify_service.published import CaseId, Phone, SendSms
from notify_service.settings import NotifySettings
from notify_service.sms import OutgoingSms, SmsProvider, provider_for
from notify_service.tables import sms_messages
from servicekit.consumer import Subscription
from servicekit.envelope import Envelope
from servicekit.ids import new_id
from servicekit.masking import mask_phone
from servicekit.uow import UnitOfWork

log = logging.getLogger(__name__)


class SmsRequested(BaseModel):
    """notify's reading of `notify.sms.send.v1`: fields it does not know are ignored (a sender may be
    newer), the ones it uses are checked. A command that fails here is poison: straight to the DLQ."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    phone: Phone
    template: str
    params: dict[str, str]
    case_id: CaseId | None = None
    account_id: str | None = None

    @model_validator(mode="after")
    def _params_fit_the_template(self) -> SmsRequested:
        templates.check(self.template, self.params)
        return self


@functools.cache
def configured_provider() -> SmsProvider:
    """The deployment's provider, made at the first send (settings are read then, not at import)."""
    settings = NotifySettings()
    return provider_for(settings, settings.sms_provider)


def send_sms_subscription(provider: Callable[[], SmsProvider] = configured_provider) -> Subscription:
    async def send_sms(uow: UnitOfWork, command: SmsRequested, envelope: Envelope) -> None:
        """NT-01: render, record (queued), hand to the provider, record its receipt: one transaction."""
        now = uow.now
        assert now is not None
        body = templates.render(command.template, command.params)
        sms_id = new_id()
        claimed = await uow.session.execute(
            insert(sms_messages)
            .values(
                id=sms_id,
                phone=command.phone,
                template=command.template,
                params=command.params,
                body=body,
                case_id=command.case_id,
                account_id=command.account_id,
                state="queued",
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(
                index_elements=[sms_messages.c.template, sms_messages.c.case_id],
                index_where=sms_messages.c.case_id.is_not(None),
            )
            .returning(sms_messages.c.id)
        )
        if claimed.first() is None:
            # Sent before for this template and case, under another message id: never twice.
            log.info(
                "sms %s for case %s already sent; command %s ignored",
                command.template,
                command.case_id,
                envelope.id,
            )
            return
        sender = provider()
        receipt = await sender.send(OutgoingSms(id=sms_id, phone=command.phone, body=body))
        await uow.session.execute(
            update(sms_messages)
            .where(sms_messages.c.id == sms_id)
            .values(
                state=receipt.state,
                provider=sender.name,
                provider_ref=receipt.provider_ref,
                failure_reason=receipt.failure_reason,
                updated_at=now,
            )
        )
        log.info("sms %s (%s) to %s: %s", sms_id, command.template, mask_phone(command.phone), receipt.state)

    return Subscription(
        name="send-sms",
        kind="command",
        handles={SendSms.message_type: SmsRequested},
        handler=send_sms,
        summary="Render, record and send an SMS (NT-01).",
    )


SUBSCRIPTIONS: list[Subscription] = [send_sms_subscription()]
