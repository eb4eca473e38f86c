"""The factories of the matrix's records, made through the gateway as their owners make them: citizen A's
(`owner`) car, binding, applications, licence, violation and decision, bookings and pre-selections; office
130100's counter cases; a hospital's certificate, a dealer's qualification, a message in A's inbox."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete

from plate_pool_service.domain import SEED_SETTINGS
from plate_pool_service.segments import save_office_settings
from plate_pool_service.service import SPEC as PLATE_POOL
from plate_pool_service.tables import allocations, segments, selections
from servicekit.clock import SHANGHAI
from servicekit.runtime import Runtime
from servicekit.testing import new_phone, new_resident_id
from tests.e2e.stack import PASSWORD
from vehicle_service.domain.dealers import DEALER_DOCUMENTS

from .authz_actors import OFFICE, Actor, clerk, make_accounts, sign_in
from .authz_records import (
    ADDRESS,
    CASE_STEP_BODIES,
    CITIZEN_RECORD_READERS,
    JPEG,
    LICENCE_BODIES,
    NOT_A_CITIZENS,
    NOT_THE_OFFICES,
    PNG_B64,
    REASON_BODIES,
    VEHICLE_BODIES,
    Record,
    Records,
    eventually,
    new_plate,
    new_vin,
)


def vehicle(rec: Records) -> None:
    """A's car registered at office 130100's counter (VH-15), bound online by A (ID-12), and A's plate
    reissue by mail (VH-02)."""
    owner = rec.actors["owner"]
    rec.plate = new_plate()
    made = rec.ok(
        rec.gw.post(
            "/api/v1/vehicles",
            headers=rec.h("clerk.intake"),
            json={
                "plate_number": rec.plate,
                "vin": new_vin(),
                "owner": {"id_kind": "resident_id", "id_number": owner.id_number, "name": "沈十七"},
                "phone": owner.phone,
                # its inspection due in 40 days: booking one is open (VH-13)
                "inspection_valid_until": (date.today() + timedelta(days=40)).isoformat(),
            },
        ),
        201,
    )
    rec.vehicle_id = made["id"]
    key = "/api/v1/vehicles/{vehicle_id}"
    rec.add(Record(key, made["id"], "owner", NOT_A_CITIZENS, CITIZEN_RECORD_READERS, VEHICLE_BODIES))
    binding = bind(rec, "vehicle", made["id"])
    unit = {"PUT /unit": {"credit_code": rec.actors["unit"].id_number}}
    key = "/api/v1/users/me/bindings/{binding_id}"
    no_unit = "a vehicle's binding has no unit (ID-07: a licence is bound to a unit)"
    absent = {"PUT /unit": no_unit, "DELETE /unit": no_unit}
    rec.add(Record(key, binding["id"], "owner", ("stranger", "unit"), bodies=unit, unreached=absent))

    def applied() -> Any:
        r = rec.gw.post(
            "/api/v1/vehicle-applications",
            headers=rec.h("owner") | {"Idempotency-Key": secrets.token_hex(8)},
            json={
                "vehicle_id": made["id"],
                "item": "plate",
                "kind": "reissue",
                "delivery": "mail",
                "address": ADDRESS,
            },
        )
        return r.json() if r.status_code == 201 else None

    case = eventually(applied, "vehicle learns of A's binding and takes A's application")
    key = "/api/v1/vehicle-applications/{application_id}"
    # The applicant and the office's clerks; a police system has no business with the case (vehicle's
    # `applications._may_see`), though the route admits it for the vehicles.
    reachers = ("owner", "clerk.intake", "clerk.review", "clerk.archive", "clerk.admin")
    photo = "a plate's case has no insurance photo (VH-09: marks only)"
    absent = {"GET /insurance-photo": photo, "PUT /insurance-photo": photo}
    rec.add(Record(key, case["id"], "owner", NOT_A_CITIZENS, reachers, CASE_STEP_BODIES, absent))


def bind(rec: Records, kind: str, ref: str) -> Any:
    """A binds the record online once identity has it (a try every 1.5 s stays under identity's 60 writes a
    minute per account)."""

    def bound() -> Any:
        body = {"record_kind": kind, "ref": ref}
        r = rec.gw.post("/api/v1/users/me/bindings", headers=rec.h("owner"), json=body)
        if r.status_code != 201:
            time.sleep(1.2)
        return r.json() if r.status_code == 201 else None

    return eventually(bound, f"identity records A's {kind} and A binds it")


def licence(rec: Records) -> None:
    """A's licence issued by a police system (DL-01) at office 130100, A's licence photo (DL-05) and A's
    reissue application (DL-02)."""
    owner = rec.actors["owner"]
    issued = {
        "number": owner.id_number,
        "name": "沈十七",
        "classes": ["C1"],
        "first_issue": "2024-03-01",
        "valid_from": "2024-03-01",
        "valid_until": "2030-03-01",
        "office_code": OFFICE,
        "phone": owner.phone,
    }
    made = rec.ok(rec.gw.post("/api/v1/licences", headers=rec.h("system"), json=issued), 201)
    key = "/api/v1/licences/{record_id}"
    bodies = LICENCE_BODIES | {"PUT": issued}
    rec.add(Record(key, made["id"], "owner", NOT_A_CITIZENS, CITIZEN_RECORD_READERS, bodies))
    bind(rec, "licence", made["id"])
    # DL-05: an application needs a current photo, approved by the review post (ID-15).
    photo = rec.ok(rec.gw.post("/api/v1/users/me/licence-photos", headers=rec.h("owner"), content=JPEG), 201)
    checks = {"clear": True, "valid_format": True, "matches_registration_photo": True}
    approve = f"/api/v1/users/licence-photos/{photo['id']}/approve"
    rec.ok(rec.gw.post(approve, headers=rec.h("clerk.review"), json=checks))
    licence_photo(rec)

    def applied() -> Any:
        r = rec.gw.post(
            "/api/v1/licence-applications",
            headers=rec.h("owner") | {"Idempotency-Key": secrets.token_hex(8)},
            json={"kind": "reissue", "delivery": "mail", "address": ADDRESS},
        )
        return r.json() if r.status_code == 201 else None

    case = eventually(applied, "license learns of A's approved photo and takes A's application")
    key = "/api/v1/licence-applications/{application_id}"
    reachers = ("owner", "clerk.intake", "clerk.review", "clerk.archive", "clerk.admin")
    rec.add(Record(key, case["id"], "owner", NOT_A_CITIZENS, reachers, CASE_STEP_BODIES))


def violation(rec: Records) -> None:
    """A camera record of A's car from a police system (VI-01), seen by A once violation has the binding
    (VI-05); A handles it with the SMS code and holds the decision (VI-03)."""
    plate = rec.plate
    record = {
        "record_id": "AZ" + secrets.token_hex(10).upper(),
        "office_code": "130104",
        "plate_kind": "02",
        "plate_number": plate,
        "violated_at": "2026-11-20T18:42:00+08:00",
        "place": "石家庄市中华大街与裕华路交叉口",
        "violation_code": "1625",
        "description": "驾驶机动车违反道路交通信号灯通行的",
        "penalty": "fine",
        "fine_fen": 20_000,
        "points": 6,
        "evidence": [PNG_B64],
    }
    made = rec.ok(rec.gw.post("/api/v1/violations", headers=rec.h("system"), json=record), 201)

    def handleable() -> Any:
        r = rec.gw.get(f"/api/v1/violations/{made['id']}", headers=rec.h("owner"))
        return r.json() if r.status_code == 200 and r.json()["handling"]["allowed"] else None

    detail = eventually(handleable, "violation knows A's bindings")
    key = "/api/v1/violations/{violation_id}"
    handling = {"POST /handling": {"code": "000000"}}
    rec.add(Record(key, made["id"], "owner", NOT_A_CITIZENS, CITIZEN_RECORD_READERS, handling))
    document = detail["evidence"][0]["url"].rstrip("/").rsplit("/", 1)[-1]
    rec.add(Record(key + "/evidence/{document_id}", document, "owner", NOT_A_CITIZENS))

    owner = rec.actors["owner"]
    rec.ok(rec.gw.post(f"/api/v1/violations/{made['id']}/handling-code", headers=rec.h("owner")), 202)

    def code() -> str | None:
        r = rec.gw.get("/api/v1/_test/sms", params={"phone": owner.phone})
        for message in r.json()["items"]:
            found = re.search(r"验证码为(\d{6})", message["body"])
            if message["template"] == "verification_code" and found:
                return found.group(1)
        return None

    decision = rec.ok(
        rec.gw.post(
            f"/api/v1/violations/{made['id']}/handling",
            headers=rec.h("owner") | {"Idempotency-Key": secrets.token_hex(8)},
            json={"code": eventually(code, "the handling code reaches A's phone")},
        ),
        201,
    )
    for key in ("/api/v1/violations/decisions/{decision_id}", "/api/v1/payments/decisions/{decision_id}"):
        rec.add(Record(key, decision["id"], "owner", NOT_A_CITIZENS, reachers=CITIZEN_RECORD_READERS))


def counter_cases(rec: Records) -> None:
    """Office 130100's counter registration at intake (ID-09) with its on-site photo, and a counter change of
    A's details (ID-13): the office's business, another office's clerks are told neither is there."""
    number = new_resident_id()
    rec.ok(rec.gw.post("/api/v1/_test/population", json={"id_number": number, "name": "沙悟净"}), 201)
    case = rec.ok(
        rec.gw.post(
            "/api/v1/counter/registrations",
            headers=rec.h("clerk.intake"),
            json={"id_number": number, "name": "沙悟净", "phone": new_phone(), "password": PASSWORD},
        ),
        201,
    )
    key = "/api/v1/counter/registrations/{case_id}"
    path = f"/api/v1/counter/registrations/{case['id']}/scans/onsite_photo"
    rec.ok(rec.gw.put(path, headers=rec.h("clerk.intake"), content=JPEG), 201)
    # At intake the case is the intake post's (and an admin's): the other posts of the office may not
    # read it either, so only they and the person are asserted as reaching it.
    at_intake = ("clerk.intake", "clerk.admin")
    strangers = ("stranger", "unit", *NOT_THE_OFFICES)
    bodies = REASON_BODIES | {
        "POST /archive": {"filed": ["registration_form_original", "identity_document_copy"]}
    }
    rec.add(Record(key, case["id"], "clerk.intake", strangers, reachers=at_intake, bodies=bodies))
    rec.add(Record(key + "/scans/{kind}", "onsite_photo", "clerk.intake", strangers, reachers=at_intake))

    owner = rec.actors["owner"]
    change = rec.ok(
        rec.gw.post(
            "/api/v1/users/counter-changes",
            headers=rec.h("clerk.intake"),
            json={"account_id": owner.subject, "kind": "details", "details": {"email": "az@example.cn"}},
        ),
        201,
    )
    key = "/api/v1/users/counter-changes/{change_id}"
    path = f"/api/v1/users/counter-changes/{change['id']}/scans/onsite_photo"
    rec.ok(rec.gw.put(path, headers=rec.h("clerk.intake"), content=JPEG), 201)
    # Before its submission the change is the intake post's (and an admin's): the review post is told it
    # is not there until it reaches review, as for the registration above.
    office = ("clerk.intake", "clerk.admin")
    rec.add(Record(key, change["id"], "clerk.intake", NOT_THE_OFFICES, reachers=office, bodies=REASON_BODIES))
    rec.add(Record(key + "/scans/{kind}", "onsite_photo", "clerk.intake", NOT_THE_OFFICES, reachers=office))


