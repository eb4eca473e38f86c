"""`Refusal`: a business rule said no. The one refusal type of every domain.

Domain code raises it without importing the web; the web layer (servicekit.web.problems) answers it as an
RFC 9457 problem with its `code`, `rule` and `status`, the `extra` members, and `Retry-After` when the
refusal says when to try again. A kind of refusal that recurs is named once with `refusal()`:

    VehicleBlocked = refusal("VEHICLE_STATE_BLOCKS", "VH-03")
    raise VehicleBlocked("the vehicle is seized", extra={"flags": ["seized"]})

A one-off is raised directly: `raise Refusal("...", code="SEGMENT_EXISTS", rule="PP-10")`.
Status: 409 when the state refuses (the default), 422 when the input does, 404 for what the caller may not
see, 429 with `retry_after_s`; 503 only for a refusal that lasts until an operator acts (WD-01's unset
calendar year). Never another 5xx: a refusal is not a fault.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


class Refusal(Exception):
    code: str = "RULE_REFUSED"
    rule: str | None = None
    status: int = 409

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        rule: str | None = None,
        status: int | None = None,
        extra: Mapping[str, Any] | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if rule is not None:
            self.rule = rule
        self.extra: dict[str, Any] = dict(extra or {})
        self.retry_after_s = None if retry_after_s is None else max(1, math.ceil(retry_after_s))
        if self.retry_after_s is not None:
            self.extra.setdefault("retry_after_s", self.retry_after_s)
        if status is not None:
            self.status = status
        elif self.retry_after_s is not None and type(self).status == Refusal.status:
            self.status = 429
        if not (400 <= self.status < 500 or self.status == 503):
            raise ValueError(f"a refusal is a 4xx or a 503, not {self.status}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.code!r}, rule={self.rule!r})"


def refusal(code: str, rule: str | None, status: int = 409) -> type[Refusal]:
    """A named kind of refusal: `VehicleBlocked = refusal("VEHICLE_STATE_BLOCKS", "VH-03")`."""
    name = code.title().replace("_", "")
    return type(name, (Refusal,), {"code": code, "rule": rule, "status": status})
