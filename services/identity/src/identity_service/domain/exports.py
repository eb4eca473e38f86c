"""A person's data export (PIPL art. 45, ADR 0093): who is asked, when it is complete, when it is gone.

identity asks every service that holds data about a person and collects their parts; the export is
complete when every part came, or at its deadline with the silent services named as missing (never
waiting forever); its download is offered for a limited time after that.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from servicekit.refusal import refusal

__all__ = [
    "EXPORT_DEADLINE",
    "EXPORT_KEPT",
    "EXPORT_SERVICES",
    "ExportExpired",
    "ExportNotReady",
    "ExportRunning",
    "ExportStatus",
    "export_status",
    "may_download",
    "may_request_export",
    "retention_over",
]

# Every service holding data about a person answers with its part (identity included, by message too).
EXPORT_SERVICES: tuple[str, ...] = ("identity", "vehicle", "license", "plate-pool", "violation", "notify")
# A service that has not answered within this is shown as missing: the person is not kept waiting.
EXPORT_DEADLINE = timedelta(minutes=10)
# How long the assembled document may be downloaded; then its parts are deleted.
EXPORT_KEPT = timedelta(days=7)

ExportRunning = refusal("DATA_EXPORT_RUNNING", None, 409)

ExportState = Literal["collecting", "ready", "expired"]


@dataclass(frozen=True)
class ExportStatus:
    state: ExportState
    received: list[str]  # in the order asked
    missing: list[str]  # asked and not answered: empty while collecting
    ready_at: datetime | None
    expires_at: datetime | None


def export_status(
    expected: Sequence[str],
    received: Collection[str],
    deadline_at: datetime,
    completed_at: datetime | None,
    now: datetime,
) -> ExportStatus:
    """collecting until every part came or the deadline passed; then ready (the missing named) until
    EXPORT_KEPT later; then expired."""
    got = [s for s in expected if s in received]
    if completed_at is None and len(got) < len(expected) and now < deadline_at:
        return ExportStatus("collecting", got, [], None, None)
    ready_at = completed_at if completed_at is not None else deadline_at
    expires_at = ready_at + EXPORT_KEPT
    missing = [s for s in expected if s not in received]
    return ExportStatus("expired" if now >= expires_at else "ready", got, missing, ready_at, expires_at)


def may_request_export(running: Sequence[ExportStatus]) -> None:
    """One export collecting per person at a time (the database's partial unique index holds it under
    concurrent requests; this names the refusal)."""
    if any(s.state == "collecting" for s in running):
        raise ExportRunning("an export of your data is already being collected")


ExportNotReady = refusal("DATA_EXPORT_NOT_READY", None, 409)
ExportExpired = refusal("DATA_EXPORT_EXPIRED", None, 410)


def may_download(status: ExportStatus) -> None:
    """The document is offered once collected (or at the deadline) and until EXPORT_KEPT later."""
    if status.state == "collecting":
        raise ExportNotReady("the export is still being collected")
    if status.state == "expired":
        raise ExportExpired("the export is no longer offered; ask for a new one")


def retention_over(cancelled_at: datetime | None, now: datetime, retention: timedelta) -> bool:
    """PIPL art. 47 (ADR 0093): a cancelled account is kept `retention` after its cancellation (ID-16),
    then de-identified; a live account never is."""
    return cancelled_at is not None and now >= cancelled_at + retention