def medical(rec: Records) -> None:
    """A hospital's certificate of A's examination (DL-09): the hospital, A and the clerks see it; another
    hospital and another citizen do not."""
    owner = rec.actors["owner"]
    made = rec.ok(
        rec.gw.post(
            "/api/v1/medical-certificates",
            headers=rec.h("hospital") | {"Idempotency-Key": secrets.token_hex(8)},
            json={
                "id_number": owner.id_number,
                "name": "沈十七",
                "purpose": "renewal",
                "conclusion": "fit",
                "examined_on": "2026-11-30",
            },
        ),
        201,
    )
    rec.add(
        Record(
            "/api/v1/medical-certificates/{certificate_id}",
            made["certificate"]["id"],
            "owner",
            ("stranger", "other:hospital"),
            reachers=("owner", "hospital", "clerk.intake", "system"),
        )
    )


def licence_photo(rec: Records) -> None:
    """A's new licence photo (ID-12, DL-05), submitted online by a counter-registered user and pending: A and
    the review clerks of A's office see it."""
    made = rec.ok(rec.gw.post("/api/v1/users/me/licence-photos", headers=rec.h("owner"), content=JPEG), 201)
    rec.add(
        Record(
            "/api/v1/users/licence-photos/{photo_id}",
            made["id"],
            "owner",
            ("stranger", "unit", *NOT_THE_OFFICES),
            reachers=("owner", "clerk.review"),
            bodies=REASON_BODIES
            | {"POST /approve": {"clear": True, "valid_format": True, "matches_registration_photo": True}},
            unreached={
                "POST /reject": "approving and rejecting decide the one pending photo: the approve cell "
                "decides it, and a decided photo is no longer in the review post's hands (ID-15)"
            },
        )
    )


