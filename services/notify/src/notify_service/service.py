from notify_service.published import PUBLISHED
from notify_service.settings import NotifySettings
from notify_service.subscriptions import SUBSCRIPTIONS
from notify_service.tables import metadata
from servicekit.service import ServiceSpec

SPEC = ServiceSpec(
    name="notify",
    summary="SMS to registered phones, delivery records and the in-app inbox.",
    settings_cls=NotifySettings,
    metadata=metadata,
    published=PUBLISHED,
    subscriptions=SUBSCRIPTIONS,
)
