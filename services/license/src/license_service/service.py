from license_service import rights
from license_service.application_steps import sweep_medical_lapses, sweep_missed_pickups
from license_service.exam_slots import sweep_cutoffs
from license_service.exams import sweep_lapsed_permits
from license_service.imports import run_imports
from license_service.medical import sweep_periodic_reminders
from license_service.points import roll_over
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
    subscriptions=[*SUBSCRIPTIONS, *rights.SUBSCRIPTIONS],
    sends=[rights.AddDataExportPart],
    sweeps=[
        # DL-11: slots are seated at their cut-off; a learner permit that lapsed ends the exams.
        Sweep(name="license.exam-cutoffs", every_s=30.0, run=sweep_cutoffs),
        Sweep(name="license.exam-permits-lapsed", every_s=3600.0, run=sweep_lapsed_permits),
        # DL-12: a cycle ends at midnight on the first-issue anniversary; a few minutes late is harmless,
        # since what the holder reads is computed from the entries (points.cycle_view).
        Sweep(name="license.points-roll-over", every_s=300.0, run=roll_over),
        Sweep(name="license.missed-pickups", every_s=60.0, run=sweep_missed_pickups),
        Sweep(name="license.medical-lapses", every_s=300.0, run=sweep_medical_lapses),
        Sweep(name="license.periodic-medical-reminders", every_s=300.0, run=sweep_periodic_reminders),
        # DL-01: bulk imports are worked through in batches, each its own transaction (progress shows).
        Sweep(name="license.imports", every_s=1.0, run=run_imports),
    ],
)