def office_settings(rec: Records) -> None:
    """Office 130100's selection settings (PP-06a): public to read, changed by its own admin only."""
    window = {"opens_at": "08:00", "closes_at": "23:00", "hold_seconds": 180, "sms_minutes": 30}
    rec.add(
        Record(
            "/api/v1/plate-segments/offices/{office_code}",
            OFFICE,
            "clerk.admin",
            ("other:clerk.admin",),
            bodies={"PUT /settings": window},
        )
    )


def dealer(rec: Records) -> None:
    """The dealer's qualification for temporary plates (VH-12), granted by the review post: the dealer, the
    review and intake posts and the police systems see it; another dealer does not."""
    unit = rec.actors["dealer"]
    made = rec.ok(
        rec.gw.post(
            "/api/v1/temp-plates/dealers",
            headers=rec.h("clerk.review"),
            json={
                "account_subject": unit.subject,
                "uscc": unit.id_number,
                "name": "石家庄某汽车销售有限公司",
                "legal_rep_name": "郑十一",
                "legal_rep_phone": new_phone(),
                "authorised": ["大众"],
                "documents": {name: f"scan-{name}" for name in DEALER_DOCUMENTS},
                "quota": 50,
            },
        ),
        201,
    )
    rec.add(
        Record(
            "/api/v1/temp-plates/dealers/{dealer_id}",
            made["id"],
            "dealer",
            ("other:dealer",),
            reachers=("dealer", "clerk.review", "clerk.intake", "system"),
            bodies={
                "POST /collections": {"quantity": 1},
                "PUT /quota": {"quota": 60, "basis": "上月销售新车 120 辆"},
                "POST /renewal": {"documents": {name: f"scan-{name}" for name in DEALER_DOCUMENTS}},
                "POST /cancellation": {"reason": "other", "note": "授权矩阵"},
            },
        )
    )


