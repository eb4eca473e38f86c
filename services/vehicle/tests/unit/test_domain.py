"""The vehicle rules as pure functions."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from servicekit.clock import SHANGHAI
from vehicle_service import domain
from vehicle_service.domain import Owner, Preselection, VehicleFacts

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    "condition",
    [
        "transferred_out",
        "stolen",
        "suspended",
        "deregistered",
        "suspect",
        "detained",
        "force_deregistered",
        "hit_and_run",
        "locked",
    ],
)
def test_vh03_each_listed_state_refuses_a_reissue(condition: str) -> None:
    state, flags = (condition, []) if condition in domain.STATES else ("registered", [condition])
    with pytest.raises(domain.VehicleBlocked) as err:
        domain.check_reissue_allowed(state, flags)
    assert err.value.rule == "VH-03"
    assert condition in err.value.extra["conditions"]


def test_vh03_seized_alone_does_not_refuse_a_reissue_but_refuses_an_inspection_vh13() -> None:
    domain.check_reissue_allowed("registered", ["seized"])
    with pytest.raises(domain.InspectionBlocked):
        domain.check_inspection_allowed("registered", ["seized"])


def _facts(**kw: object) -> VehicleFacts:
    values: dict[str, object] = {
        "plate_kind": "02",
        "state": "registered",
        "flags": (),
        "licence_photo_stored": True,
        "plate_reissue_count": 0,
        "inspection_valid_until": date(2028, 1, 31),
        "insurance_valid_until": date(2027, 12, 31),
    }
    values.update(kw)
    return VehicleFacts(**values)  # type: ignore[arg-type]


def _apply(vehicle: VehicleFacts, **kw: object) -> None:
    args: dict[str, object] = {
        "channel": "counter",
        "bound": True,
        "item": "plate",
        "delivery": "mail",
        "ban_until": None,
        "today": date(2027, 3, 1),
    }
    args.update(kw)
    domain.check_application(vehicle, **args)  # type: ignore[arg-type]


def test_vh02_online_registered_users_are_refused() -> None:
    with pytest.raises(domain.CounterUsersOnly):
        _apply(_facts(), channel="online")


def test_vh02_a_vehicle_owned_but_not_bound_is_refused_after_the_channel() -> None:
    with pytest.raises(domain.VehicleNotBound) as err:
        _apply(_facts(), bound=False)
    assert (err.value.code, err.value.rule, err.value.status) == ("VEHICLE_NOT_BOUND", "VH-02", 409)
    with pytest.raises(domain.CounterUsersOnly):
        _apply(_facts(), channel="online", bound=False)


def test_vh04_licence_reissue_needs_a_stored_photo() -> None:
    with pytest.raises(domain.LicencePhotoMissing):
        _apply(_facts(licence_photo_stored=False), item="licence")
    _apply(_facts(licence_photo_stored=False), item="plate")


def test_vh05_second_plate_reissue_is_not_mailed_but_may_be_picked_up() -> None:
    _apply(_facts(plate_reissue_count=0), delivery="mail")
    with pytest.raises(domain.MailNotAllowed):
        _apply(_facts(plate_reissue_count=1), delivery="mail")
    _apply(_facts(plate_reissue_count=1), delivery="pickup")
    _apply(_facts(plate_reissue_count=1), item="licence", delivery="mail")


def test_vh07_ban_refuses_until_its_last_day_inclusive() -> None:
    with pytest.raises(domain.DeliveryBanned):
        _apply(_facts(), ban_until=date(2027, 3, 1))
    _apply(_facts(), ban_until=date(2027, 2, 28))


def test_vh07_ban_lasts_one_year() -> None:
    assert domain.ban_until(datetime(2027, 3, 10, 15, 0, tzinfo=SHANGHAI)) == date(2028, 3, 9)
    assert domain.ban_until(datetime(2028, 2, 29, 15, 0, tzinfo=SHANGHAI)) == date(2029, 2, 27)


def test_vh07_pickup_due_one_calendar_month_after_ready() -> None:
    ready = datetime(2027, 1, 31, 10, 0, tzinfo=SHANGHAI)
    assert domain.pickup_due(ready) == datetime(2027, 2, 28, 10, 0, tzinfo=SHANGHAI)


def test_vh08_plate_kinds_not_offered_online_are_refused() -> None:
    with pytest.raises(domain.PlateKindNotOnline):
        _apply(_facts(plate_kind="15"), item="plate")


def test_vh09_mark_needs_inspection_insurance_and_its_photo() -> None:
    with pytest.raises(domain.InsuranceNotValid):
        _apply(_facts(insurance_valid_until=date(2027, 2, 1)), item="mark")
    with pytest.raises(domain.InspectionNotPassed):
        _apply(_facts(inspection_valid_until=None), item="mark")
    _apply(_facts(), item="mark")
    # the insurance certificate is stored with the draft (AR-01) before it is submitted
    assert (domain.first_state("mark"), domain.first_state("plate")) == ("draft", "submitted")
    with pytest.raises(domain.InsurancePhotoMissing) as refused:
        domain.check_insurance_photo("mark", stored=False)
    assert (refused.value.code, refused.value.rule, refused.value.status) == (
        "INSURANCE_PHOTO_MISSING",
        "VH-09",
        422,
    )
    domain.check_insurance_photo("mark", stored=True)
    domain.check_insurance_photo("licence", stored=False)
    domain.check_draft("draft")
    with pytest.raises(domain.WrongState) as late:
        domain.check_draft("submitted")
    assert (late.value.rule, late.value.status) == ("VH-09", 409)


def test_vh09_office_steps_in_order() -> None:
    domain.check_transition("draft", "submitted")
    with pytest.raises(domain.WrongState):
        domain.check_transition("draft", "accepted")
    domain.check_transition("submitted", "accepted")
    with pytest.raises(domain.WrongState):
        domain.check_transition("submitted", "mailed")
    with pytest.raises(domain.WrongState):
        domain.check_transition("delivered", "refused")


def test_vh13_window_opens_three_months_before_expiry() -> None:
    valid_until = date(2027, 5, 31)
    assert domain.inspection_window_opens(valid_until) == date(2027, 2, 28)
    with pytest.raises(domain.OutsideInspectionWindow):
        domain.check_inspection_window(valid_until, date(2027, 2, 27), date(2027, 3, 5))
    domain.check_inspection_window(valid_until, date(2027, 2, 28), date(2027, 3, 5))
    # ADR 0041: overdue vehicles still book.
    domain.check_inspection_window(valid_until, date(2027, 7, 1), date(2027, 7, 2))
    with pytest.raises(domain.OutsideInspectionWindow):
        domain.check_inspection_window(valid_until, date(2027, 3, 5), date(2027, 3, 4))


def test_vh13_other_city_of_the_province_only_by_the_published_plan() -> None:
    domain.check_station_reachable("130100", "130100", other_cities=False)
    domain.check_station_reachable("130102", "130100", other_cities=False)  # a district office of the city
    with pytest.raises(domain.StationNotInReach):
        domain.check_station_reachable("130100", "130200", other_cities=False)
    domain.check_station_reachable("130100", "130200", other_cities=True)
    with pytest.raises(domain.StationNotInReach):
        domain.check_station_reachable("130100", "110100", other_cities=True)


def test_vh13_cancel_only_before_the_inspection_day() -> None:
    domain.check_cancellable(date(2027, 3, 2), date(2027, 3, 1))
    with pytest.raises(domain.NotBeforeInspectionDay):
        domain.check_cancellable(date(2027, 3, 1), date(2027, 3, 1))


def _selection(**kw: object) -> Preselection:
    values: dict[str, object] = {
        "selection_id": "s1",
        "office_code": "130100",
        "plate_number": "冀A12345",
        "vin": "LSVAU218XN2183294",
        "owner": Owner("resident_id", "130102199003071233", "张三"),
        "phone": "13800138000",
        "register_by": datetime(2027, 3, 4, 23, 59, 59, tzinfo=SHANGHAI),
        "state": "confirmed",
    }
    values.update(kw)
    return Preselection(**values)  # type: ignore[arg-type]


def test_pp09_mismatch_lists_every_differing_field_and_ignores_spaces_in_names() -> None:
    sel = _selection()
    assert (
        domain.selection_mismatches(
            sel, sel.vin, Owner("resident_id", "130102199003071233", "张 三"), sel.phone
        )
        == []
    )
    wrong = domain.selection_mismatches(sel, "X", Owner("passport", "E1", "李四"), "13900139000")
    assert wrong == ["vin", "owner.id_kind", "owner.id_number", "owner.name", "phone"]


def test_pp09_selection_must_be_confirmed_same_office_and_in_time() -> None:
    with pytest.raises(domain.SelectionUnknown):
        domain.check_selection_usable(None, "130100", NOW)
    with pytest.raises(domain.SelectionNotUsable):
        domain.check_selection_usable(_selection(state="cancelled"), "130100", NOW)
    with pytest.raises(domain.SelectionOtherOffice):
        domain.check_selection_usable(_selection(), "130200", NOW)
    with pytest.raises(domain.SelectionExpired):
        domain.check_selection_usable(_selection(), "130100", datetime(2027, 3, 5, 0, 0, tzinfo=SHANGHAI))


def test_vh12_authorisation_by_brand_or_brand_and_model() -> None:
    authorised = ["大众", "丰田/卡罗拉"]
    assert domain.is_authorised(authorised, "大众", "帕萨特")
    assert domain.is_authorised(authorised, "丰田", "卡罗拉")
    assert not domain.is_authorised(authorised, "丰田", "凯美瑞")
    assert not domain.is_authorised(authorised, "本田", "雅阁")


def test_vh12_qualification_one_year_review_in_the_last_month() -> None:
    assert domain.qualification_until(date(2027, 3, 1)) == date(2028, 2, 29)
    with pytest.raises(domain.RenewalOutsideWindow):
        domain.check_renewal_window(date(2028, 2, 29), date(2028, 1, 28))
    domain.check_renewal_window(date(2028, 2, 29), date(2028, 1, 29))
    domain.check_renewal_window(date(2028, 2, 29), date(2028, 2, 29))
    with pytest.raises(domain.RenewalOutsideWindow):
        domain.check_renewal_window(date(2028, 2, 29), date(2028, 3, 1))


def test_vh12_reapply_bar_lasts_one_year() -> None:
    cancelled = datetime(2027, 3, 1, 10, 0, tzinfo=SHANGHAI)
    with pytest.raises(domain.DealerBarred):
        domain.check_reapply_bar(cancelled, datetime(2028, 2, 29, 10, 0, tzinfo=SHANGHAI))
    domain.check_reapply_bar(cancelled, datetime(2028, 3, 1, 10, 0, tzinfo=SHANGHAI))


def test_vh12_every_document_is_required() -> None:
    with pytest.raises(domain.DealerDocumentsMissing):
        domain.check_dealer_documents({"organisation_certificate": "x"})
