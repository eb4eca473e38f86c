"""The platform's typed vocabulary of event and body fields: values that cross services and must be spelt
one way everywhere. servicekit holds no domain types; this is the documented exception (architecture.md,
ADR 0045), because a value two services spell differently is a seam that fails silently (a unit's
pre-selection could never be registered when plate-pool wrote `social_credit_code` and vehicle `uscc`).

Identity-document kinds (身份证明名称), the names GA 24.x and `servicekit.validators` use:
`resident_id` (居民身份证), `uscc` (统一社会信用代码, a unit), `passport`, `military_id`, `residence_permit`.
Producers type their fields with `IdKind`; consumers and request bodies that may still receive an old
spelling from another system type them with `IdKindIn`, which reads it as today's word.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, get_args

from pydantic import BeforeValidator

IdKind = Literal["resident_id", "uscc", "passport", "military_id", "residence_permit"]
ID_KINDS: Final[tuple[IdKind, ...]] = get_args(IdKind)
# The kinds that name a unit (an organisation) rather than a person.
UNIT_ID_KINDS: Final[frozenset[IdKind]] = frozenset({"uscc"})
# Spellings other systems (and plate-pool before ADR 0045) used, read as today's word.
LEGACY_ID_KINDS: Final[dict[str, IdKind]] = {"social_credit_code": "uscc"}


def id_kind(value: Any) -> Any:
    """The vocabulary's word for `value` when it is an old spelling; anything else is left to the
    `Literal` to accept or refuse."""
    if isinstance(value, str):
        return LEGACY_ID_KINDS.get(value, value)
    return value


IdKindIn = Annotated[IdKind, BeforeValidator(id_kind)]

# Staff roles (a staff account's `roles` claim): the four counter posts, and the auditor, who reads the
# audit trail of every service and does nothing else (AU-01, ADR 0090; MLPS 2.0 separation of duties).
StaffRole = Literal["clerk.intake", "clerk.review", "clerk.archive", "clerk.admin", "auditor"]
STAFF_ROLES: Final[tuple[StaffRole, ...]] = get_args(StaffRole)
AUDITOR: Final[StaffRole] = "auditor"
