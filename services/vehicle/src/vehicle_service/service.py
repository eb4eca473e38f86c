from servicekit.service import ServiceSpec
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
    subscriptions=SUBSCRIPTIONS,
)
