"""The driving-licence rules (DL-01..DL-13): states and transitions as tables, pure checks, named
refusals. No I/O: the time comes in as an argument (the unit of work's `uow.now`, or its date in
Asia/Shanghai). A use case loads what a check needs, calls it, and writes what it decides. One module per
area; the package re-exports them, so callers write `domain.X`.
"""

from license_service.domain.applications import *  # noqa: F403
from license_service.domain.dates import *  # noqa: F403
from license_service.domain.exams import *  # noqa: F403
from license_service.domain.learners import *  # noqa: F403
from license_service.domain.medical import *  # noqa: F403
from license_service.domain.points import *  # noqa: F403
from license_service.domain.records import *  # noqa: F403
from license_service.domain.validity import *  # noqa: F403