def exam_booking(rec: Records) -> None:
    """C's booking of subject 1 (DL-11): C registered as a learner by the licence-application system, a site
    and a slot of office 130100 opened by its admin. C, the office's clerks and the police systems see it;
    B and another office's clerks do not."""
    learner, now = rec.actors["learner"], datetime.now(SHANGHAI)
    registration = {
        "application_number": secrets.token_hex(8).upper(),
        "id_number": learner.id_number,
        "name": "沈十七",
        "phone": learner.phone,
        "classes": ["C1"],
        "office_code": OFFICE,
        "accepted_at": (now - timedelta(days=1)).isoformat(),
    }
    rec.ok(rec.gw.post("/api/v1/exams/learners", headers=rec.h("system"), json=registration), 201)
    site = {"name": "授权矩阵考场", "address": "石家庄市长安区", "office_code": OFFICE, "subjects": [1]}
    made = rec.ok(rec.gw.post("/api/v1/exams/sites", headers=rec.h("clerk.admin"), json=site), 201)
    starts = now + timedelta(days=3)
    slot = {
        "subject": 1,
        "classes": ["C1"],
        "starts_at": starts.isoformat(),
        "capacity": 5,
        "booking_opens_at": (now - timedelta(hours=1)).isoformat(),
        "cutoff_at": (starts - timedelta(days=1)).isoformat(),
    }
    path = f"/api/v1/exams/sites/{made['id']}/slots"
    opened = rec.ok(rec.gw.post(path, headers=rec.h("clerk.admin"), json=slot), 201)
    booked = rec.ok(
        rec.gw.post(
            "/api/v1/exams/bookings",
            headers=rec.h("learner") | {"Idempotency-Key": secrets.token_hex(8)},
            json={"slot_id": opened["id"]},
        ),
        201,
    )
    rec.add(
        Record(
            "/api/v1/exams/bookings/{booking_id}",
            booked["id"],
            "learner",
            ("stranger", *NOT_THE_OFFICES),
            reachers=("learner", "clerk.intake", "clerk.review", "clerk.admin", "system"),
            bodies={"POST /result": {"outcome": "absent"}},
        )
    )


