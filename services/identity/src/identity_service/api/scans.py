"""What the counter routes share about a case's scans (AR-01): the upload's OpenAPI body (the file itself,
typed by its bytes) and the scans as a case shows them, each with the path that serves its bytes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from fastapi import Path

from servicekit.documents import SCANS

ScanKind = Annotated[str, Path(pattern=r"^[a-z_]{1,64}$", description="the scan's kind, e.g. onsite_photo")]

SCAN_UPLOAD: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The scan itself (JPEG, PNG or PDF, checked by its bytes, not its content type)",
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in SCANS},
    }
}
SCAN_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {"content": {t: {} for t in SCANS}},
    404: {"description": "no such scan, or not for this caller"},
}


def scan_views(base: str, scans: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The case's scans; a stored one with `content`, the path of its bytes. A reference entered before
    scans were stored (`{kind, ref}`) is shown as it was, with no content."""
    return [{**s, "content": f"{base}/scans/{s['kind']}" if s.get("document_id") else None} for s in scans]
