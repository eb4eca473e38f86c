"""DL-11, DL-01, ID-07 end to end through the gateway: the office's licence-application system reports a
learner's accepted application; a site publishes a slot for each subject; the learner (signed in as a
learner user) books it, the office seats it at the cut-off, the examiner records a pass; after the fourth
subject license issues the first licence (`license.record.issued.v1`, source `exam`), which identity's
worker reads to turn the learner into a driver user (ID-07). Another learner sees none of it.

Real processes (tests/e2e/stack.py): identity's and license's apis and workers, the gateway and nginx;
RabbitMQ, PostgreSQL and Redis. The platform clock (dev/test only) is moved through the gateway's
/api/v1/_test/clock, as a tester would: the waits between subjects are days, not seconds.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from servicekit.clock import SHANGHAI
from servicekit.testing import new_phone, new_resident_id

from .stack import Person, gateway_stack, login, make_accounts, system_login

pytestmark = pytest.mark.integration

TIMEOUT_S = 60.0
START = datetime(2031, 3, 3, 9, 0, tzinfo=SHANGHAI)  # far from other tests' data, a Monday


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    with gateway_stack(["license"], workers=["identity", "license"]) as url:
        yield url


def eventually(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT_S
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {TIMEOUT_S:.0f} s: {what}")
        time.sleep(0.3)
    return found


def _set_clock(gw: httpx.Client, moment: datetime) -> None:
    r = gw.post("/api/v1/_test/clock", json={"now": moment.isoformat()})
    assert r.status_code == 200, r.text


def _ok(r: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    data: dict[str, Any] = r.json()
    return data


def test_dl11_id07_a_learner_books_and_passes_four_subjects_and_becomes_a_driver_through_the_gateway(
    gateway: str,
) -> None:
    learner_id, other_id = new_resident_id(), new_resident_id()
    with httpx.Client(base_url=gateway, trust_env=False, timeout=30) as gw:
        now = START
        _set_clock(gw, now)
        try:
            # Made at the platform's 2031, so the staff's passwords are new then (ADR 0092: 90 days).
            names = make_accounts(
                {"admin": ["clerk.admin"], "examiner": ["clerk.review"]},
                [
                    Person(learner_id, new_phone(), kind="learner", channel="online"),
                    Person(other_id, new_phone()),
                ],
            )
            admin, examiner = login(gw, names["admin"]), login(gw, names["examiner"])
            system = system_login(gw, names["system"])
            me, other = login(gw, learner_id), login(gw, other_id)
            assert _ok(gw.get("/api/v1/users/me", headers=me))["kind"] == "learner"

            _ok(
                gw.post(
                    "/api/v1/exams/learners",
                    headers=system,
                    json={
                        "application_number": secrets.token_hex(8).upper(),
                        "id_number": learner_id,
                        "name": "沈十七",
                        "phone": new_phone(),
                        "classes": ["C1"],
                        "office_code": "130100",
                        "accepted_at": (now - timedelta(days=1)).isoformat(),
                    },
                ),
                201,
            )
            site = _ok(
                gw.post(
                    "/api/v1/exams/sites",
                    headers=admin,
                    json={
                        "name": "石家庄市第一考场",
                        "address": "石家庄市长安区",
                        "office_code": "130100",
                        "subjects": [1, 2, 3, 4],
                    },
                ),
                201,
            )
            for subject in (1, 2, 3, 4):
                progress = _ok(gw.get("/api/v1/exams/learners/me", headers=me))
                assert progress["next_subject"] == subject, progress  # DL-11: in order
                if progress["book_from"] is not None:  # a wait (the permit's days): the clock moves on
                    day = datetime.fromisoformat(progress["book_from"]).replace(hour=9, tzinfo=SHANGHAI)
                    now = max(now, day)
                    _set_clock(gw, now)
                starts = now + timedelta(days=3)
                slot = _ok(
                    gw.post(
                        f"/api/v1/exams/sites/{site['id']}/slots",
                        headers=admin,
                        json={
                            "subject": subject,
                            "classes": ["C1", "C2"],
                            "starts_at": starts.isoformat(),
                            "capacity": 5,
                            "booking_opens_at": (now - timedelta(hours=1)).isoformat(),
                            "cutoff_at": (starts - timedelta(days=1)).isoformat(),
                        },
                    ),
                    201,
                )
                booking = _ok(
                    gw.post("/api/v1/exams/bookings", headers=me, json={"slot_id": slot["id"]}), 201
                )
                assert gw.get(f"/api/v1/exams/bookings/{booking['id']}", headers=other).status_code == 404

                now = starts - timedelta(days=1)  # the cut-off: seats are decided
                _set_clock(gw, now)
                decided = _ok(gw.post(f"/api/v1/exams/slots/{slot['id']}/decision", headers=admin))
                assert decided["seated"] == 1, decided
                seated = _ok(gw.get(f"/api/v1/exams/bookings/{booking['id']}", headers=me))
                assert seated["state"] == "seated", seated

                now = starts + timedelta(hours=2)  # the exam
                _set_clock(gw, now)
                _ok(
                    gw.post(
                        f"/api/v1/exams/bookings/{booking['id']}/result",
                        headers=examiner,
                        json={"outcome": "passed"},
                    )
                )

            # DL-11 → DL-01: the last pass issued the first licence, valid six years from the exam day.
            licence = _ok(gw.get("/api/v1/licences/mine", headers=me))
            assert (licence["classes"], licence["state"]) == (["C1"], "valid")
            assert licence["valid_until"] == now.date().replace(year=now.year + 6).isoformat()
            assert gw.get(f"/api/v1/licences/{licence['id']}", headers=other).status_code == 404

            # ID-07: identity read license's event and turned the learner into a driver user.
            eventually(
                lambda: _ok(gw.get("/api/v1/users/me", headers=me))["kind"] == "owner_driver",
                "identity converts the learner",
            )
        finally:
            r = gw.delete("/api/v1/_test/clock")
            assert r.status_code == 200, r.text
