from servicekit.service import ServiceSpec, Sweep
from vehicle_service import rights
from vehicle_service.applications import sweep_missed_pickups
from vehicle_service.dealers import sweep_missed_reviews
from vehicle_service.published import PUBLISHED
from vehicle_service.settings import VehicleSettings
from vehicle_service.subscriptions import SUBSCRIPTIONS
from vehicle_service.tables import metadata

SPEC = ServiceSpec(
    name="vehicle",
    summary="Vehicle records, first registration, reissues, inspections and temporary plates.",
    settings_cls=VehicleSettings,
    metadata=metadata,
    published=PUBLISHED,
    subscriptions=[*SUBSCRIPTIONS, *rights.SUBSCRIPTIONS],
    sends=[rights.AddDataExportPart],
    sweeps=[
        Sweep(name="vehicle.missed-pickups", every_s=60.0, run=sweep_missed_pickups),
        Sweep(name="vehicle.missed-dealer-reviews", every_s=300.0, run=sweep_missed_reviews),
    ],
)
