"""What a licence's state (license's words, DL-01) means to identity: ID-03, ID-07, ID-12, ID-14."""

from __future__ import annotations

import pytest

from identity_service import domain
from identity_service.domain import PersonRecord

IDN = "130102199003071233"


@pytest.mark.parametrize(
    ("state", "unbinds"),
    [("valid", False), ("full_points", False), ("suspended", False), ("revoked", False), ("cancelled", True)],
)
def test_id14_dl13_only_a_cancelled_licence_is_unbound(state: str, unbinds: bool) -> None:
    assert domain.unbinds_on_licence_state(state) is unbinds


@pytest.mark.parametrize(
    ("state", "held"),
    [("valid", True), ("full_points", True), ("suspended", True), ("revoked", False), ("cancelled", False)],
)
def test_id03_id12_a_held_licence_counts_and_may_be_bound(state: str, held: bool) -> None:
    assert domain.is_own_live_record("licence", IDN, state, IDN) is held
    record = PersonRecord("licence", "rec-1", IDN, "13800138000", state)
    if held:
        domain.check_online_eligibility("owner_driver", "13800138000", [record])
    else:
        with pytest.raises(domain.NoVehicleOrLicence):
            domain.check_online_eligibility("owner_driver", "13800138000", [record])
