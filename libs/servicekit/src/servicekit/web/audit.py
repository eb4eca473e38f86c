"""The auditor's view of a service's audit trail (AU-01, ADR 0090), mounted by `create_service_app` in every
service at `/api/v1/audit/<service>/...` (the gateway routes that prefix to the service):

- `GET .../entries`: search by actor, target, action and time range, newest first, cursor pagination;
- `GET .../export`: the same filters, the whole result streamed as JSON Lines or CSV.

Only the auditor role is admitted (and the auditor reaches nothing else: `servicekit.web.auth`). Identity
numbers and phones are masked in what it sees (`servicekit.masking`): no rule needs them in clear there,
and a search by a target that holds one still matches the stored value. Every search and export is itself
an audit entry, written before the answer.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import ColumnElement, RowMapping, Select, Table, func, select

from servicekit.audit import CHAINED_FIELDS
from servicekit.clock import SHANGHAI
from servicekit.masking import mask_fields, mask_text
from servicekit.pagination import InvalidCursor, clamp_limit, decode_cursor, encode_cursor
from servicekit.runtime import Runtime
from servicekit.vocabulary import AUDITOR
from servicekit.web.app import RuntimeDep
from servicekit.web.auth import Principal, require_roles
from servicekit.web.context import actor_from
from servicekit.web.openapi_problems import declared
from servicekit.web.problems import Unprocessable

Auditor = Annotated[Principal, Depends(require_roles(AUDITOR))]

# A city's service writes on the order of 10^5 entries a day: one export is at most a month and at most
# this many entries (about 100 MB of JSON Lines), so that it ends in minutes and fits a spreadsheet's
# neighbourhood; a larger question is asked as several exports.
EXPORT_MAX_ENTRIES = 200_000
EXPORT_MAX_SPAN = timedelta(days=31)
EXPORT_BATCH = 2_000
CSV_COLUMNS = ("id", *CHAINED_FIELDS)


class AuditEntryOut(BaseModel):
    id: int
    seq: int | None  # None until the sealer chains it (seconds after its commit)
    at: datetime
    actor: str
    role: str
    action: str
    target: str
    source_ip: str | None
    request_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditEntries(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None = None


class Filters(BaseModel):
    actor: str | None = None
    target: str | None = None
    action: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def where(self, audit: Table) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.actor is not None:
            clauses.append(audit.c.actor == self.actor)
        if self.target is not None:
            clauses.append(audit.c.target == self.target)
        if self.action is not None:
            clauses.append(audit.c.action == self.action)
        if self.since is not None:
            clauses.append(audit.c.at >= self.since)
        if self.until is not None:
            clauses.append(audit.c.at < self.until)
        return clauses

    def described(self) -> dict[str, Any]:
        """For the auditor's own audit entry: which filters, as given (masked like any entry)."""
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self if v is not None}


def _filters(
    actor: Annotated[str | None, Query(max_length=100)] = None,
    target: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    since: Annotated[AwareDatetime | None, Query(description="inclusive, with an offset")] = None,
    until: Annotated[AwareDatetime | None, Query(description="exclusive, with an offset")] = None,
) -> Filters:
    if since is not None and until is not None and until <= since:
        raise Unprocessable("AUDIT_RANGE_INVALID", "`until` must be later than `since`")
    return Filters(actor=actor, target=target, action=action, since=since, until=until)


FiltersDep = Annotated[Filters, Depends(_filters)]


def shown(row: RowMapping | Mapping[str, Any]) -> AuditEntryOut:
    """An entry as the auditor sees it: identity numbers and phones masked wherever they are."""
    before, after = row["before"], row["after"]
    return AuditEntryOut(
        id=row["id"],
        seq=row["seq"],
        at=row["at"].astimezone(SHANGHAI),
        actor=mask_text(row["actor"]),
        role=row["role"],
        action=row["action"],
        target=mask_text(row["target"]),
        source_ip=None if row["source_ip"] is None else str(row["source_ip"]),
        request_id=row["request_id"],
        before=mask_fields(before) if isinstance(before, dict) else None,
        after=mask_fields(after) if isinstance(after, dict) else None,
    )


async def record_reading(
    runtime: Runtime, request: Request, principal: Principal, action: str, service: str, after: dict[str, Any]
) -> None:
    """The auditor's own search or export, audited in a transaction of its own, before the answer."""
    async with runtime.uow() as uow:
        uow.audit(actor_from(request, principal, role=AUDITOR), action, f"audit_log:{service}", after=after)
        await uow.commit()


def _csv_line(entry: AuditEntryOut) -> str:
    values = entry.model_dump(mode="json")
    buffer = io.StringIO()
    csv.writer(buffer).writerow(
        [
            json.dumps(values[c], ensure_ascii=False) if isinstance(values[c], dict) else values[c]
            for c in CSV_COLUMNS
        ]
    )
    return buffer.getvalue()


