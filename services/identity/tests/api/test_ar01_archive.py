"""AR-01: a case's scans and forms are kept with the case, filed by the archive post, retrievable by case."""

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration

SCANS = [
    {"kind": "onsite_photo", "ref": "scan://ar01/photo"},
    {"kind": "registration_form", "ref": "scan://ar01/form"},
    {"kind": "identity_document", "ref": "scan://ar01/id"},
]


async def test_ar01_filed_case_keeps_its_scans_and_originals_retrievable_by_case(api: "Api") -> None:
    intake = await api.staff("clerk.intake")
    review = await api.staff("clerk.review")
    archive = await api.staff("clerk.archive")
    body = {
        "category": "personal",
        "id_number": await api.person("唐三藏"),
        "name": "唐三藏",
        "phone": api.new_phone(),
        "password": "Passw0rd2027",
        "scans": SCANS,
    }
    created = await api.client.post("/api/v1/counter/registrations", json=body, headers=intake)
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    approved = await api.client.post(f"/api/v1/counter/registrations/{case_id}/approve", headers=review)
    assert approved.status_code == 200, approved.text
    filed = await api.client.post(
        f"/api/v1/counter/registrations/{case_id}/archive",
        json={"filed": ["identity_document_copy", "registration_form_original"]},
        headers=archive,
    )
    assert filed.status_code == 200, filed.text

    case = await api.client.get(f"/api/v1/counter/registrations/{case_id}", headers=archive)
    assert case.status_code == 200, case.text
    record = case.json()
    assert record["stage"] == "filed"
    assert record["scans"] == SCANS  # the scans stay with the case
    assert record["filed_items"] == ["identity_document_copy", "registration_form_original"]
    assert [step["stage"] for step in record["history"]][-1] == "filed"
