"""The identity rules as pure functions (no servers)."""

from datetime import datetime, timedelta

import pytest

from identity_service import domain
from identity_service.domain import PersonRecord, RegistryPerson
from identity_service.subscriptions import (
    VehicleContactChanged,
    VehicleDeregistered,
    VehicleRegistered,
    VehicleTransferred,
    VehicleUseChanged,
    change_for,
)
from servicekit.clock import SHANGHAI
from servicekit.workdays import WorkdayCalendar

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=SHANGHAI)
IDN = "130102199003071233"


def _rec(kind: str, state: str, phone: str | None = "13800138000") -> PersonRecord:
    return PersonRecord(kind, "r1", IDN, phone, state)


def test_id01_personal_and_unit_kinds() -> None:
    assert domain.PERSONAL_KINDS == ("owner_driver", "learner", "new_car_owner")
    assert set(domain.UNIT_KINDS) == {
        "state_agency",
        "enterprise",
        "public_institution",
        "social_group",
        "other_organisation",
    }


def test_id03_vehicle_or_licence_with_the_same_phone() -> None:
    domain.check_online_eligibility("owner_driver", "13800138000", [_rec("licence", "valid")])
    with pytest.raises(domain.NoVehicleOrLicence):
        domain.check_online_eligibility("owner_driver", "13800138000", [_rec("vehicle", "deregistered")])
    with pytest.raises(domain.PhoneMismatch):
        domain.check_online_eligibility("owner_driver", "13900139000", [_rec("vehicle", "registered")])


def test_id04_learner_needs_an_accepted_application() -> None:
    with pytest.raises(domain.NoAcceptedApplication):
        domain.check_online_eligibility("learner", "13800138000", [_rec("licence_application", "submitted")])
    domain.check_online_eligibility("learner", "13800138000", [_rec("licence_application", "accepted")])


def test_id02_registry_match_and_deceased() -> None:
    person = RegistryPerson(IDN, "张三", "M", T0.date(), "normal")
    assert domain.check_registry_match(person, IDN, " 张三 ") is person
    with pytest.raises(domain.NotInRegistry):
        domain.check_registry_match(person, IDN, "李四")
    with pytest.raises(domain.NotInRegistry):
        domain.check_registry_match(None, IDN, "张三")
    with pytest.raises(domain.PersonDeceased):
        domain.check_registry_match(RegistryPerson(IDN, "张三", "M", T0.date(), "deceased"), IDN, "张三")


def test_id10_disqualifications_refused_at_intake() -> None:
    domain.check_disqualifications(RegistryPerson(IDN, "张三", "M", T0.date(), "normal"))
    for item in ("drug_use_unrecovered", "drug_rehab_in_progress", "licence_revoked_ban"):
        with pytest.raises(domain.Disqualified):
            domain.check_disqualifications(RegistryPerson(IDN, "张三", "M", T0.date(), "normal", (item,)))