async def _stream(
    runtime: Runtime, query: Select[Any], media: Literal["jsonl", "csv"]
) -> AsyncIterator[bytes]:
    if media == "csv":
        yield ("\ufeff" + ",".join(CSV_COLUMNS) + "\r\n").encode()  # the BOM: spreadsheets read UTF-8
    async with runtime.engine.connect() as conn:
        result = await conn.stream(query.execution_options(yield_per=EXPORT_BATCH))
        async for rows in result.mappings().partitions(EXPORT_BATCH):
            entries = [shown(row) for row in rows]
            if media == "csv":
                yield "".join(_csv_line(e) for e in entries).encode()
            else:
                yield "".join(e.model_dump_json() + "\n" for e in entries).encode()


def audit_router(service: str) -> APIRouter:
    router = APIRouter(prefix=f"/api/v1/audit/{service}", tags=["audit"])

    @router.get(
        "/entries",
        response_model=AuditEntries,
        summary=f"Search {service}'s audit trail (auditor; AU-01)",
        responses=declared({422: "AUDIT_RANGE_INVALID, INVALID_CURSOR"}),
    )
    async def search_entries(
        request: Request,
        principal: Auditor,
        runtime: RuntimeDep,
        filters: FiltersDep,
        limit: Annotated[int | None, Query(ge=1, le=100)] = None,
        cursor: Annotated[str | None, Query(max_length=1024)] = None,
    ) -> AuditEntries:
        """Newest first. Identity numbers and phones are masked; the search is itself audited."""
        audit = runtime.metadata.tables["audit_log"]
        page_size = clamp_limit(limit)
        query = select(audit).where(*filters.where(audit)).order_by(audit.c.id.desc()).limit(page_size + 1)
        if cursor is not None:
            try:
                before_id = int(decode_cursor(cursor)["id"])
            except (InvalidCursor, KeyError, ValueError):
                raise Unprocessable("INVALID_CURSOR", "the cursor is not one this list returned") from None
            query = query.where(audit.c.id < before_id)
        await record_reading(
            runtime, request, principal, "audit.search", service, {**filters.described(), "cursor": cursor}
        )
        async with runtime.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        items = [shown(row) for row in rows[:page_size]]
        next_cursor = encode_cursor({"id": items[-1].id}) if len(rows) > page_size else None
        return AuditEntries(items=items, next_cursor=next_cursor)

    @router.get(
        "/export",
        summary=f"Export {service}'s audit trail, streamed (auditor; AU-01)",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "JSON Lines (one entry a line) or CSV; `X-Export-Entries` is the count",
                "content": {"application/x-ndjson": {}, "text/csv": {}},
            },
            **declared({422: "AUDIT_RANGE_REQUIRED, AUDIT_RANGE_INVALID, EXPORT_TOO_LARGE"}),
        },
    )
    async def export_entries(
        request: Request,
        principal: Auditor,
        runtime: RuntimeDep,
        filters: FiltersDep,
        format: Literal["jsonl", "csv"] = "jsonl",
    ) -> StreamingResponse:
        """Oldest first, at most 31 days (`since` and `until` required) and 200,000 entries: the count is
        known before the first byte (`X-Export-Entries`), for the client's progress. Masked and audited as
        the search is."""
        if filters.since is None or filters.until is None:
            raise Unprocessable("AUDIT_RANGE_REQUIRED", "an export names its `since` and `until`")
        if filters.until - filters.since > EXPORT_MAX_SPAN:
            raise Unprocessable("AUDIT_RANGE_REQUIRED", "an export spans at most 31 days")
        audit = runtime.metadata.tables["audit_log"]
        clauses = filters.where(audit)
        async with runtime.engine.connect() as conn:
            capped = select(audit.c.id).where(*clauses).limit(EXPORT_MAX_ENTRIES + 1).subquery()
            count, last_id = (
                await conn.execute(select(func.count(), func.max(capped.c.id)).select_from(capped))
            ).one()
        if count > EXPORT_MAX_ENTRIES:
            raise Unprocessable(
                "EXPORT_TOO_LARGE",
                f"more than {EXPORT_MAX_ENTRIES} entries match: narrow the range or the filters",
            )
        await record_reading(
            runtime,
            request,
            principal,
            "audit.export",
            service,
            {**filters.described(), "format": format, "entries": count},
        )
        # What was counted, not what is written meanwhile (this export's own entry among them).
        query = select(audit).where(*clauses, audit.c.id <= (last_id or 0)).order_by(audit.c.id)
        media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
        stamp = filters.since.strftime("%Y%m%d")  # as given: converting a year-1 time could overflow
        return StreamingResponse(
            _stream(runtime, query, format),
            media_type=media,
            headers={
                "X-Export-Entries": str(count),
                "Content-Disposition": f'attachment; filename="audit-{service}-{stamp}.{format}"',
            },
        )

    return router
