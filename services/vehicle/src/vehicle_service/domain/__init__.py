"""The vehicle rules: pure functions, transition tables and named refusals, no I/O; each rule's ID in its
docstring. The time always comes in as an argument (the unit of work's `now`, read once from the platform
clock). One module per area; the package re-exports them, so callers write `domain.X`.
"""

from vehicle_service.domain.applications import *  # noqa: F403
from vehicle_service.domain.dealers import *  # noqa: F403
from vehicle_service.domain.inspections import *  # noqa: F403
from vehicle_service.domain.records import *  # noqa: F403
from vehicle_service.domain.registration import *  # noqa: F403
