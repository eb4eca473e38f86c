"""VI-01 bulk intake: a system client streams camera records as NDJSON (one record per line, the body of
`POST /api/v1/violations`) to `PUT /api/v1/violations/intake-batches/{batch_id}`; each line goes through
`intake.take` like a single record. Lines are committed `CHUNK` at a time, and the batch's row counts them
(read, created, repeated, refused with the line and reason), so `GET .../{batch_id}` shows progress from
another connection while the upload runs. A line refused does not stop the others. Sending the same batch
again is safe: records already taken count as repeated (intake is idempotent by record ID).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping

from servicekit.documents import DocumentStore
from servicekit.refusal import Refusal
from servicekit.runtime import Runtime
from servicekit.uow import Actor
from servicekit.web.input import json_problems
from violation_service import intake
from violation_service.published import SubmitCameraRecord
from violation_service.tables import intake_batches

CHUNK = 50
MAX_ERRORS = 1000
MAX_LINE_BYTES = 40 * 1024 * 1024  # six images of 5 MB, base64


@dataclass
class Progress:
    lines: int = 0
    created: int = 0
    repeated: int = 0
    refused: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def refuse(self, line: int, code: str, detail: str) -> None:
        self.refused += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"line": line, "code": code, "detail": detail[:500]})


async def lines_of(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, bytes]]:
    """Numbered lines of a streamed body, blank ones skipped; a line longer than MAX_LINE_BYTES is
    given back cut (it fails to parse and is refused with its number)."""
    buffer = b""
    number = 0
    async for chunk in chunks:
        buffer += chunk
        while True:
            end = buffer.find(b"\n")
            if end < 0:
                if len(buffer) > MAX_LINE_BYTES:
                    number += 1
                    yield number, buffer[:MAX_LINE_BYTES]
                    buffer = b""
                break
            line, buffer = buffer[:end], buffer[end + 1 :]
            number += 1
            if line.strip():
                yield number, line
    if buffer.strip():
        yield number + 1, buffer


async def start(runtime: Runtime, batch_id: uuid.UUID, source: str, expected: int | None) -> None:
    """A new batch, or a run of it again: its counts start over."""
    async with runtime.uow() as uow:
        values: dict[str, Any] = {
            "source": source,
            "state": "running",
            "expected": expected,
            "lines": 0,
            "created": 0,
            "repeated": 0,
            "refused": 0,
            "errors": [],
            "updated_at": uow.now,
            "finished_at": None,
        }
        stmt = insert(intake_batches).values(id=batch_id, runs=1, started_at=uow.now, **values)
        await uow.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[intake_batches.c.id],
                set_={**values, "runs": intake_batches.c.runs + 1, "started_at": uow.now},
            )
        )
        await uow.commit()


async def load(runtime: Runtime, batch_id: uuid.UUID) -> RowMapping | None:
    async with runtime.engine.connect() as conn:
        return (
            (await conn.execute(select(intake_batches).where(intake_batches.c.id == batch_id)))
            .mappings()
            .first()
        )


async def _write_progress(runtime: Runtime, batch_id: uuid.UUID, progress: Progress, *, done: bool) -> None:
    async with runtime.uow() as uow:
        await uow.session.execute(
            update(intake_batches)
            .where(intake_batches.c.id == batch_id)
            .values(
                lines=progress.lines,
                created=progress.created,
                repeated=progress.repeated,
                refused=progress.refused,
                errors=progress.errors,
                state="done" if done else "running",
                updated_at=uow.now,
                finished_at=uow.now if done else None,
            )
        )
        await uow.commit()


async def _take_chunk(
    runtime: Runtime,
    documents: DocumentStore,
    actor: Actor,
    source: str,
    chunk: list[tuple[int, bytes]],
    progress: Progress,
) -> None:
    """One transaction for the chunk, a savepoint for each line, so a refused line is left out alone."""
    async with runtime.uow() as uow:
        for number, raw in chunk:
            progress.lines += 1
            try:
                document = json.loads(raw)
                # What the web layer refuses in a request body (ADR 0084), refused here line by line.
                bad = next(json_problems(document, "line"), None)
                if bad is not None:
                    raise ValueError(f"{bad.field} {bad.message}")
                message = SubmitCameraRecord.model_validate(document)
            except (ValueError, ValidationError, RecursionError) as exc:  # RecursionError: nested too deep
                progress.refuse(number, "INVALID_RECORD", _brief(exc))
                continue
            try:
                async with uow.session.begin_nested():
                    taken = await intake.take(uow, documents, actor, source, intake.CameraRecord.of(message))
            except Refusal as exc:
                progress.refuse(number, exc.code, exc.detail)
                continue
            if taken.created:
                progress.created += 1
            else:
                progress.repeated += 1
        await uow.commit()


def _brief(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
    if isinstance(exc, RecursionError):
        return "nested too deep"
    return "not a JSON object" if isinstance(exc, json.JSONDecodeError) else str(exc)


async def run(
    runtime: Runtime,
    documents: DocumentStore,
    actor: Actor,
    batch_id: uuid.UUID,
    source: str,
    lines: AsyncIterator[tuple[int, bytes]],
    expected: int | None = None,
) -> Progress:
    """VI-01: take every line of the stream, committing and reporting progress after each chunk."""
    await start(runtime, batch_id, source, expected)
    progress = Progress()
    chunk: list[tuple[int, bytes]] = []
    async for item in lines:
        chunk.append(item)
        if len(chunk) >= CHUNK:
            await _take_chunk(runtime, documents, actor, source, chunk, progress)
            await _write_progress(runtime, batch_id, progress, done=False)
            chunk = []
    if chunk:
        await _take_chunk(runtime, documents, actor, source, chunk, progress)
    await _write_progress(runtime, batch_id, progress, done=True)
    return progress
