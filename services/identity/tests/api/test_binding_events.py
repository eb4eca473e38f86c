"""Every path that starts or ends a binding publishes it: vehicles (ADR 0044; vehicle's VH-13 and
violation's VI-02 read them) and licences (ADR 0060; violation's VI-02 reads them)."""

import secrets
from typing import TYPE_CHECKING, Any

import pytest

from servicekit.testing import outbox_payloads

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration

CREATED = "identity.binding.created.v1"
ENDED = "identity.binding.ended.v1"
LICENCE_CREATED = "identity.licence_binding.created.v1"
LICENCE_ENDED = "identity.licence_binding.ended.v1"


async def _events(api: "Api", routing_key: str, ref: str, field: str = "ref") -> list[dict[str, Any]]:
    """The payloads of `routing_key` about the record `ref` in identity's outbox, oldest first."""
    async with api.runtime.engine.connect() as conn:
        return await outbox_payloads(conn, routing_key, **{field: ref})


async def _owner_with_vehicle(api: "Api") -> tuple[str, str, dict[str, str], str]:
    """An owner/driver, signed in, with a vehicle of their own: (id number, account id, headers, ref)."""
    id_number, phone = await api.owner_driver()
    ref = "veh-" + secrets.token_hex(6)
    await api.record("vehicle", ref, id_number=id_number, phone=phone, state="registered", use="commercial")
    headers = await api.bearer(phone)
    account_id = (await api.client.get("/api/v1/users/me", headers=headers)).json()["id"]
    return id_number, account_id, headers, ref


async def _bind_online(api: "Api", headers: dict[str, str], ref: str) -> dict[str, Any]:
    r = await api.client.post(
        "/api/v1/users/me/bindings", json={"record_kind": "vehicle", "ref": ref}, headers=headers
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_id12_online_bind_and_unbind_publish_created_then_ended(api: "Api") -> None:
    _, account_id, me, ref = await _owner_with_vehicle(api)
    binding = await _bind_online(api, me, ref)
    (created,) = await _events(api, CREATED, ref)
    assert created | {"at": None} == {
        "binding_id": binding["id"],
        "account_id": account_id,
        "record_kind": "vehicle",
        "ref": ref,
        "owned": True,
        "channel": "online",
        "at": None,
    }
    assert await _events(api, ENDED, ref) == []
    r = await api.client.delete(f"/api/v1/users/me/bindings/{binding['id']}", headers=me)
    assert r.status_code == 204
    (ended,) = await _events(api, ENDED, ref)
    assert (ended["binding_id"], ended["account_id"], ended["reason"]) == (
        binding["id"],
        account_id,
        "by_user",
    )


async def test_id12_vi02_licence_bindings_publish_their_own_created_then_ended(api: "Api") -> None:
    """ADR 0060: violation needs to know who has bound a licence (VI-02), by its own event types (the
    vehicle binding events stay as they were)."""
    id_number, phone = await api.owner_driver()
    licence = await api.licence(id_number, phone)  # license's record id (ADR 0050)
    me = await api.bearer(phone)
    account = (await api.client.get("/api/v1/users/me", headers=me)).json()
    r = await api.client.post(
        "/api/v1/users/me/bindings", json={"record_kind": "licence", "ref": licence}, headers=me
    )
    assert r.status_code == 201, r.text
    assert await _events(api, CREATED, licence) == []
    (created,) = await _events(api, LICENCE_CREATED, id_number, "licence_number")
    assert created | {"at": None} == {
        "binding_id": r.json()["id"],
        "account_id": account["id"],
        "licence_number": id_number,
        "holder_name": account["name"],
        "channel": "online",
        "at": None,
    }
    r = await api.client.delete(f"/api/v1/users/me/bindings/{r.json()['id']}", headers=me)
    assert r.status_code == 204
    (ended,) = await _events(api, LICENCE_ENDED, id_number, "licence_number")
    assert (ended["binding_id"], ended["reason"]) == (created["binding_id"], "by_user")


async def test_id13_counter_bind_publishes_created_not_owned(api: "Api") -> None:
    _, account_id, _, _ = await _owner_with_vehicle(api)
    ref = "veh-" + secrets.token_hex(6)
    await api.record(
        "vehicle", ref, id_number=api.new_resident_id(), phone=api.new_phone(), state="registered"
    )
    change = await api.counter_bind(account_id, ref)  # through intake and review (seed §19)
    (created,) = await _events(api, CREATED, ref)
    assert (created["binding_id"], created["account_id"]) == (change["data"]["binding_id"], account_id)
    assert (created["owned"], created["channel"]) == (False, "counter")


async def test_id14_automatic_unbinding_publishes_ended_for_each_binding(api: "Api") -> None:
    _, _, owner, ref = await _owner_with_vehicle(api)
    binding = await _bind_online(api, owner, ref)
    r = await api.record(
        "vehicle",
        ref,
        id_number=api.new_resident_id(),
        state="registered",
        use="commercial",
        change="transferred",
    )
    assert r.status_code == 200, r.text
    (ended,) = await _events(api, ENDED, ref)
    assert (ended["binding_id"], ended["reason"], ended["owned"]) == (binding["id"], "transferred", True)


async def test_id14_a_change_that_keeps_bindings_publishes_no_end(api: "Api") -> None:
    owner_id, _, owner, ref = await _owner_with_vehicle(api)
    await _bind_online(api, owner, ref)
    r = await api.record("vehicle", ref, id_number=owner_id, state="registered", use="non_commercial")
    assert r.status_code == 200, r.text  # commercial → non-commercial keeps the owner's own binding
    assert await _events(api, ENDED, ref) == []


async def test_id16_cancelled_account_publishes_the_end_of_its_bindings(api: "Api") -> None:
    _, account_id, me, ref = await _owner_with_vehicle(api)
    binding = await _bind_online(api, me, ref)
    r = await api.client.post("/api/v1/users/me/cancellation", json={"password": "Passw0rd2027"}, headers=me)
    assert r.status_code == 204
    (ended,) = await _events(api, ENDED, ref)
    assert (ended["binding_id"], ended["account_id"], ended["reason"]) == (
        binding["id"],
        account_id,
        "account_cancelled",
    )


async def test_id12_a_roll_out_replays_every_live_vehicle_binding_once_per_run(api: "Api") -> None:
    """ADR 0044: bindings made before the events existed reach vehicle by one replay; ended ones do not."""
    from identity_service.binding_events import replay_live

    _, _, me, ref = await _owner_with_vehicle(api)
    live = await _bind_online(api, me, ref)
    _, _, other, gone_ref = await _owner_with_vehicle(api)
    gone = await _bind_online(api, other, gone_ref)
    assert (
        await api.client.delete(f"/api/v1/users/me/bindings/{gone['id']}", headers=other)
    ).status_code == 204
    seen: list[tuple[int, int]] = []

    replayed = await replay_live(
        api.runtime, batch=1, progress=lambda done, total: seen.append((done, total))
    )

    assert replayed >= 1
    assert seen[-1] == (replayed, replayed)  # progress after each batch, ending at the total
    assert [e["binding_id"] for e in await _events(api, CREATED, ref)] == [live["id"], live["id"]]
    assert [e["binding_id"] for e in await _events(api, CREATED, gone_ref)] == [gone["id"]]  # not replayed
