from identity_service.commands import SENDS
from identity_service.data_exports import purge_expired_exports
from identity_service.deidentify import sweep_deidentify
from identity_service.lifecycle import sweep_new_car_owners
from identity_service.published import PUBLISHED
from identity_service.revocation_marks import restore_revocation_marks
from identity_service.settings import IdentitySettings
from identity_service.subscriptions import SUBSCRIPTIONS
from identity_service.tables import metadata
from servicekit.service import ServiceSpec, Sweep

SPEC = ServiceSpec(
    name="identity",
    summary="Accounts, counter registration, bindings and tokens.",
    settings_cls=IdentitySettings,
    metadata=metadata,
    published=PUBLISHED,
    subscriptions=SUBSCRIPTIONS,
    sends=SENDS,
    sweeps=[
        Sweep(name="new-car-owner-deadlines", every_s=60.0, run=sweep_new_car_owners),
        Sweep(name="data-export-purge", every_s=3600.0, run=purge_expired_exports),
        Sweep(name="identity-deidentify", every_s=3600.0, run=sweep_deidentify),
        Sweep(name="revocation-marks", every_s=5.0, run=restore_revocation_marks),
    ],
)
