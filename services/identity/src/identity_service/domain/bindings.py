"""ID-13, ID-14, ID-15: bindings and licence photos."""

from __future__ import annotations

from servicekit.refusal import refusal

# --- bindings (ID-13, ID-14) ------------------------------------------------------------------------

MAX_NON_OWNED_VEHICLES = 3
TooManyNonOwned = refusal("NON_OWNED_VEHICLE_LIMIT", "ID-13")
OwnerDocumentsRequired = refusal("OWNER_DOCUMENTS_REQUIRED", "ID-13", 422)
NotOwnRecord = refusal("NOT_OWN_RECORD", "ID-12")
NotAllowed = refusal("NOT_ALLOWED_FOR_ACCOUNT_KIND", "ID-07")
AlreadyBound = refusal("ALREADY_BOUND", "ID-12")


def unbinds_on_licence_state(state: str) -> bool:
    """ID-14 / DL-13 (seed §17, 驾驶证注销后...自动解除与用户的绑定): a cancelled licence is unbound from its
    user. A revoked one (吊销) is not: the seed names cancellation only, the user goes on seeing it revoked,
    and the office cancels a revoked licence in turn (the licence regulation lists revocation among the
    grounds for 注销), which then unbinds it."""
    return state == "cancelled"


# --- licence photos (ID-15) ------------------------------------------------------------------------

NotCounterUser = refusal("COUNTER_REGISTRATION_REQUIRED", "ID-12")
PhotoChecksFailed = refusal("PHOTO_CHECKS_FAILED", "ID-15", 422)


def check_non_owned_limit(bound_non_owned: int) -> None:
    """ID-13: a personal user binds at most 3 vehicles that are not theirs (at the counter). The count is
    the live non-owned bindings plus the changes binding one still open at intake or review."""
    if bound_non_owned >= MAX_NON_OWNED_VEHICLES:
        raise TooManyNonOwned(f"at most {MAX_NON_OWNED_VEHICLES} vehicles that are not yours may be bound")
