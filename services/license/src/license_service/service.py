from license_service.published import PUBLISHED
from license_service.settings import LicenseSettings
from license_service.subscriptions import SUBSCRIPTIONS
from license_service.tables import metadata
from servicekit.service import ServiceSpec

SPEC = ServiceSpec(
    name="license",
    summary="Driving licences, renewals, deferrals, medical certificates, exams and points.",
    settings_cls=LicenseSettings,
    metadata=metadata,
    published=PUBLISHED,
    subscriptions=SUBSCRIPTIONS,
)