def inspection_booking(rec: Records) -> None:
    """A's booking of an inspection of the car (VH-13, VH-14) at a station of office 130100's city with a
    published plan from tomorrow: A cancels it; B and a unit are told it is not there."""
    admin = rec.h("clerk.admin")
    station = {
        "name": f"授权矩阵检测站{secrets.token_hex(2).upper()}",
        "address": "石家庄市长安区建设北大街100号",
        "city_code": OFFICE,
        "vehicle_kinds": ["small_car"],
        "brake_kinds": ["hydraulic"],
    }
    made = rec.ok(rec.gw.post("/api/v1/inspection-stations", headers=admin, json=station), 201)
    tomorrow = date.today() + timedelta(days=1)
    plan = {
        "first_day": tomorrow.isoformat(),
        "last_day": (tomorrow + timedelta(days=6)).isoformat(),
        "times": [{"start": "09:00", "end": "10:30", "capacity": 3}],
    }
    path = f"/api/v1/inspection-stations/{made['id']}/plans"
    planned = rec.ok(rec.gw.post(path, headers=admin, json=plan), 201)
    rec.ok(rec.gw.post(f"/api/v1/inspection-plans/{planned['id']}/publication", headers=admin))
    slots = rec.ok(
        rec.gw.get("/api/v1/inspection-slots", params={"station_id": made["id"]}, headers=rec.h("owner"))
    )
    booked = rec.ok(
        rec.gw.post(
            "/api/v1/inspection-bookings",
            headers=rec.h("owner") | {"Idempotency-Key": secrets.token_hex(8)},
            json={"vehicle_id": rec.vehicle_id, "slot_id": slots[0]["id"]},
        ),
        201,
    )
    rec.add(Record("/api/v1/inspection-bookings/{booking_id}", booked["id"], "owner", ("stranger", "unit")))


def message(rec: Records) -> None:
    """A message in A's inbox (NT-01): A's application for a new licence card refused at intake (VH-09)."""
    case = rec.ok(
        rec.gw.post(
            "/api/v1/vehicle-applications",
            headers=rec.h("owner") | {"Idempotency-Key": secrets.token_hex(8)},
            json={"vehicle_id": rec.vehicle_id, "item": "licence", "kind": "reissue", "delivery": "pickup"},
        ),
        201,
    )
    rec.ok(
        rec.gw.post(
            f"/api/v1/vehicle-applications/{case['id']}/intake",
            headers=rec.h("clerk.intake"),
            json={"decision": "reject", "reason": "材料不全"},
        )
    )

    def inbox() -> Any:
        items = rec.ok(rec.gw.get("/api/v1/messages", headers=rec.h("owner")))["items"]
        return items[0] if items else None

    found = eventually(inbox, "notify tells A of the refusal")
    everyone_else = ("stranger", "unit", "clerk.intake", "clerk.admin", "system", "other:clerk.intake")
    rec.add(Record("/api/v1/messages/{message_id}", found["id"], "owner", everyone_else))


