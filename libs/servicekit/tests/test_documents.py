"""AR-01: scans and photos are stored with their case, typed by their bytes, size-checked, served only
to the entitled, never deleted. Real PostgreSQL; the S3 backend against a local moto server."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy import MetaData, text
from sqlalchemy.exc import DBAPIError

from servicekit.clock import FixedClock
from servicekit.db import add_document_tables, new_metadata
from servicekit.documents import (
    IMAGES,
    JPEG,
    PDF,
    PNG,
    SCANS,
    DocumentNotFound,
    DocumentStore,
    DocumentTooLarge,
    DocumentTypeNotAllowed,
    S3Blobs,
    StoredDocument,
    sniff,
)
from servicekit.runtime import Runtime
from servicekit.settings import DocumentSettings

from .messaging_kit import create_tables, demo_settings

NOW = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF_BYTES = b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF\n"


def test_ar01_type_is_sniffed_from_the_bytes() -> None:
    assert (sniff(JPEG_BYTES), sniff(PNG_BYTES), sniff(PDF_BYTES)) == (JPEG, PNG, PDF)
    assert sniff(b"<html><script>alert(1)</script>") is None
    assert sniff(b"GIF89a...") is None
    assert sniff(b"") is None
    assert sniff(b"\xff\xd8") is None  # too short to be a JPEG


@dataclass
class Env:
    runtime: Runtime
    metadata: MetaData


@pytest.fixture
async def env(pg_database: str, amqp_url: str) -> AsyncIterator[Env]:
    metadata = new_metadata()
    add_document_tables(metadata)
    create_tables(pg_database, metadata)
    runtime = Runtime.open(demo_settings(pg_database, amqp_url), metadata, clock=FixedClock(NOW))
    yield Env(runtime, metadata)
    await runtime.aclose()


def owner_only(owner: str):  # type: ignore[no-untyped-def]
    return lambda doc: doc.owner == owner


async def _store(
    env: Env, store: DocumentStore, content: bytes, case_ref: str, **kw: object
) -> StoredDocument:
    async with env.runtime.uow() as uow:
        doc = await store.store(
            uow.session,
            content,
            case_ref=case_ref,
            owner=str(kw.pop("owner", "acct-1")),
            kind="licence_photo",
            allowed=kw.pop("allowed", IMAGES),  # type: ignore[arg-type]
            created_by="acct-1",
            now=uow.now,
        )
        await uow.commit()
    return doc


@pytest.mark.integration
async def test_ar01_database_backend_keeps_the_bytes_and_serves_them_only_to_the_entitled(env: Env) -> None:
    store = DocumentStore(env.metadata, DocumentStore.from_settings(env.metadata, DocumentSettings()).blobs)
    doc = await _store(env, store, JPEG_BYTES, "licence_photo:1")
    assert (doc.media_type, doc.size, doc.owner) == (JPEG, len(JPEG_BYTES), "acct-1")
    async with env.runtime.uow() as uow:
        found = await store.open(
            uow.session, doc.id, case_ref="licence_photo:1", entitled=owner_only("acct-1")
        )
        assert found.content == JPEG_BYTES
        assert found.document == doc
        # Another person, another case, an unknown id: all the same "not found".
        with pytest.raises(DocumentNotFound):
            await store.open(uow.session, doc.id, case_ref="licence_photo:1", entitled=owner_only("acct-2"))
        with pytest.raises(DocumentNotFound):
            await store.open(uow.session, doc.id, case_ref="licence_photo:2", entitled=lambda d: True)
        with pytest.raises(DocumentNotFound):
            await store.open(uow.session, uuid.uuid4(), case_ref="licence_photo:1", entitled=lambda d: True)

        async def clerk(d: StoredDocument) -> bool:  # an entitlement check may be async (a lookup)
            return True

        assert (await store.open(uow.session, doc.id, case_ref="licence_photo:1", entitled=clerk)).content
        stored = (await uow.session.execute(text("SELECT backend, content FROM documents"))).one()
        assert (stored.backend, bytes(stored.content)) == ("db", JPEG_BYTES)
        assert [d.id for d in await store.of_case(uow.session, "licence_photo:1")] == [doc.id]


@pytest.mark.integration
async def test_ar01_type_and_size_are_checked_not_the_clients_word(env: Env) -> None:
    store = DocumentStore.from_settings(env.metadata, DocumentSettings(max_bytes=len(JPEG_BYTES)))
    with pytest.raises(DocumentTypeNotAllowed) as refused:
        await _store(env, store, b"<svg onload=alert(1)>", "case:1")
    assert (refused.value.code, refused.value.rule, refused.value.status) == (
        "DOCUMENT_TYPE_NOT_ALLOWED",
        "AR-01",
        415,
    )
    with pytest.raises(DocumentTypeNotAllowed):
        await _store(env, store, PDF_BYTES, "case:1")  # a PDF where only images are allowed
    assert (await _store(env, store, PDF_BYTES, "case:1", allowed=SCANS)).media_type == PDF
    with pytest.raises(DocumentTooLarge) as too_large:
        await _store(env, store, JPEG_BYTES + b"\x00", "case:1")
    assert (too_large.value.status, too_large.value.extra["max_bytes"]) == (413, len(JPEG_BYTES))
    async with env.runtime.uow() as uow:
        assert len(await store.of_case(uow.session, "case:1")) == 1  # only the PDF was kept


@pytest.mark.integration
async def test_ar01_a_stored_document_is_never_deleted_or_changed(env: Env) -> None:
    store = DocumentStore.from_settings(env.metadata, DocumentSettings())
    doc = await _store(env, store, PNG_BYTES, "case:kept")
    for statement in (
        "DELETE FROM documents",
        "UPDATE documents SET content = 'x'::bytea",
        "UPDATE documents SET case_ref = 'case:other'",
        "TRUNCATE documents",
    ):
        async with env.runtime.uow() as uow:
            with pytest.raises(DBAPIError, match="kept with their case"):
                await uow.session.execute(text(statement))
    async with env.runtime.uow() as uow:
        assert (await store.open(uow.session, doc.id, case_ref="case:kept", entitled=lambda d: True)).content


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


@pytest.mark.integration
async def test_ar01_s3_backend_keeps_the_bytes_in_the_bucket_and_the_case_in_the_database(
    env: Env, s3_endpoint: str
) -> None:
    settings = DocumentSettings(
        backend="s3",
        s3_endpoint_url=s3_endpoint,
        s3_bucket="tms-documents-test",
        s3_access_key=SecretStr("test"),
        s3_secret_key=SecretStr("test"),
    )
    store = DocumentStore.from_settings(env.metadata, settings)
    assert isinstance(store.blobs, S3Blobs)
    await store.blobs.ensure_bucket()
    old = await _store(
        env, DocumentStore.from_settings(env.metadata, DocumentSettings()), PNG_BYTES, "case:s3"
    )
    doc = await _store(env, store, JPEG_BYTES, "case:s3")
    async with env.runtime.uow() as uow:
        row = (
            await uow.session.execute(
                text("SELECT backend, content, s3_key FROM documents WHERE id = :id"), {"id": doc.id}
            )
        ).one()
        assert (row.backend, row.content, row.s3_key) == ("s3", None, f"licence_photo/{doc.id}")
        found = await store.open(uow.session, doc.id, case_ref="case:s3", entitled=owner_only("acct-1"))
        assert found.content == JPEG_BYTES
        with pytest.raises(DocumentNotFound):
            await store.open(uow.session, doc.id, case_ref="case:s3", entitled=owner_only("acct-2"))
        # A document stored in the database before the switch to S3 stays readable.
        assert (
            await store.open(uow.session, old.id, case_ref="case:s3", entitled=lambda d: True)
        ).content == PNG_BYTES
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="cn-north-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    stored = client.get_object(Bucket="tms-documents-test", Key=f"licence_photo/{doc.id}")
    assert (stored["Body"].read(), stored["ContentType"]) == (JPEG_BYTES, JPEG)
