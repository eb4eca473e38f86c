"""AR-01: a case's scans and forms are kept with the case, filed by the archive post, retrievable by case.
The scans of counter registrations and personal counter changes are stored (servicekit.documents: typed by
their bytes, size-checked), kept with their case, and served only to the clerks entitled to the case."""

import asyncio
import secrets
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import text

from .conftest import CHANGE_SCANS, JPEG, PDF, PERSONAL_SCANS

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration

CASES = "/api/v1/counter/registrations"
CHANGES = "/api/v1/users/counter-changes"


async def _opened(api: "Api", intake: dict[str, str], name: str = "唐三藏") -> tuple[str, str, str]:
    """A registration opened at intake, no scans yet: (case id, identity number, phone)."""
    id_number, phone = await api.person(name), api.new_phone()
    body = {"id_number": id_number, "name": name, "phone": phone, "password": "Passw0rd2027"}
    r = await api.client.post(CASES, json=body, headers=intake)
    assert r.status_code == 201, r.text
    assert (r.json()["stage"], r.json()["scans"], r.json()["deadline"]) == ("intake", [], None)
    return r.json()["id"], id_number, phone


async def _documents(api: "Api", case_ref: str) -> list[Any]:
    async with api.runtime.engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    text(
                        "SELECT kind, owner, media_type, size, created_by FROM documents "
                        "WHERE case_ref = :c ORDER BY created_at, id"
                    ),
                    {"c": case_ref},
                )
            ).all()
        )


async def test_ar01_filed_case_keeps_its_scans_and_originals_retrievable_by_case(api: "Api") -> None:
    intake = await api.staff("clerk.intake")
    review = await api.staff("clerk.review")
    archive = await api.staff("clerk.archive")
    case_id, id_number, _ = await _opened(api, intake)
    stored = await api.store_scans(f"{CASES}/{case_id}", PERSONAL_SCANS, intake)
    assert [(s["kind"], s["media_type"]) for s in stored] == [
        ("onsite_photo", "image/jpeg"),
        ("registration_form", "application/pdf"),
        ("identity_document", "application/pdf"),
    ]
    submitted = await api.client.post(f"{CASES}/{case_id}/submission", headers=intake)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["stage"] == "review"
    approved = await api.client.post(f"{CASES}/{case_id}/approve", headers=review)
    assert approved.status_code == 200, approved.text
    filed = await api.client.post(
        f"{CASES}/{case_id}/archive",
        json={"filed": ["identity_document_copy", "registration_form_original"]},
        headers=archive,
    )
    assert filed.status_code == 200, filed.text

    case = await api.client.get(f"{CASES}/{case_id}", headers=archive)
    assert case.status_code == 200, case.text
    record = case.json()
    assert record["stage"] == "filed"
    assert record["filed_items"] == ["identity_document_copy", "registration_form_original"]
    assert [step["stage"] for step in record["history"]] == ["intake", "review", "archive", "filed"]
    # the scans stay with the case, and the archive post retrieves their bytes by the case
    assert {s["kind"]: s["content"] for s in record["scans"]} == {
        k: f"{CASES}/{case_id}/scans/{k}" for k in PERSONAL_SCANS
    }
    photo = await api.client.get(f"{CASES}/{case_id}/scans/onsite_photo", headers=archive)
    assert (photo.status_code, photo.content, photo.headers["content-type"]) == (200, JPEG, "image/jpeg")
    form = await api.client.get(f"{CASES}/{case_id}/scans/registration_form", headers=archive)
    assert (form.content, form.headers["content-type"]) == (PDF, "application/pdf")
    kept = await _documents(api, f"registration:{case_id}")
    assert [(d.kind, d.owner) for d in kept] == [(k, id_number) for k in PERSONAL_SCANS]


async def test_ar01_registration_scans_are_served_only_to_the_post_holding_the_case(api: "Api") -> None:
    intake = await api.staff("clerk.intake")
    review = await api.staff("clerk.review")
    case_id, _, phone = await _opened(api, intake)
    await api.store_scans(f"{CASES}/{case_id}", PERSONAL_SCANS, intake)
    url = f"{CASES}/{case_id}/scans/identity_document"
    assert (await api.client.get(url, headers=intake)).status_code == 200  # at intake: intake's
    assert (await api.client.post(f"{CASES}/{case_id}/submission", headers=intake)).status_code == 200
    served = await api.client.get(url, headers=review)
    assert (served.status_code, served.content) == (200, PDF)
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "no-store" in served.headers["cache-control"]
    assert (await api.client.get(url, headers=await api.staff("clerk.admin"))).status_code == 200
    _, stranger_phone = await api.owner_driver()
    for other in (
        intake,  # the case has left intake
        await api.staff("clerk.archive"),  # not filed yet
        await api.staff("clerk.review", office="130200"),  # another office
        await api.bearer(stranger_phone),  # another person
    ):
        refused = await api.client.get(url, headers=other)
        assert (refused.status_code, refused.json()["code"]) == (404, "NOT_FOUND")
    assert (
        await api.client.get(f"{CASES}/{case_id}/scans/power_of_attorney", headers=review)
    ).status_code == 404
    assert (await api.client.get(url)).status_code == 401
    # the person, once approved, sees their case without its scans, and not the scans themselves
    assert (await api.client.post(f"{CASES}/{case_id}/approve", headers=review)).status_code == 200
    person = await api.bearer(phone)
    own = await api.client.get(f"{CASES}/{case_id}", headers=person)
    assert own.status_code == 200
    assert "scans" not in own.json()
    assert (await api.client.get(url, headers=person)).status_code == 404


