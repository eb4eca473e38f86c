"""What the counter routes share about a case's scans (AR-01): the upload's OpenAPI body (the file itself,
typed by its bytes) and the stored scan's answer (api/views.py shows the scans as a case lists them)."""

from __future__ import annotations

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
