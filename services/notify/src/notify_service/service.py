from __future__ import annotations

import functools

from notify_service import rights
from notify_service.delivery import DispatchPolicy, ProviderFactory, dispatch_all_due
from notify_service.published import PUBLISHED
from notify_service.settings import NotifySettings
from notify_service.sms import SmsProvider, provider_for
from notify_service.subscriptions import SUBSCRIPTIONS
from notify_service.tables import metadata
from servicekit.runtime import Runtime
from servicekit.service import ServiceSpec, Sweep


@functools.cache
def configured_provider() -> SmsProvider:
    """The deployment's provider, made at the first dispatch (settings are read then, not at import)."""
    settings = NotifySettings()
    return provider_for(settings, settings.sms_provider)


def dispatch_sweep(provider: ProviderFactory = configured_provider, every_s: float = 0.5) -> Sweep:
    """NT-01: hand queued messages to the provider; retry with backoff; dead-letter after the last try."""

    async def run(runtime: Runtime) -> int:
        settings = runtime.settings
        assert isinstance(settings, NotifySettings)
        return await dispatch_all_due(runtime, provider(), DispatchPolicy.from_settings(settings))

    return Sweep(name="notify.dispatch-sms", every_s=every_s, run=run)


SPEC = ServiceSpec(
    name="notify",
    summary="SMS to registered phones, delivery records and the in-app inbox.",
    settings_cls=NotifySettings,
    metadata=metadata,
    published=PUBLISHED,
    subscriptions=[*SUBSCRIPTIONS, *rights.SUBSCRIPTIONS],
    sends=[rights.AddDataExportPart],
    sweeps=(dispatch_sweep(),),
)
