"""The identity rules: pure functions, transition tables and named refusals, no I/O; each rule's ID in its
docstring. Refusals are servicekit's `Refusal` (kinds named once with `refusal()`), which the web layer
answers as problems without this package importing the web. One module per area; the package re-exports
them, so callers write `domain.X`.
"""

from identity_service.domain.accounts import *  # noqa: F403
from identity_service.domain.bindings import *  # noqa: F403
from identity_service.domain.counter import *  # noqa: F403
from identity_service.domain.exports import *  # noqa: F403
from identity_service.domain.registration import *  # noqa: F403
from identity_service.domain.staff_auth import *  # noqa: F403
