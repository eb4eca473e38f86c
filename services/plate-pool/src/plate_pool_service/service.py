from plate_pool_service import rights
from plate_pool_service.commands import SENDS
from plate_pool_service.published import PUBLISHED
from plate_pool_service.settings import PlatePoolSettings
from plate_pool_service.subscriptions import SUBSCRIPTIONS
from plate_pool_service.sweeps import SWEEPS
from plate_pool_service.tables import metadata
from servicekit.service import ServiceSpec

SPEC = ServiceSpec(
    name="plate-pool",
    summary="Number-plate pre-selection: segments, pools, holds and the allocation ledger.",
    settings_cls=PlatePoolSettings,
    metadata=metadata,
    published=PUBLISHED,
    subscriptions=[*SUBSCRIPTIONS, *rights.SUBSCRIPTIONS],
    sweeps=SWEEPS,
    sends=[*SENDS, rights.AddDataExportPart],
)