def accounts(rec: Records) -> None:
    """The staff account and the system client no one may cancel (ID-16, ADR 0080), each caller with a
    reason its post takes (the intake post a counter request, the others a forced cancellation); the staff
    account's second factor, which its office's admin resets (ADR 0091)."""
    bodies = {
        "POST /cancellation as clerk.intake": {"reason": "counter_request"},
        "POST /cancellation as clerk.admin": {"reason": "false_registration_data"},
        "POST /cancellation as system": {"reason": "deceased"},
    }
    reset = frozenset({"DELETE /second-factor"})
    strangers = ("clerk.intake", "clerk.admin", "system")
    staff = rec.actors["victim:staff"].subject
    rec.add(Record("/api/v1/users/{account_id}", staff, "", strangers, bodies=bodies, skip=reset))
    rec.add(
        Record(
            "/api/v1/users/{account_id}", rec.actors["victim:system"].subject, "", strangers, bodies=bodies
        )
    )
    # ADR 0091: a staff member's second factor is reset by an admin of their office (who reaches it), never
    # by another office's; a system client has none (told it is not there, above).
    rec.add(
        Record("/api/v1/users/{account_id}", staff, "", ("other:clerk.admin",), ("clerk.admin",), only=reset)
    )


def data_export(rec: Records) -> None:
    """A's copy of their data (PIPL art. 45, ADR 0093): another citizen or a unit is told it is not there."""
    made = rec.ok(rec.gw.post("/api/v1/users/me/data-exports", headers=rec.h("owner")), 202)
    ready_only = "offered once every service answered (tests/e2e/test_person_rights.py downloads it)"
    rec.add(
        Record(
            "/api/v1/users/me/data-exports/{export_id}",
            made["id"],
            "owner",
            ("stranger", "unit"),
            unreached={"GET /document": ready_only},
        )
    )


# PP-10's dates on the platform clock (tests/browser's): a Monday to publish, three working days on to open.
PUBLISH_AT = datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
OPENS_AT = datetime(2026, 11, 5, 8, 0, tzinfo=SHANGHAI)
SELECT_AT = datetime(2026, 11, 5, 10, 0, tzinfo=SHANGHAI)
SUPERIOR = "130000"


def plate_selection(rec: Records) -> None:
    """A's pre-selection (PP-01) at an office of its own with a published segment (PP-10), and an abandoned
    one appealed (PP-11): A and the clerks of that office see them; B, a unit and office 130100's and
    130200's clerks are told they are not there. The platform clock is moved for it and reset after."""
    office = f"13{secrets.randbelow(90) + 10:02d}{secrets.randbelow(90) + 10:02d}"
    rec.plate_office = office
    extra = {
        "plate:clerk.admin": clerk("plate:clerk.admin", "clerk.admin", office),
        "plate:clerk.review": clerk("plate:clerk.review", "clerk.review", office),
        "plate:superior": clerk("plate:superior", "clerk.admin", SUPERIOR),
    }
    make_accounts(extra)
    sign_in(rec.gw, extra)
    rec.actors.update(extra)
    asyncio.run(_office_row(office))
    try:
        _publish_and_select(rec, office)
    finally:
        rec.gw.delete("/api/v1/_test/clock")


async def _office_row(office: str) -> None:
    """The office and the superior office that approves its segments (no API names a superior)."""
    runtime = Runtime.open(PLATE_POOL.settings(), PLATE_POOL.metadata)
    try:
        await save_office_settings(
            runtime, office, SEED_SETTINGS, superior=SUPERIOR, name=f"授权矩阵{office}"
        )
    finally:
        await runtime.aclose()


async def forget_office(office: str) -> None:
    """Leave nothing of the office for the sweeps of later runs to walk through."""
    runtime = Runtime.open(PLATE_POOL.settings(), PLATE_POOL.metadata)
    try:
        async with runtime.engine.begin() as conn:
            for table in (allocations, selections, segments):
                await conn.execute(delete(table).where(table.c.office_code == office))
    finally:
        await runtime.aclose()


