"""VI-02 and VI-03: who may handle a camera violation online, the SMS code, the decision with its number,
its PDF and its event; one handling per violation even when two bound users confirm at once."""

from __future__ import annotations

import asyncio
import re
from datetime import date

import httpx
import pytest

from servicekit.runtime import Runtime
from violation_service import papers

from .conftest import (
    Actors,
    Person,
    bind_licence,
    bind_vehicle,
    events_about,
    has_vehicle,
    owner_of,
    read_pdf,
    sent_code,
    take,
)

pytestmark = pytest.mark.integration


async def handle(
    client: httpx.AsyncClient, runtime: Runtime, who: Person, violation_id: str
) -> httpx.Response:
    r = await client.post(f"/api/v1/violations/{violation_id}/handling-code", headers=who.headers)
    assert r.status_code == 202, r.text
    code = await sent_code(runtime, who.phone)
    return await client.post(
        f"/api/v1/violations/{violation_id}/handling", json={"code": code}, headers=who.headers
    )


async def test_vi03_the_owner_confirms_with_the_sms_code_and_the_decision_is_issued(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    taken = await take(client, actors)
    owner = await owner_of(runtime, actors, taken["plate_number"])
    r = await client.post(f"/api/v1/violations/{taken['id']}/handling-code", headers=owner.headers)
    assert (r.status_code, r.json()["sent_to"]) == (202, owner.phone[:3] + "****" + owner.phone[-4:])
    code = await sent_code(runtime, owner.phone)
    r = await client.post(
        f"/api/v1/violations/{taken['id']}/handling", json={"code": code}, headers=owner.headers
    )
    assert r.status_code == 201, r.text
    decision = r.json()
    assert re.fullmatch(r"1301042027\d{8}", decision["number"])
    assert decision["payment_reference"].startswith(decision["number"])
    assert (decision["payment_state"], decision["pay_by"], decision["points"]) == ("unpaid", "2027-03-16", 6)
    detail = (await client.get(f"/api/v1/violations/{taken['id']}", headers=owner.headers)).json()
    assert (detail["state"], detail["decision"]["number"]) == ("decided", decision["number"])
    assert detail["handling"] == {"allowed": False, "refusal": "VIOLATION_ALREADY_HANDLED"}
    ((kind, event),) = [e for e in await events_about(runtime, decision["id"])]
    assert kind == "violation.decision.issued.v1"
    assert (event["driver_id_number"], event["points"], event["fine_fen"], event["phone"]) == (
        owner.id_number,
        6,
        20_000,
        owner.phone,
    )
    assert (event["decision_number"], event["pay_by"]) == (decision["number"], "2027-03-16")


async def test_vi03_the_decision_pdf_reads_back_with_its_number_and_a_genuine_qr_code(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    taken = await take(client, actors)
    owner = await owner_of(runtime, actors, taken["plate_number"])
    decision = (await handle(client, runtime, owner, taken["id"])).json()
    r = await client.get(decision["document_url"], headers=owner.headers)
    assert (r.status_code, r.headers["content-type"]) == (200, "application/pdf")
    text, codes = read_pdf(r.content)
    flat = re.sub(r"\s+", "", text)
    for expected in (
        "公安交通管理简易程序处罚决定书",
        decision["number"],
        taken["plate_number"],
        "罚款人民币200.00元；记6分",
        "2027年03月16日前",
        decision["payment_reference"],
        owner.id_number[:4] + "**********" + owner.id_number[-4:],
    ):
        assert expected in flat, expected
    assert owner.id_number not in flat  # masked
    secret = runtime.settings.secret_key.get_secret_value().encode()
    (qr,) = codes
    assert papers.check_signed(secret, papers.DECISION_QR, qr, 4) == [
        decision["number"],
        "20270301",
        "20000",
        "6",
    ]
    assert papers.check_signed(secret, papers.DECISION_QR, qr.replace("20000", "2000"), 4) is None
    # The document is the one kept when issued; a stranger does not see it.
    stranger = actors.person()
    assert (await client.get(decision["document_url"], headers=stranger.headers)).status_code == 404
    assert (await client.get(decision["document_url"], headers=actors.system)).status_code == 200


async def test_vi02_200_yuan_is_handled_online_and_200_yuan_and_a_fen_is_not(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    at_limit = await take(client, actors, fine_fen=20_000, points=0)
    owner = await owner_of(runtime, actors, at_limit["plate_number"])
    above = await take(client, actors, plate_number=at_limit["plate_number"], fine_fen=20_001, points=0)
    r = await client.post(f"/api/v1/violations/{above['id']}/handling-code", headers=owner.headers)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "FINE_ABOVE_ONLINE_LIMIT", "VI-02")
    assert (await handle(client, runtime, owner, at_limit["id"])).status_code == 201


async def test_vi02_a_warning_is_handled_and_has_nothing_to_pay(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    taken = await take(client, actors, penalty="warning", fine_fen=0, points=0)
    owner = await owner_of(runtime, actors, taken["plate_number"])
    decision = (await handle(client, runtime, owner, taken["id"])).json()
    assert decision["payment_state"] == "not_applicable"
    (_, event), *_ = await events_about(runtime, decision["id"])
    assert (event["payment_reference"], event["pay_by"]) == (None, None)


async def test_vi02_without_a_bound_licence_the_user_cannot_handle(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    taken = await take(client, actors)
    owner = await owner_of(runtime, actors, taken["plate_number"], licence=False)
    detail = (await client.get(f"/api/v1/violations/{taken['id']}", headers=owner.headers)).json()
    assert detail["handling"] == {"allowed": False, "refusal": "LICENCE_NOT_BOUND"}
    r = await client.post(f"/api/v1/violations/{taken['id']}/handling-code", headers=owner.headers)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "LICENCE_NOT_BOUND", "VI-02")
    await bind_licence(runtime, owner, ended=True)  # bound and unbound again: still none
    r = await client.post(f"/api/v1/violations/{taken['id']}/handling-code", headers=owner.headers)
    assert r.json()["code"] == "LICENCE_NOT_BOUND"


async def test_vi02_points_on_a_bound_vehicle_not_owned_are_not_handled_but_a_fine_without_points_is(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    with_points = await take(client, actors, points=3, fine_fen=10_000)
    plate = with_points["plate_number"]
    no_points = await take(client, actors, plate_number=plate, points=0, fine_fen=10_000)
    borrower = actors.person()  # bound the vehicle of another at the counter (ID-13), has a licence
    await bind_vehicle(runtime, borrower, await has_vehicle(runtime, plate), owned=False)
    await bind_licence(runtime, borrower)
    r = await client.post(f"/api/v1/violations/{with_points['id']}/handling-code", headers=borrower.headers)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (
        409,
        "POINTS_ON_VEHICLE_NOT_OWNED",
        "VI-02",
    )
    decision = (await handle(client, runtime, borrower, no_points["id"])).json()
    assert (decision["points"], decision["fine_fen"]) == (0, 10_000)


async def test_vi02_counter_registered_users_handle_too_units_and_clerks_do_not(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    taken = await take(client, actors)
    counter_user = actors.person(channel="counter")
    await bind_vehicle(runtime, counter_user, await has_vehicle(runtime, taken["plate_number"]))
    await bind_licence(runtime, counter_user)
    unit = actors.unit()
    await bind_vehicle(runtime, unit, await has_vehicle(runtime, taken["plate_number"]))
    for headers in (unit.headers, actors.clerk, actors.system):
        r = await client.post(f"/api/v1/violations/{taken['id']}/handling-code", headers=headers)
        assert r.status_code == 403
    unit_view = (await client.get(f"/api/v1/violations/{taken['id']}", headers=unit.headers)).json()
    assert unit_view["handling"] == {"allowed": False, "refusal": "PERSONAL_USERS_ONLY"}
    assert (await handle(client, runtime, counter_user, taken["id"])).status_code == 201


async def test_vi02_a_stranger_gets_404(client: httpx.AsyncClient, actors: Actors, runtime: Runtime) -> None:
    taken = await take(client, actors)
    stranger = actors.person()
    await bind_licence(runtime, stranger)
    r = await client.post(f"/api/v1/violations/{taken['id']}/handling-code", headers=stranger.headers)
    assert r.status_code == 404
    r = await client.post(
        f"/api/v1/violations/{taken['id']}/handling", json={"code": "123456"}, headers=stranger.headers
    )
    assert r.status_code == 404


async def test_vi03_a_wrong_code_issues_nothing(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    taken = await take(client, actors)
    owner = await owner_of(runtime, actors, taken["plate_number"])
    await client.post(f"/api/v1/violations/{taken['id']}/handling-code", headers=owner.headers)
    code = await sent_code(runtime, owner.phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    r = await client.post(
        f"/api/v1/violations/{taken['id']}/handling", json={"code": wrong}, headers=owner.headers
    )
    assert (r.status_code, r.json()["code"]) == (422, "SMS_CODE_MISMATCH")
    detail = (await client.get(f"/api/v1/violations/{taken['id']}", headers=owner.headers)).json()
    assert (detail["state"], detail["decision"]) == ("open", None)
    r = await client.post(
        f"/api/v1/violations/{taken['id']}/handling", json={"code": code}, headers=owner.headers
    )
    assert r.status_code == 201


async def test_vi03_one_handling_when_two_bound_users_confirm_at_once(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    taken = await take(client, actors, points=0)
    vehicle_id = await has_vehicle(runtime, taken["plate_number"])
    users = [actors.person() for _ in range(4)]
    codes = []
    for user in users:
        await bind_vehicle(runtime, user, vehicle_id, owned=user is users[0])
        await bind_licence(runtime, user)
        r = await client.post(f"/api/v1/violations/{taken['id']}/handling-code", headers=user.headers)
        assert r.status_code == 202
        codes.append(await sent_code(runtime, user.phone))
    answers = await asyncio.gather(
        *(
            client.post(f"/api/v1/violations/{taken['id']}/handling", json={"code": c}, headers=u.headers)
            for u, c in zip(users, codes, strict=True)
        )
    )
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"VIOLATION_ALREADY_HANDLED"}
    decisions = [
        e for e in await events_about(runtime, taken["id"]) if e[0] == "violation.decision.issued.v1"
    ]
    assert decisions == []  # the decision's events are about the decision, not the violation
    (winner,) = [a.json() for a in answers if a.status_code == 201]
    assert [k for k, _ in await events_about(runtime, winner["id"])] == ["violation.decision.issued.v1"]


async def test_vi03_a_repeated_confirmation_with_the_same_key_answers_the_first_decision(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    taken = await take(client, actors)
    owner = await owner_of(runtime, actors, taken["plate_number"])
    await client.post(f"/api/v1/violations/{taken['id']}/handling-code", headers=owner.headers)
    code = await sent_code(runtime, owner.phone)
    headers = owner.headers | {"Idempotency-Key": f"k-{taken['id']}"}
    url = f"/api/v1/violations/{taken['id']}/handling"
    first = await client.post(url, json={"code": code}, headers=headers)
    again = await client.post(url, json={"code": code}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"


async def test_vi05_the_handler_lists_their_decisions_and_systems_search_them(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    taken = await take(client, actors)
    owner = await owner_of(runtime, actors, taken["plate_number"])
    decision = (await handle(client, runtime, owner, taken["id"])).json()
    mine = (await client.get("/api/v1/violations/decisions", headers=owner.headers)).json()
    assert [d["id"] for d in mine["items"]] == [decision["id"]]
    found = await client.get(
        "/api/v1/violations/decisions", params={"since": "2027-03-01T00:00:00+08:00"}, headers=actors.system
    )
    assert decision["id"] in [d["id"] for d in found.json()["items"]]
    assert (await client.get("/api/v1/violations/decisions", headers=actors.system)).status_code == 422
    assert date.fromisoformat(decision["pay_by"]) == date(2027, 3, 16)
