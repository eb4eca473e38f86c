"""AR-01 / VH-09: a mark's application keeps its insurance certificate's image with it (servicekit.documents:
typed by its bytes, size-checked, in vehicle's own database or an S3-compatible store by setting), served
only to the applicant and to the clerks of the office once submitted."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from servicekit.clock import FixedClock
from servicekit.documents import S3Blobs
from servicekit.runtime import Runtime
from servicekit.settings import DocumentSettings
from servicekit.testing import TokenFactory, new_resident_id, service_client
from servicekit.web import create_service_app
from vehicle_service.api import router
from vehicle_service.service import SPEC

from .conftest import Actors, events_about, register_bound

pytestmark = pytest.mark.integration

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ADDRESS = "河北省石家庄市长安区建设北大街1号"


@pytest.fixture
def actors(tokens: TokenFactory) -> Actors:
    """An office of this test alone: the queue it reads holds only this test's applications."""
    return Actors(tokens, office="13" + "".join(secrets.choice("0123456789") for _ in range(4)))


def clerk(actors: Actors, office: str | None = None) -> dict[str, str]:
    return actors.tokens.headers(actors.tokens.clerk(roles=("clerk.intake",), office=office or actors.office))


async def _draft(client: httpx.AsyncClient, actors: Actors, runtime: Runtime) -> tuple[dict[str, Any], str]:
    """A mark's application, opened as a draft by its vehicle's owner: (the application, its path)."""
    vehicle = await register_bound(client, actors, runtime)
    r = await client.post(
        "/api/v1/vehicle-applications",
        json={
            "vehicle_id": vehicle["id"],
            "item": "mark",
            "kind": "reissue",
            "delivery": "mail",
            "address": ADDRESS,
        },
        headers=actors.citizen(vehicle["owner_id_number"]),
    )
    assert r.status_code == 201, r.text
    case: dict[str, Any] = {**r.json(), "_owner": vehicle["owner_id_number"]}
    return case, f"/api/v1/vehicle-applications/{case['id']}"


async def _documents(runtime: Runtime, case_ref: str) -> list[Any]:
    async with runtime.engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    text(
                        "SELECT kind, owner, media_type, size, backend FROM documents "
                        "WHERE case_ref = :c ORDER BY created_at, id"
                    ),
                    {"c": case_ref},
                )
            ).all()
        )