def _publish_and_select(rec: Records, office: str) -> None:
    gw, admin = rec.gw, rec.h("plate:clerk.admin")
    rec.ok(gw.post("/api/v1/_test/clock", json={"now": PUBLISH_AT.isoformat()}))
    window = {"opens_at": "08:00", "closes_at": "23:00", "hold_seconds": 180, "sms_minutes": 30}
    rec.ok(gw.put(f"/api/v1/plate-segments/offices/{office}/settings", json=window, headers=admin))
    plan = {
        "office_code": office,
        "prefix": "冀A",
        "pattern": "Q&&##",  # 115,600 numbers: over the pool floor (PP-13), half the browser's
        "custom_patterns": ["Q&&##"],
        "opens_at": OPENS_AT.isoformat(),
    }
    planned = rec.ok(gw.post("/api/v1/plate-segments", json=plan, headers=admin), 201)
    segment = f"/api/v1/plate-segments/{planned['id']}"
    rec.ok(gw.post(f"{segment}/approval", headers=rec.h("plate:superior")))
    rec.ok(gw.post(f"{segment}/publication", headers=admin))
    # PP-10: the superior office's admin approves, the office's own publishes; any other office's admin is
    # told the segment is not there.
    other_post = "the other post's step: the superior approves, the office publishes (PP-10)"
    rec.add(
        Record(
            "/api/v1/plate-segments/{segment_id}",
            planned["id"],
            "plate:clerk.admin",
            ("clerk.admin", "other:clerk.admin"),
            reachers=("plate:clerk.admin", "plate:superior"),
            unreached={
                "POST /approval as plate:clerk.admin": other_post,
                "POST /publication as plate:superior": other_post,
            },
            public=True,
        )
    )
    rec.ok(gw.post("/api/v1/_test/clock", json={"now": SELECT_AT.isoformat()}))
    owner = rec.actors["owner"]

    def start() -> Any:
        body = {
            "vin": new_vin(),
            "vehicle_kind": "small_car",
            "invoice": {
                "number": f"{secrets.randbelow(10**8):08d}",
                "code": "113002600111",
                "date": "2026-11-04",
                "amount_fen": 12_800_000,
                "photo": PNG_B64,
            },
            "certificate_number": "WAC" + secrets.token_hex(5).upper(),
            "owner": {"id_kind": "resident_id", "id_number": owner.id_number, "name": "沈十七"},
            # A lives in another city than this made-up office's (PP-03)
            "residence_permit": {"number": "JZ" + secrets.token_hex(4), "valid_until": "2027-12-31"},
            "office_code": office,
        }
        return rec.ok(gw.post("/api/v1/plate-selections", json=body, headers=rec.h("owner")), 201)

    key = "/api/v1/plate-selections/{selection_id}"
    abandoned = start()["id"]
    rec.ok(gw.delete(f"/api/v1/plate-selections/{abandoned}", headers=rec.h("owner")), 204)
    reason = {"reason": "误点了放弃，请求恢复选号机会"}
    appeal = rec.ok(
        gw.post(f"/api/v1/plate-selections/{abandoned}/appeals", json=reason, headers=rec.h("owner")), 201
    )
    strangers = ("stranger", "unit", "clerk.intake", "clerk.review", "clerk.admin", "other:clerk.admin")
    reachers = ("owner", "plate:clerk.admin", "plate:clerk.review")
    decision = {"POST /decision": {"decision": "rejected", "note": "放弃系本人操作"}}
    rec.add(
        Record(
            key + "/appeals/{appeal_id}",
            appeal["id"],
            "owner",
            strangers,
            reachers=("plate:clerk.review",),
            bodies=decision,
            parents={key: abandoned},
        )
    )
    live = start()["id"]
    bodies = {
        "POST /appeals": reason,
        "POST /custom-verifications": {"number": "冀AQ1234"},
        "POST /choice": {"number": "冀AQ1234"},
        "POST /confirmation": {"code": "000000"},
    }
    rec.add(Record(key, live, "owner", strangers, reachers=reachers, bodies=bodies))


FACTORIES: tuple[Callable[[Records], None], ...] = (
    vehicle,
    licence,
    violation,
    counter_cases,
    medical,
    office_settings,
    dealer,
    exam_booking,
    inspection_booking,
    message,
    accounts,
    data_export,
    plate_selection,
)


def make_records(gw: httpx.Client, actors: dict[str, Actor]) -> Records:
    """Every factory's records; a factory that fails leaves its keys uncovered, with its error as the
    reason (the figures count them), rather than hiding the rest of the matrix."""
    rec = Records(gw, actors)
    for factory in FACTORIES:
        try:
            factory(rec)
        except (AssertionError, httpx.HTTPError, KeyError) as exc:
            rec.failed[factory.__name__] = str(exc)[:300]
    return rec
