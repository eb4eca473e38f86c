"""The scans a counter case keeps (AR-01): intake stores each one with its case through
`servicekit.documents` (typed by its bytes, JPEG, PNG or PDF; size-checked), and the case lists its current
scan of each kind. A kind stored again replaces the entry; the earlier document stays stored with the case
(documents are never deleted). Registrations (`counter.py`) and personal counter changes (`changes.py`) share
this; each names its case (`registration:<id>`, `counter_change:<id>`) and who may read it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Table, update

from identity_service.context import IdentityContext
from servicekit.documents import SCANS, DocumentContent, DocumentNotFound, Entitlement
from servicekit.uow import Actor, UnitOfWork


def stored_kinds(scans: Iterable[Mapping[str, Any]]) -> list[str]:
    """The kinds a case holds stored scans of; a reference from before AR-01 (`{kind, ref}`) is not one."""
    return [s["kind"] for s in scans if s.get("document_id")]


def current(scans: Iterable[Mapping[str, Any]], kind: str) -> Mapping[str, Any] | None:
    return next((s for s in scans if s.get("kind") == kind and s.get("document_id")), None)


async def store(
    uow: UnitOfWork,
    ctx: IdentityContext,
    table: Table,
    row: Any,
    *,
    case_ref: str,
    owner: str,
    kind: str,
    content: bytes,
    actor: Actor,
    created_by: str,
) -> dict[str, Any]:
    """Keep `content` as the case's scan of `kind`, in the caller's unit of work (the case row locked)."""
    now = uow.now
    document = await ctx.documents.store(
        uow.session,
        content,
        case_ref=case_ref,
        owner=owner,
        kind=kind,
        allowed=SCANS,
        created_by=created_by,
        now=now,
    )
    entry = {
        "kind": kind,
        "document_id": str(document.id),
        "media_type": document.media_type,
        "size": document.size,
        "stored_at": now.isoformat(),
        "stored_by": created_by,
    }
    scans = [s for s in row.scans if s.get("kind") != kind] + [entry]
    await uow.session.execute(update(table).where(table.c.id == row.id).values(scans=scans, updated_at=now))
    uow.audit(
        actor,
        "scan_stored",
        case_ref,
        after={"kind": kind, "document_id": entry["document_id"], "size": document.size},
    )
    return entry


async def open_current(
    uow: UnitOfWork,
    ctx: IdentityContext,
    scans: Iterable[Mapping[str, Any]],
    kind: str,
    *,
    case_ref: str,
    entitled: Entitlement,
) -> DocumentContent:
    """The case's current scan of `kind`, if `entitled` says the caller may read it; anything else (no such
    scan, another case's document, a caller not entitled) is one answer, 404."""
    entry = current(scans, kind)
    if entry is None:
        raise DocumentNotFound()
    return await ctx.documents.open(
        uow.session, uuid.UUID(entry["document_id"]), case_ref=case_ref, entitled=entitled
    )