async def test_ar01_registration_scan_type_size_and_kind_are_refused_and_nothing_is_kept(api: "Api") -> None:
    intake = await api.staff("clerk.intake")
    case_id, _, _ = await _opened(api, intake)
    path = f"{CASES}/{case_id}/scans"
    html = await api.client.put(
        f"{path}/identity_document",
        content=b"<html><script>alert(1)</script></html>",
        headers={**intake, "Content-Type": "application/pdf"},  # the client's word is not taken
    )
    assert html.status_code == 415
    assert html.headers["content-type"].startswith("application/problem+json")
    assert (html.json()["code"], html.json()["rule"]) == ("DOCUMENT_TYPE_NOT_ALLOWED", "AR-01")
    huge = await api.client.put(
        f"{path}/identity_document", content=PDF + b"\x00" * (5 * 1024 * 1024), headers=intake
    )
    assert huge.status_code == 413
    assert (huge.json()["code"], huge.json()["rule"]) == ("DOCUMENT_TOO_LARGE", "AR-01")
    unknown = await api.client.put(f"{path}/selfie", content=JPEG, headers=intake)
    assert (unknown.status_code, unknown.json()["code"], unknown.json()["rule"]) == (
        422,
        "UNKNOWN_SCAN_KIND",
        "ID-09",
    )
    assert unknown.json()["kinds"] == sorted(PERSONAL_SCANS)
    case = (await api.client.get(f"{CASES}/{case_id}", headers=intake)).json()
    assert case["scans"] == []
    assert await _documents(api, f"registration:{case_id}") == []


async def test_ar01_scan_references_are_refused_the_scans_are_stored(api: "Api") -> None:
    """A client still sending `{kind, ref}` references is told so, and nothing is opened."""
    intake = await api.staff("clerk.intake")
    body = {
        "id_number": await api.person("唐三藏"),
        "name": "唐三藏",
        "phone": api.new_phone(),
        "password": "Passw0rd2027",
        "scans": [{"kind": "onsite_photo", "ref": "scan://photo"}],
    }
    r = await api.client.post(CASES, json=body, headers=intake)
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_FAILED")
    assert [e["field"] for e in r.json()["errors"]] == ["body.scans"]


async def test_ar01_a_scan_stored_again_replaces_it_in_the_case_and_the_first_is_kept(api: "Api") -> None:
    intake = await api.staff("clerk.intake")
    case_id, _, _ = await _opened(api, intake)
    path = f"{CASES}/{case_id}"
    first = (await api.store_scans(path, ["onsite_photo"], intake))[0]
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + secrets.token_bytes(64)
    again = await api.client.put(f"{path}/scans/onsite_photo", content=png, headers=intake)
    assert again.status_code == 201, again.text
    assert again.json()["document_id"] != first["document_id"]
    case = (await api.client.get(path, headers=intake)).json()
    assert [(s["kind"], s["media_type"]) for s in case["scans"]] == [("onsite_photo", "image/png")]
    assert (await api.client.get(f"{path}/scans/onsite_photo", headers=intake)).content == png
    kept = await _documents(api, f"registration:{case_id}")
    assert [(d.kind, d.media_type) for d in kept] == [
        ("onsite_photo", "image/jpeg"),
        ("onsite_photo", "image/png"),
    ]
    # once submitted, only a return to intake lets intake store scans again
    await api.store_scans(path, PERSONAL_SCANS[1:], intake)
    assert (await api.client.post(f"{path}/submission", headers=intake)).status_code == 200
    late = await api.client.put(f"{path}/scans/onsite_photo", content=JPEG, headers=intake)
    assert late.status_code == 404


