"""Stored documents (AR-01): scans and photos are kept, not only referenced.

One way for every service: `DocumentStore.store(...)` checks the type by the bytes' magic numbers (JPEG,
PNG, PDF; never the client's content type) and the size, and keeps the bytes with the case they belong
to (`case_ref`) and their owner, in the service's own database (table `documents`, bytea) or, by the
`documents.backend` setting, in an S3-compatible store. `DocumentStore.open(...)` serves a document only
for its case and only when the caller's entitlement check says yes: there is no read by id alone, and a
document the caller may not see is "not found" (404), like any other record that is not theirs. There is
no delete: the table's trigger refuses DELETE, UPDATE and TRUNCATE (see `servicekit.db`).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import MetaData, Row, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.ids import new_id
from servicekit.refusal import Refusal, refusal
from servicekit.settings import DocumentSettings

JPEG = "image/jpeg"
PNG = "image/png"
PDF = "application/pdf"
IMAGES = (JPEG, PNG)
SCANS = (JPEG, PNG, PDF)
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"%PDF-", PDF),
)

DocumentTypeNotAllowed = refusal("DOCUMENT_TYPE_NOT_ALLOWED", "AR-01", 415)
DocumentTooLarge = refusal("DOCUMENT_TOO_LARGE", "AR-01", 413)


class DocumentNotFound(Refusal):
    """Missing, of another case, or not for this caller: one answer, 404, so existence does not leak."""

    code = "NOT_FOUND"
    status = 404

    def __init__(self) -> None:
        super().__init__("document not found")


class DocumentCorrupted(Exception):
    """The bytes read back do not hash to what was stored: our fault (500), never served."""


def sniff(content: bytes) -> str | None:
    """The media type the bytes are, by their magic number; None when none of JPEG, PNG, PDF."""
    for magic, media_type in _MAGIC:
        if content.startswith(magic):
            return media_type
    return None


@dataclass(frozen=True)
class StoredDocument:
    id: uuid.UUID
    case_ref: str
    owner: str
    kind: str
    media_type: str
    size: int
    sha256: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class DocumentContent:
    document: StoredDocument
    content: bytes


Entitlement = Callable[[StoredDocument], bool | Awaitable[bool]]


class BlobStore(Protocol):
    """Where the bytes go: `put` returns the columns that find them again, `get` reads them back."""

    name: str

    async def put(
        self, document_id: uuid.UUID, kind: str, content: bytes, media_type: str
    ) -> dict[str, Any]: ...

    async def get(self, row: Row[Any]) -> bytes: ...


class DatabaseBlobs:
    """The default: the bytes in the `documents` row itself, in the same transaction as the case."""

    name = "db"

    async def put(self, document_id: uuid.UUID, kind: str, content: bytes, media_type: str) -> dict[str, Any]:
        return {"content": content}

    async def get(self, row: Row[Any]) -> bytes:
        return bytes(row.content)


class S3Blobs:
    """An S3-compatible store (MinIO, Ceph, AWS). boto3 is blocking: its calls run in a worker thread.
    The object is written before the row; a rolled-back transaction leaves an object no row points to
    (never the reverse), which a sweep of the bucket may remove."""

    name = "s3"

    def __init__(self, settings: DocumentSettings) -> None:
        import boto3
        from botocore.config import Config

        if not settings.s3_bucket:
            raise ValueError("documents.s3_bucket must be set for the s3 backend")
        self.bucket = settings.s3_bucket
        self._region = settings.s3_region
        self._client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key.get_secret_value() if settings.s3_access_key else None,
            aws_secret_access_key=(
                settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None
            ),
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )

    async def ensure_bucket(self) -> None:
        """For dev and tests; in prod the bucket (with its retention policy) is made by operations."""
        exists = await asyncio.to_thread(self._client.list_buckets)
        if not any(b["Name"] == self.bucket for b in exists.get("Buckets", [])):
            where: dict[str, Any] = {}
            if self._region != "us-east-1":  # S3's one region that refuses a location constraint
                where["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
            await asyncio.to_thread(self._client.create_bucket, Bucket=self.bucket, **where)

    async def put(self, document_id: uuid.UUID, kind: str, content: bytes, media_type: str) -> dict[str, Any]:
        key = f"{kind}/{document_id}"
        await asyncio.to_thread(
            self._client.put_object, Bucket=self.bucket, Key=key, Body=content, ContentType=media_type
        )
        return {"s3_bucket": self.bucket, "s3_key": key}

    async def get(self, row: Row[Any]) -> bytes:
        def read() -> bytes:
            answer = self._client.get_object(Bucket=row.s3_bucket, Key=row.s3_key)
            return bytes(answer["Body"].read())

        return await asyncio.to_thread(read)


class DocumentStore:
    def __init__(self, metadata: MetaData, blobs: BlobStore, max_bytes: int = 5 * 1024 * 1024) -> None:
        self._table: Table = metadata.tables["documents"]
        self.blobs = blobs
        self.max_bytes = max_bytes
        self._by_name: dict[str, BlobStore] = {blobs.name: blobs}
        if blobs.name != "db":
            self._by_name["db"] = DatabaseBlobs()  # rows stored before a switch stay readable

    @classmethod
    def from_settings(cls, metadata: MetaData, settings: DocumentSettings) -> DocumentStore:
        blobs: BlobStore = S3Blobs(settings) if settings.backend == "s3" else DatabaseBlobs()
        return cls(metadata, blobs, settings.max_bytes)

    async def store(
        self,
        session: AsyncSession,
        content: bytes,
        *,
        case_ref: str,
        owner: str,
        kind: str,
        allowed: Collection[str],
        created_by: str,
        now: datetime,
        document_id: uuid.UUID | None = None,
    ) -> StoredDocument:
        """Check and keep `content` with its case, in the caller's transaction (AR-01)."""
        if len(content) > self.max_bytes:
            raise DocumentTooLarge(
                f"the document is larger than {self.max_bytes} bytes", extra={"max_bytes": self.max_bytes}
            )
        media_type = sniff(content)
        if media_type is None or media_type not in allowed:
            names = ", ".join(sorted(t.split("/")[1].upper() for t in allowed))
            raise DocumentTypeNotAllowed(
                f"the document must be {names} (checked by its content, not its name or content type)",
                extra={"allowed": sorted(allowed)},
            )
        doc = StoredDocument(
            id=document_id or new_id(),
            case_ref=case_ref,
            owner=owner,
            kind=kind,
            media_type=media_type,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            created_by=created_by,
            created_at=now,
        )
        where = await self.blobs.put(doc.id, kind, content, media_type)
        await session.execute(
            insert(self._table).values(
                id=doc.id,
                case_ref=case_ref,
                owner=owner,
                kind=kind,
                media_type=media_type,
                size=doc.size,
                sha256=doc.sha256,
                backend=self.blobs.name,
                created_by=created_by,
                created_at=now,
                **where,
            )
        )
        return doc

    async def open(
        self, session: AsyncSession, document_id: uuid.UUID, *, case_ref: str, entitled: Entitlement
    ) -> DocumentContent:
        """The document of case `case_ref`, if `entitled(document)` says this caller may see it; else
        `DocumentNotFound`, whether it is missing, of another case or not the caller's."""
        row = (await session.execute(select(self._table).where(self._table.c.id == document_id))).first()
        if row is None or row.case_ref != case_ref:
            raise DocumentNotFound()
        doc = _document_of(row)
        allowed = entitled(doc)
        if inspect.isawaitable(allowed):
            allowed = await allowed
        if allowed is not True:
            raise DocumentNotFound()
        content = await self._by_name[row.backend].get(row)
        if hashlib.sha256(content).hexdigest() != doc.sha256:
            raise DocumentCorrupted(f"document {doc.id}: stored bytes do not match their hash")
        return DocumentContent(doc, content)

    async def of_case(self, session: AsyncSession, case_ref: str) -> list[StoredDocument]:
        """What is kept with a case (AR-01: retrievable by case), oldest first, without the bytes."""
        rows = (
            await session.execute(
                select(self._table)
                .where(self._table.c.case_ref == case_ref)
                .order_by(self._table.c.created_at)
            )
        ).all()
        return [_document_of(r) for r in rows]


def _document_of(row: Row[Any]) -> StoredDocument:
    return StoredDocument(
        id=row.id,
        case_ref=row.case_ref,
        owner=row.owner,
        kind=row.kind,
        media_type=row.media_type,
        size=row.size,
        sha256=row.sha256,
        created_by=row.created_by,
        created_at=row.created_at,
    )
