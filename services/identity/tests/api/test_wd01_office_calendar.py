"""WD-01 in identity, the owner of the office calendar (ADR 0004): an admin sets a year's official days,
identity's deadlines follow them, and a year nobody set is refused loudly rather than counted as weekends."""

from datetime import datetime
from typing import TYPE_CHECKING

import pytest

from servicekit.clock import SHANGHAI
from servicekit.testing import outbox_payloads

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration

YEAR_2029 = {
    "source": "test fixture shaped like a State Council notice",
    "days": [
        *({"date": f"2029-10-0{d}", "working": False, "name": "国庆节"} for d in range(1, 8)),
        {"date": "2029-09-29", "working": True, "name": "国庆节调休"},  # a Saturday
    ],
}


async def _counter_registration(api: "Api") -> dict[str, object]:
    """Opened, its scans stored and submitted: the submission computes the review deadline."""
    intake = await api.staff("clerk.intake")
    body = {
        "id_number": await api.person("孙悟空"),
        "name": "孙悟空",
        "phone": api.new_phone(),
        "password": "Passw0rd2027",
    }
    r = await api.counter_case(body, intake)
    return {"status": r.status_code, "body": r.json()}


async def test_wd01_admin_sets_a_year_and_identitys_review_deadline_follows_it(api: "Api") -> None:
    admin = await api.staff("clerk.admin")
    api.clock.set(datetime(2029, 9, 28, 10, 0, tzinfo=SHANGHAI))  # a Friday before National Day
    r = await api.client.put("/api/v1/workdays/2029", json=YEAR_2029, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["set"] is True
    # identity owns the calendar and publishes the whole year for the other services (ADR 0004).
    async with api.runtime.engine.connect() as conn:
        payloads = await outbox_payloads(
            conn, "identity.workday_calendar.year_set.v1", subject="2029", newest_first=True
        )
        payload = payloads[0]
    assert payload["year"] == 2029
    assert {"date": "2029-09-29", "working": True, "name": "国庆节调休"} in payload["days"]
    assert len(payload["days"]) == 8
    case = await _counter_registration(api)
    assert case["status"] == 200, case
    # ID-09, 1 working day: Saturday 29 Sep is the adjusted working day, not Monday 8 Oct.
    body = case["body"]
    assert isinstance(body, dict)
    assert body["deadline"].startswith("2029-09-29T23:59:59")


async def test_wd01_a_year_nobody_set_refuses_with_503_and_names_the_year(api: "Api") -> None:
    api.clock.set(datetime(2031, 3, 3, 10, 0, tzinfo=SHANGHAI))
    case = await _counter_registration(api)
    assert case["status"] == 503
    body = case["body"]
    assert isinstance(body, dict)
    assert (body["code"], body["rule"], body["year"]) == ("WORKDAY_CALENDAR_NOT_SET", "WD-01", 2031)


async def test_wd01_only_an_admin_sets_the_calendar(api: "Api") -> None:
    for role in ("clerk.review", "clerk.intake"):
        r = await api.client.put("/api/v1/workdays/2029", json=YEAR_2029, headers=await api.staff(role))
        assert r.status_code == 403
    listed = await api.client.get("/api/v1/workdays/2027", headers=await api.staff("clerk.admin"))
    assert (listed.status_code, listed.json()["set"]) == (200, True)
