"""The violation rules (VI-01..VI-05): pure checks, state tables and named refusals, no I/O; one module
per area, re-exported, so callers write `domain.X`.

The time always comes in as an argument (the unit of work's `now`, read once from the platform clock).
ADR 0060 settles the readings the rules leave open: the online limit of 200 yuan includes 200, the
payment period counts 15 calendar days from the day after the decision is received, and the late fine
is 3% of the fine for each day after that, never more than the fine.
"""

from violation_service.domain.handling import *  # noqa: F403
from violation_service.domain.payments import *  # noqa: F403
from violation_service.domain.records import *  # noqa: F403