async def _change(api: "Api", intake: dict[str, str]) -> tuple[str, str]:
    """A change binding another's vehicle, opened at intake: (change id, account id)."""
    _, phone = await api.owner_driver()
    account_id = (await api.client.get("/api/v1/users/me", headers=await api.bearer(phone))).json()["id"]
    ref = "veh-" + secrets.token_hex(6)
    r = await api.record(
        "vehicle", ref, id_number=api.new_resident_id(), phone=api.new_phone(), state="registered"
    )
    assert r.status_code == 200, r.text
    body = {"account_id": account_id, "kind": "bind_vehicle", "ref": ref}
    r = await api.client.post(CHANGES, json=body, headers=intake)
    assert r.status_code == 201, r.text
    assert (r.json()["stage"], r.json()["scans"]) == ("intake", [])
    return r.json()["id"], account_id


async def test_ar01_counter_change_scans_are_stored_with_the_change_and_served_to_its_office_clerks(
    api: "Api",
) -> None:
    intake = await api.staff("clerk.intake")
    review = await api.staff("clerk.review")
    change_id, account_id = await _change(api, intake)
    path = f"{CHANGES}/{change_id}"
    await api.store_scans(path, CHANGE_SCANS, intake)
    r = await api.client.post(f"{path}/submission", json={"owner_documents_checked": True}, headers=intake)
    assert r.status_code == 200, r.text
    change = r.json()
    assert change["stage"] == "review"
    assert {s["kind"]: s["content"] for s in change["scans"]} == {
        k: f"{path}/scans/{k}" for k in CHANGE_SCANS
    }
    licence = await api.client.get(f"{path}/scans/vehicle_licence", headers=review)
    assert (licence.status_code, licence.content) == (200, PDF)
    kept = await _documents(api, f"counter_change:{change_id}")
    assert sorted(d.kind for d in kept) == sorted(CHANGE_SCANS)
    assert {d.owner for d in kept} == {account_id}
    # another office's clerk is told it does not exist; people reach no counter change at all (role)
    elsewhere = await api.staff("clerk.review", office="130200")
    refused = await api.client.get(f"{path}/scans/vehicle_licence", headers=elsewhere)
    assert (refused.status_code, refused.json()["code"]) == (404, "NOT_FOUND")
    _, stranger_phone = await api.owner_driver()
    assert (
        await api.client.get(f"{path}/scans/vehicle_licence", headers=await api.bearer(stranger_phone))
    ).status_code == 403
    assert (await api.client.get(f"{path}/scans/registration_form", headers=elsewhere)).status_code == 404


async def test_ar01_counter_change_scan_type_and_size_are_refused(api: "Api") -> None:
    intake = await api.staff("clerk.intake")
    change_id, _ = await _change(api, intake)
    path = f"{CHANGES}/{change_id}/scans"
    gif = await api.client.put(f"{path}/vehicle_licence", content=b"GIF89a" + b"\x00" * 32, headers=intake)
    assert (gif.status_code, gif.json()["code"], gif.json()["rule"]) == (
        415,
        "DOCUMENT_TYPE_NOT_ALLOWED",
        "AR-01",
    )
    huge = await api.client.put(
        f"{path}/vehicle_licence", content=JPEG + b"\x00" * (5 * 1024 * 1024), headers=intake
    )
    assert (huge.status_code, huge.json()["code"], huge.json()["rule"]) == (
        413,
        "DOCUMENT_TOO_LARGE",
        "AR-01",
    )
    unknown = await api.client.put(f"{path}/organisation_certificate", content=PDF, headers=intake)
    assert (unknown.status_code, unknown.json()["rule"]) == (422, "ID-13")
    assert await _documents(api, f"counter_change:{change_id}") == []
    missing = await api.client.post(
        f"{CHANGES}/{change_id}/submission", json={"owner_documents_checked": True}, headers=intake
    )
    assert (missing.status_code, missing.json()["code"]) == (422, "MISSING_SCANS")


async def test_ar01_scans_stored_at_once_are_all_kept_in_the_case(api: "Api") -> None:
    """Each upload rewrites the case's list of scans under the case's row lock: three stored at once are
    three in the case, none lost to another's write."""
    intake = await api.staff("clerk.intake")
    case_id, _, _ = await _opened(api, intake)
    answers = await asyncio.gather(
        *(
            api.client.put(
                f"{CASES}/{case_id}/scans/{kind}",
                content=JPEG if kind == "onsite_photo" else PDF,
                headers=intake,
            )
            for kind in PERSONAL_SCANS
        )
    )
    assert [r.status_code for r in answers] == [201, 201, 201], [r.text for r in answers]
    case = (await api.client.get(f"{CASES}/{case_id}", headers=intake)).json()
    assert sorted(s["kind"] for s in case["scans"]) == sorted(PERSONAL_SCANS)
    assert (await api.client.post(f"{CASES}/{case_id}/submission", headers=intake)).status_code == 200