def test_id05_deadlines() -> None:
    overdue = domain.new_car_owner_overdue
    assert overdue("new_car_owner", T0, None, None, T0 + timedelta(hours=24)) is None
    assert (
        overdue("new_car_owner", T0, None, None, T0 + timedelta(hours=24, seconds=1))
        == "no_preselection_within_24h"
    )
    register_by = domain.register_by_for(T0, WorkdayCalendar())
    assert register_by == datetime(2027, 3, 4, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    assert overdue("new_car_owner", T0, T0, register_by, register_by) is None
    assert overdue("new_car_owner", T0, T0, register_by, register_by + timedelta(seconds=1)) == (
        "not_registered_within_3_working_days"
    )
    assert overdue("owner_driver", T0, None, None, T0 + timedelta(days=9)) is None


def test_id07_capabilities_by_kind_and_channel() -> None:
    caps = domain.capabilities
    online = set(caps("personal", "owner_driver", "online"))
    counter = set(caps("personal", "owner_driver", "counter"))
    assert {"bind_own_vehicle", "pay_fines", "bind_licence_to_unit"} <= online
    assert "reissue_replace_plates" not in online
    assert counter - online >= {"reissue_replace_plates", "licence_photo_submission", "deferrals"}
    assert {"exam_appointment", "plate_preselection"} <= set(caps("personal", "learner", "online"))
    assert "bind_own_vehicle" not in caps("personal", "learner", "online")
    assert set(caps("personal", "new_car_owner", "online")) & {"plate_preselection", "bind_own_vehicle"} == {
        "plate_preselection"
    }
    assert domain.converted_kind("learner", "licence_issued") == "owner_driver"
    assert domain.converted_kind("new_car_owner", "vehicle_registered") == "owner_driver"


def test_id08_unit_capabilities_and_delegations() -> None:
    unit = set(domain.capabilities("unit", "enterprise", "counter", ["unit"]))
    assert {"bind_own_vehicle", "query_licences", "plate_preselection", "inspection_appointment"} <= unit
    assert "temporary_plates" in domain.capabilities("unit", "enterprise", "counter", ["unit", "dealer"])
    assert "medical_certificates" in domain.capabilities(
        "unit", "public_institution", "counter", ["hospital"]
    )
    assert "temporary_plates" not in unit


def test_id13_at_most_three_non_owned_vehicles() -> None:
    domain.check_non_owned_limit(2)
    with pytest.raises(domain.TooManyNonOwned):
        domain.check_non_owned_limit(3)


def test_id14_which_vehicle_changes_unbind() -> None:
    assert domain.unbinds_on_vehicle_change("transferred")
    assert domain.unbinds_on_vehicle_change("deregistered")
    assert domain.unbinds_on_vehicle_change("use_changed", "commercial", "non_commercial")
    assert not domain.unbinds_on_vehicle_change("use_changed", "non_commercial", "commercial")
    assert not domain.unbinds_on_vehicle_change("contact_changed")


def test_id09_working_day_review_deadline_skips_the_holiday() -> None:
    # Friday 27 Sep 2024: the next working day is Sunday 29 Sep (调休), ADR 0002
    friday = datetime(2024, 9, 27, 16, 0, tzinfo=SHANGHAI)
    assert domain.review_deadline(friday, WorkdayCalendar()).date().isoformat() == "2024-09-29"


def test_id09_scans_and_originals() -> None:
    with pytest.raises(domain.MissingScans):
        domain.check_scans("personal", ["onsite_photo"])
    domain.check_scans("unit", domain.UNIT_SCANS)
    with pytest.raises(domain.MissingOriginals):
        domain.check_originals("unit", domain.PERSONAL_ORIGINALS)


def test_id12_password_strength() -> None:
    domain.check_password_strength("abc12345")
    for weak in ("short1", "onlyletters", "1234567890", "a1" * 11):
        with pytest.raises(domain.WeakPassword):
            domain.check_password_strength(weak)


def test_id14_vehicle_events_become_projection_changes() -> None:
    owner = {"id_kind": "resident_id", "id_number": IDN, "name": "张三"}
    registered = change_for(
        VehicleRegistered(
            vehicle_id="v1", plate_number="冀A1", vin="V", owner=owner, phone="13800138000", use="commercial"
        ),  # type: ignore[arg-type]
        "vehicle.vehicle.registered.v1",
    )
    assert (registered.id_number, registered.state, registered.change) == (IDN, "registered", "registered")
    moved = change_for(
        VehicleTransferred(
            vehicle_id="v1",
            plate_number="冀A1",
            vin="V",
            owner={**owner, "id_number": "X"},
            phone="13900139000",
        ),  # type: ignore[arg-type]
        "vehicle.vehicle.transferred.v1",
    )
    assert (moved.id_number, moved.change) == ("X", "transferred")
    gone = change_for(VehicleDeregistered(vehicle_id="v1", plate_number="冀A1", owner_id_number=IDN), "")
    assert (gone.state, gone.change) == ("deregistered", "deregistered")
    use = change_for(
        VehicleUseChanged(
            vehicle_id="v1",
            plate_number="冀A1",
            owner_id_number=IDN,
            from_use="commercial",
            to_use="non_commercial",
        ),
        "",
    )
    assert (use.from_use, use.use, use.change) == ("commercial", "non_commercial", "use_changed")
    contact = change_for(
        VehicleContactChanged(vehicle_id="v1", plate_number="冀A1", owner_id_number=IDN, phone="13700137000"),
        "",
    )
    assert contact.phone == "13700137000"


def test_id08_owner_id_claim_is_the_person_s_number_or_the_unit_s_credit_code() -> None:
    """ADR 0012: whose records a token's holder owns."""
    import uuid

    from identity_service.tokens import TokenAccount, owner_id_claim

    def account(category: str) -> TokenAccount:
        return TokenAccount(
            id=uuid.uuid4(),
            category=category,
            roles=[],
            office=None,
            id_number="130102199003071233",  # the person, or the unit's agent
            channel="online",
            credit_code="91130100MA0CXXXX1K" if category == "unit" else None,
        )

    assert owner_id_claim(account("personal")) == "130102199003071233"
    assert owner_id_claim(account("unit")) == "91130100MA0CXXXX1K"  # never the agent's number
    assert owner_id_claim(account("staff")) is None
    assert owner_id_claim(account("system")) is None


def test_id09_id11_counter_case_moves() -> None:
    moves = domain.REGISTRATION_MOVES
    # a case opens at intake, which stores its scans and submits it: a person's to review, a unit's to archive
    assert domain.next_move(moves, domain.submission("personal"), "intake").target == "review"
    assert domain.next_move(moves, domain.submission("unit"), "intake").target == "archive"
    assert domain.next_move(moves, "approve", "review").target == "archive"
    assert domain.next_move(moves, "return", "review").target == "intake"
    assert domain.next_move(moves, "correct", "intake").target == "review"
    assert domain.next_move(moves, "archive", "archive").target == "filed"
    for action, stage in [
        ("approve", "intake"),
        ("archive", "review"),
        ("reject", "filed"),
        ("correct", "review"),
        ("submit", "review"),
        ("submit_unit", "archive"),
    ]:
        with pytest.raises(domain.WrongStage) as refused:
            domain.next_move(moves, action, stage)  # type: ignore[arg-type]
        assert (refused.value.code, refused.value.rule, refused.value.status) == ("WRONG_STAGE", "ID-09", 409)
    # every move starts at a working stage and is made by that stage's post
    for table in (domain.REGISTRATION_MOVES, domain.CHANGE_MOVES):
        for move in table.values():
            assert domain.POST_OF_STAGE[move.source] == move.post


def test_id09_id13_ar01_a_case_takes_the_scans_its_rule_names() -> None:
    domain.check_scan_kind("onsite_photo", domain.scan_kinds("personal"), "ID-09")
    domain.check_scan_kind("power_of_attorney", domain.scan_kinds("unit"), "ID-09")
    domain.check_scan_kind("vehicle_licence", domain.CHANGE_SCAN_KINDS, "ID-13")
    with pytest.raises(domain.UnknownScanKind) as refused:
        domain.check_scan_kind("power_of_attorney", domain.scan_kinds("personal"), "ID-09")
    assert (refused.value.code, refused.value.rule, refused.value.status) == (
        "UNKNOWN_SCAN_KIND",
        "ID-09",
        422,
    )
    assert refused.value.extra["kinds"] == sorted(domain.PERSONAL_SCANS)
    with pytest.raises(domain.UnknownScanKind) as refused:
        domain.check_scan_kind("agent_identity_document", domain.CHANGE_SCAN_KINDS, "ID-13")
    assert refused.value.rule == "ID-13"


def test_id13_counter_change_moves_end_at_review() -> None:
    moves = domain.CHANGE_MOVES
    assert domain.next_move(moves, "submit", "intake").target == "review"
    assert domain.next_move(moves, "approve", "review").target == "approved"
    assert domain.next_move(moves, "reject", "review").target == "rejected"
    with pytest.raises(domain.WrongStage):
        domain.next_move(moves, "archive", "approved")


def test_wd01_only_the_review_stage_has_a_deadline_and_can_be_overdue() -> None:
    calendar = WorkdayCalendar()
    deadline = domain.stage_deadline("review", T0, calendar)
    assert deadline is not None
    assert deadline.date().isoformat() == "2027-03-02"
    assert domain.stage_deadline("archive", T0, calendar) is None
    assert domain.is_overdue("review", deadline, deadline + timedelta(seconds=1))
    assert not domain.is_overdue("review", deadline, deadline)
    assert not domain.is_overdue("filed", deadline, deadline + timedelta(days=9))


def test_id07_id08_id12_who_binds_which_own_records_online() -> None:
    domain.check_can_bind_own("personal", "owner_driver", "online", [], "vehicle")
    domain.check_can_bind_own("unit", "enterprise", "counter", ["unit"], "vehicle")
    with pytest.raises(domain.NotAllowed):
        domain.check_can_bind_own("personal", "learner", "online", [], "licence")
    with pytest.raises(domain.NotAllowed):
        domain.check_can_bind_own("unit", "enterprise", "counter", ["unit"], "licence")
    assert domain.owner_key("unit", IDN, "91130100MA0000000X") == "91130100MA0000000X"
    assert domain.owner_key("personal", IDN, None) == IDN
    assert domain.is_own_live_record("vehicle", IDN, "registered", IDN)
    assert not domain.is_own_live_record("vehicle", IDN, "deregistered", IDN)
    assert not domain.is_own_live_record("licence", IDN, "valid", "130102199003071234")
    assert not domain.is_own_live_record("licence", IDN, "valid", None)


@pytest.mark.parametrize(
    ("roles", "category", "allowed"),
    [
        ({"clerk.admin"}, "personal", True),
        ({"clerk.admin"}, "unit", True),
        ({"clerk.intake"}, "personal", True),
        ({"system"}, "unit", True),
        ({"clerk.admin"}, "staff", False),
        ({"clerk.admin"}, "system", False),
        ({"clerk.intake"}, "staff", False),
        ({"system"}, "system", False),
        ({"clerk.review"}, "personal", False),
        ({"citizen"}, "personal", False),
    ],
)
def test_id16_forced_cancellation_reaches_person_and_unit_accounts_only(
    roles: set[str], category: str, allowed: bool
) -> None:
    """ADR 0080: staff accounts and system clients are never targets of the ID-16 endpoint."""
    assert domain.may_cancel_by_force(roles, category) is allowed


def test_id12_wrong_passwords_lock_the_account_at_the_limit_and_start_counting_again() -> None:
    """ADR 0081: the one sign-in lockout counter, for sign-in and reactivation alike."""
    lockout = timedelta(minutes=15)
    assert domain.count_wrong_password(3, T0, 5, lockout) == domain.WrongPasswordCount(4, None)
    assert domain.count_wrong_password(4, T0, 5, lockout) == domain.WrongPasswordCount(0, T0 + lockout)
    assert domain.lock_remaining_s(T0 + lockout, T0) == 900
    assert domain.lock_remaining_s(T0 + timedelta(milliseconds=10), T0) == 1
    assert domain.lock_remaining_s(T0, T0) is None
    assert domain.lock_remaining_s(None, T0) is None
