from servicekit.service import ServiceSpec
from violation_service import rights
from violation_service.commands import SENDS
from violation_service.published import PUBLISHED
from violation_service.settings import ViolationSettings
from violation_service.subscriptions import SUBSCRIPTIONS
from violation_service.tables import metadata

SPEC = ServiceSpec(
    name="violation",
    summary="Camera-recorded violations, penalty decisions and fine payments.",
    settings_cls=ViolationSettings,
    metadata=metadata,
    published=PUBLISHED,
    subscriptions=[*SUBSCRIPTIONS, *rights.SUBSCRIPTIONS],
    sends=[*SENDS, rights.AddDataExportPart],
)
