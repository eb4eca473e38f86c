"""VI-01: camera records from other police systems, one way in for the three routes they take (`POST
/api/v1/violations`, the `violation.camera_record.submit.v1` command, and bulk intake): `take` stores the
record once per record ID, with its evidence images (AR-01), and publishes it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping

from servicekit.documents import IMAGES, DocumentStore
from servicekit.ids import new_id
from servicekit.uow import Actor, UnitOfWork
from violation_service import domain
from violation_service import published as ev
from violation_service.tables import violations

EVIDENCE = "evidence"


def case_ref(violation_id: uuid.UUID | str) -> str:
    """The case evidence and the issued decision are filed under (AR-01)."""
    return f"violation:{violation_id}"


@dataclass(frozen=True)
class CameraRecord:
    record_id: str
    office_code: str
    plate_kind: str
    plate_number: str
    violated_at: datetime
    place: str
    violation_code: str
    description: str
    penalty: str
    fine_fen: int
    points: int
    evidence: tuple[bytes, ...]

    @classmethod
    def of(cls, message: ev.SubmitCameraRecord) -> CameraRecord:
        """From the command's model (the HTTP body is the same model)."""
        return cls(
            **message.model_dump(exclude={"evidence"}),
            evidence=tuple(base64.b64decode(image) for image in message.evidence),
        )

    def digest(self) -> str:
        """The record's facts and its images' hashes: a repeat has the same, a reused ID another."""
        facts: dict[str, Any] = {
            "record_id": self.record_id,
            "office_code": self.office_code,
            "plate_kind": self.plate_kind,
            "plate_number": self.plate_number,
            "violated_at": self.violated_at.astimezone(UTC).isoformat(),
            "place": self.place,
            "violation_code": self.violation_code,
            "description": self.description,
            "penalty": self.penalty,
            "fine_fen": self.fine_fen,
            "points": self.points,
            "evidence": [hashlib.sha256(image).hexdigest() for image in self.evidence],
        }
        return hashlib.sha256(json.dumps(facts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class Taken:
    violation: RowMapping
    created: bool


async def take(
    uow: UnitOfWork, documents: DocumentStore, actor: Actor, source: str, record: CameraRecord
) -> Taken:
    """VI-01: the record stored once per record ID (a concurrent twin waits on the unique key and then
    finds it), its images kept with it, `violation.violation.recorded.v1` published. The same ID again
    with the same facts is a repeat (nothing changes); with other facts it is refused (RECORD_ID_REUSED)."""
    domain.check_penalty(record.penalty, record.fine_fen, record.points)
    digest = record.digest()
    violation_id = new_id()
    inserted = (
        (
            await uow.session.execute(
                insert(violations)
                .values(
                    id=violation_id,
                    record_id=record.record_id,
                    source=source,
                    office_code=record.office_code,
                    plate_kind=record.plate_kind,
                    plate_number=record.plate_number,
                    violated_at=record.violated_at,
                    place=record.place,
                    violation_code=record.violation_code,
                    description=record.description,
                    penalty=record.penalty,
                    fine_fen=record.fine_fen,
                    points=record.points,
                    evidence_count=len(record.evidence),
                    state="open",
                    content_sha256=digest,
                    recorded_at=uow.now,
                    updated_at=uow.now,
                )
                .on_conflict_do_nothing(index_elements=[violations.c.record_id])
                .returning(violations)
            )
        )
        .mappings()
        .first()
    )
    if inserted is None:
        existing = (
            (await uow.session.execute(select(violations).where(violations.c.record_id == record.record_id)))
            .mappings()
            .one()
        )
        domain.check_same_record(existing["content_sha256"], digest)
        return Taken(existing, created=False)
    for image in record.evidence:
        await documents.store(
            uow.session,
            image,
            case_ref=case_ref(violation_id),
            owner=source,
            kind=EVIDENCE,
            allowed=IMAGES,
            created_by=actor.id,
            now=uow.now,
        )
    uow.emit(
        ev.ViolationRecorded(
            violation_id=str(violation_id),
            record_id=record.record_id,
            office_code=record.office_code,
            plate_kind=record.plate_kind,
            plate_number=record.plate_number,
            violated_at=record.violated_at,
            place=record.place,
            violation_code=record.violation_code,
            penalty=record.penalty,
            fine_fen=record.fine_fen,
            points=record.points,
            evidence_count=len(record.evidence),
            recorded_at=uow.now,
        )
    )
    uow.audit(
        actor,
        "violation.recorded",
        case_ref(violation_id),
        after={"record_id": record.record_id, "plate_number": record.plate_number, "source": source},
    )
    return Taken(inserted, created=True)
