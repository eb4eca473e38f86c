from license_service.exam_slots import sweep_cutoffs
from license_service.exams import sweep_lapsed_permits
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
    sweeps=[
        # DL-11: slots are seated at their cut-off; a learner permit that lapsed ends the exams.
        Sweep(name="license.exam-cutoffs", every_s=30.0, run=sweep_cutoffs),
        Sweep(name="license.exam-permits-lapsed", every_s=3600.0, run=sweep_lapsed_permits),
    ],
)
