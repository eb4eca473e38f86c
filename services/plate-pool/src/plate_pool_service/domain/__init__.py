"""The plate-pool rules: pure functions, transition tables and named refusals, no I/O; each rule's ID in its
docstring. The time always comes in as an argument (the unit of work's `now`, read once from the platform
clock). Refusals are servicekit's `Refusal` (kinds named once with `refusal()`), which the web layer answers
as problems. One module per area; the package re-exports them, so callers write `domain.X`.
"""

from plate_pool_service.domain.eligibility import *  # noqa: F403
from plate_pool_service.domain.lifecycle import *  # noqa: F403
from plate_pool_service.domain.office_settings import *  # noqa: F403
from plate_pool_service.domain.pool import *  # noqa: F403
