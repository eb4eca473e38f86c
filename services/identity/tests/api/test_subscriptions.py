"""The vehicle-event handler (queue identity.project-vehicles) on the real database: ID-03, ID-14."""

import secrets
from typing import TYPE_CHECKING

import pytest

from identity_service.subscriptions import VehicleRegistered, VehicleTransferred, project_vehicle

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration


async def test_id03_vehicle_registered_event_lets_the_owner_register_online(api: "Api") -> None:
    id_number, phone = await api.person("刘备"), api.new_phone()
    event = VehicleRegistered.model_validate(
        {
            "vehicle_id": "v-" + secrets.token_hex(5),
            "office_code": "130100",
            "plate_number": "冀A9X999",
            "plate_kind": "02",
            "vin": "LSVAU2180N2123456",
            "owner": {"id_kind": "resident_id", "id_number": id_number, "name": "刘备"},
            "phone": phone,
            "use": "non_commercial",
            "selection_id": None,
            "registered_at": "2027-03-01T09:00:00+08:00",
        }
    )
    async with api.runtime.uow() as uow:
        await project_vehicle(uow, event, None)  # type: ignore[arg-type]
        await uow.commit()
    r = await api.register("owner_driver", id_number, phone, "刘备")
    assert r.status_code == 201, r.text


async def test_id14_transfer_event_unbinds_the_previous_owner(api: "Api") -> None:
    id_number, phone = await api.owner_driver("关羽")
    vehicle = "v-" + secrets.token_hex(5)
    await api.record("vehicle", vehicle, id_number=id_number, phone=phone, state="registered")
    me = await api.bearer(phone)
    r = await api.client.post(
        "/api/v1/users/me/bindings", json={"record_kind": "vehicle", "ref": vehicle}, headers=me
    )
    assert r.status_code == 201
    event = VehicleTransferred.model_validate(
        {
            "vehicle_id": vehicle,
            "plate_number": "冀A9X998",
            "vin": "LSVAU2180N2123457",
            "previous_owner_id_number": id_number,
            "owner": {"id_kind": "resident_id", "id_number": api.new_resident_id(), "name": "张飞"},
            "phone": api.new_phone(),
            "transferred_at": "2027-03-02T09:00:00+08:00",
        }
    )
    async with api.runtime.uow() as uow:
        await project_vehicle(uow, event, None)  # type: ignore[arg-type]
        await uow.commit()
    assert (await api.client.get("/api/v1/users/me/bindings", headers=me)).json()["items"] == []
