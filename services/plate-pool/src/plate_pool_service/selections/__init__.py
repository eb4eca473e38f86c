"""The use cases of a pre-selection (PP-01..PP-09), one function per action. The HTTP modules, the worker's
sweeps and its subscriptions call these and nothing below them: each reads what it needs, asks `domain`
(the rules and the lifecycle table), and writes. PP-12 hot path: draws and verifies touch Redis only;
choices, confirmations and everything durable go through Postgres (ledger.py, reconcile.py).

Most take the context and open their own units of work, because a plate-pool step is a Redis script
first and its Postgres record after, in a transaction of its own (ADR 0020, ADR 0021): a route cannot
hold one unit of work around both. Those that run inside someone else's transaction take it: `cancel`
(the one cancellation path) and the settlement of a registration (the consumer's unit of work, which
also holds the inbox row).
"""

from plate_pool_service.selections.ending import (
    Registration,
    abandon,
    cancel,
    cancel_unregistered,
    end,
    end_session,
    lapse_sms,
    registration_refused,
    settle,
)
from plate_pool_service.selections.reading import (
    Current,
    current,
    find_for_counter,
    load,
    load_current,
    mine,
    row_of,
)
from plate_pool_service.selections.starting import Application, registered_phone, start
from plate_pool_service.selections.steps import (
    SMS_PURPOSE,
    choose,
    confirm,
    draw,
    segment_of,
    send_code,
    verify,
)

__all__ = [
    "SMS_PURPOSE",
    "Application",
    "Current",
    "Registration",
    "abandon",
    "cancel",
    "cancel_unregistered",
    "choose",
    "confirm",
    "current",
    "draw",
    "end",
    "end_session",
    "find_for_counter",
    "lapse_sms",
    "load",
    "load_current",
    "mine",
    "registered_phone",
    "registration_refused",
    "row_of",
    "segment_of",
    "send_code",
    "settle",
    "start",
    "verify",
]
