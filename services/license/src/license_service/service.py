from license_service.imports import run_imports
from license_service.published import PUBLISHED
from license_service.settings import LicenseSettings
from license_service.subscriptions import SUBSCRIPTIONS
from license_service.tables import metadata
from servicekit.service import ServiceSpec, Sweep

SPEC = ServiceSpec(
    name="license",
    summary="Driving licences, renewals, deferrals, medical certificates, exams and points.",
    settings_cls=LicenseSettings,
    metadata=metadata,
    published=PUBLISHED,
    subscriptions=SUBSCRIPTIONS,
    # DL-01: bulk imports are worked through in batches, each its own transaction (progress shows).
    sweeps=(Sweep("licence-imports", every_s=1.0, run=run_imports),),
)