async def test_ar01_vh09_a_marks_insurance_certificate_is_kept_with_the_application_for_the_entitled(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    case, path = await _draft(client, actors, runtime)
    owner = actors.citizen(case["_owner"])
    office = clerk(actors)
    assert (case["state"], case["intake_due"], case["insurance_photo"]) == ("draft", None, None)
    # a draft is the applicant's alone: not in the office's queue, not the office's to read
    queue = (await client.get("/api/v1/vehicle-applications", params={"limit": 200}, headers=office)).json()
    assert case["id"] not in [c["id"] for c in queue]
    assert (await client.get(path, headers=office)).status_code == 404
    assert await events_about(runtime, case["id"]) == []

    stored = await client.put(f"{path}/insurance-photo", content=JPEG, headers=owner)
    assert stored.status_code == 200, stored.text
    assert stored.json()["insurance_photo"] == f"{path}/insurance-photo"
    served = await client.get(f"{path}/insurance-photo", headers=owner)
    assert (served.status_code, served.content, served.headers["content-type"]) == (200, JPEG, "image/jpeg")
    assert served.headers["x-content-type-options"] == "nosniff"
    assert (await client.get(f"{path}/insurance-photo", headers=office)).status_code == 404  # still a draft

    submitted = await client.post(f"{path}/submission", headers=owner)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["state"] == "submitted"
    assert submitted.json()["intake_due"] is not None  # VH-09: 1 working day from the submission
    assert [p["state"] for _, p in await events_about(runtime, case["id"])] == ["submitted"]
    served = await client.get(f"{path}/insurance-photo", headers=office)
    assert (served.status_code, served.content) == (200, JPEG)
    for stranger in (actors.citizen(new_resident_id()), clerk(actors, office="139999")):
        refused = await client.get(f"{path}/insurance-photo", headers=stranger)
        assert (refused.status_code, refused.json()["code"]) == (404, "NOT_FOUND")
    assert (await client.get(f"{path}/insurance-photo")).status_code == 401
    # the office has it now: the applicant no longer changes it
    late = await client.put(f"{path}/insurance-photo", content=PDF, headers=owner)
    assert (late.status_code, late.json()["code"], late.json()["rule"]) == (409, "WRONG_STATE", "VH-09")
    # kept with its case (AR-01), owned by the applicant's account
    kept = await _documents(runtime, f"application:{case['id']}")
    assert [(d.kind, d.owner, d.media_type, d.size, d.backend) for d in kept] == [
        ("insurance_certificate", f"person-{case['_owner']}", "image/jpeg", len(JPEG), "db")
    ]
    # intake reads it and says it is valid (VH-09)
    r = await client.post(
        f"{path}/intake", json={"decision": "accept", "insurance_photo_valid": True}, headers=office
    )
    assert (r.status_code, r.json()["state"]) == (200, "accepted")


async def test_ar01_insurance_certificate_type_and_size_are_refused_and_nothing_is_kept(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    case, path = await _draft(client, actors, runtime)
    owner = actors.citizen(case["_owner"])
    html = await client.put(
        f"{path}/insurance-photo",
        content=b"<html><script>alert(1)</script></html>",
        headers={**owner, "Content-Type": "image/jpeg"},  # the client's word is not taken
    )
    assert html.status_code == 415
    assert html.headers["content-type"].startswith("application/problem+json")
    assert (html.json()["code"], html.json()["rule"]) == ("DOCUMENT_TYPE_NOT_ALLOWED", "AR-01")
    huge = await client.put(
        f"{path}/insurance-photo", content=JPEG + b"\x00" * (5 * 1024 * 1024), headers=owner
    )
    assert (huge.status_code, huge.json()["code"], huge.json()["rule"]) == (
        413,
        "DOCUMENT_TOO_LARGE",
        "AR-01",
    )
    assert (await client.get(path, headers=owner)).json()["insurance_photo"] is None
    assert await _documents(runtime, f"application:{case['id']}") == []
    # another person cannot store one on this draft, nor submit it
    stranger = actors.citizen(new_resident_id())
    assert (await client.put(f"{path}/insurance-photo", content=JPEG, headers=stranger)).status_code == 404
    assert (await client.post(f"{path}/submission", headers=stranger)).status_code == 404
    # the insurer's PDF is a scan the office accepts; stored again, it replaces the first, which is kept
    assert (await client.put(f"{path}/insurance-photo", content=PDF, headers=owner)).status_code == 200
    assert (await client.put(f"{path}/insurance-photo", content=JPEG, headers=owner)).status_code == 200
    assert (await client.get(f"{path}/insurance-photo", headers=owner)).content == JPEG
    kept = await _documents(runtime, f"application:{case['id']}")
    assert [d.media_type for d in kept] == ["application/pdf", "image/jpeg"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    """A private S3-compatible server (moto) on a loopback port of this test's own."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


async def test_ar01_the_s3_backend_keeps_the_insurance_certificate_in_the_bucket(
    vehicle_database: str, tokens: TokenFactory, clock: FixedClock, runtime: Runtime, s3_endpoint: str
) -> None:
    documents = DocumentSettings(
        backend="s3",
        s3_endpoint_url=s3_endpoint,
        s3_bucket="tms-vehicle-documents-test",
        s3_access_key=SecretStr("test"),
        s3_secret_key=SecretStr("test"),
    )
    settings = SPEC.settings().model_copy(update={"documents": documents})
    # the bucket is made by operations (with its retention policy), before the service stores anything
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=documents.s3_region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    s3.create_bucket(
        Bucket="tms-vehicle-documents-test",
        CreateBucketConfiguration={"LocationConstraint": documents.s3_region},  # cn-north-1
    )
    app = create_service_app(
        settings,
        title="vehicle",
        routers=[router],
        runtime_factory=lambda: Runtime.open(settings, SPEC.metadata, clock=clock),
    )
    app.state.verifier = tokens.verifier()
    actors = Actors(tokens, office="13" + "".join(secrets.choice("0123456789") for _ in range(4)))
    async with service_client(app) as s3_client:
        case, path = await _draft(s3_client, actors, runtime)
        owner = actors.citizen(case["_owner"])
        first = await s3_client.put(f"{path}/insurance-photo", content=PDF, headers=owner)
        assert first.status_code == 200, first.text
        assert isinstance(app.state.documents.blobs, S3Blobs)
        served = await s3_client.get(f"{path}/insurance-photo", headers=owner)
        assert (served.status_code, served.content) == (200, PDF)
    kept = await _documents(runtime, f"application:{case['id']}")
    assert [(d.kind, d.backend) for d in kept] == [("insurance_certificate", "s3")]
    async with runtime.engine.connect() as conn:
        key = (
            await conn.execute(
                text("SELECT s3_key FROM documents WHERE case_ref = :c"), {"c": f"application:{case['id']}"}
            )
        ).scalar_one()
    stored = s3.get_object(Bucket="tms-vehicle-documents-test", Key=key)
    assert stored["Body"].read() == PDF


async def test_vh02_ar01_two_drafts_for_one_mark_submitted_at_once_make_one_open_case(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    """Drafts do not hold the one-open-case index; their submissions lock the vehicle and check again, so
    two submitted at once leave one open case and one refusal."""
    vehicle = await register_bound(client, actors, runtime)
    owner = actors.citizen(vehicle["owner_id_number"])
    body = {"vehicle_id": vehicle["id"], "item": "mark", "kind": "reissue", "delivery": "pickup"}
    paths = []
    for _ in range(2):
        r = await client.post("/api/v1/vehicle-applications", json=body, headers=owner)
        assert (r.status_code, r.json()["state"]) == (201, "draft"), r.text
        path = f"/api/v1/vehicle-applications/{r.json()['id']}"
        assert (await client.put(f"{path}/insurance-photo", content=JPEG, headers=owner)).status_code == 200
        paths.append(path)
    answers = await asyncio.gather(*(client.post(f"{p}/submission", headers=owner) for p in paths))
    assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
    loser = next(r for r in answers if r.status_code == 409)
    assert (loser.json()["code"], loser.json()["rule"]) == ("APPLICATION_OPEN", "VH-02")
    states = sorted([(await client.get(p, headers=owner)).json()["state"] for p in paths])
    assert states == ["draft", "submitted"]
