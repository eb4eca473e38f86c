"""Staff sign-in in steps (ADR 0091, 0092; MLPS 2.0 level 3 identification and authentication): the TOTP
second factor with enrolment at the first sign-in, replay and lockout, recovery by an admin, password
expiry and the end of an unused session. Citizens' sign-in stays one step."""

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import text

from identity_service.domain import totp_code_of_step, totp_step

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration

PASSWORD = "Passw0rd2027"


async def _password(api: "Api", username: str, password: str = PASSWORD) -> dict[str, Any]:
    r = await api.client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _code(api: "Api", challenge: str, code: str) -> Any:
    return await api.client.post(
        "/api/v1/auth/login/second-factor", json={"challenge": challenge, "code": code}
    )


async def _audited(api: "Api", target: str, action: str) -> int:
    async with api.runtime.engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    text("SELECT count(*) FROM audit_log WHERE target = :t AND action = :a"),
                    {"t": target, "a": action},
                )
            ).scalar_one()
        )


async def _account_id(api: "Api", headers: dict[str, str]) -> str:
    return str((await api.client.get("/api/v1/users/me", headers=headers)).json()["id"])


async def test_mlps_staff_first_sign_in_enrols_a_totp_factor_and_no_token_comes_before_it(api: "Api") -> None:
    staff_no = await api.new_staff("clerk.intake")
    step = await _password(api, staff_no)
    assert step["step"] == "enrol"
    assert "access_token" not in step
    assert "refresh_token" not in step
    enrolment = step["enrolment"]
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={enrolment['secret']}" in enrolment["otpauth_uri"]
    assert enrolment["qr_svg"].startswith("data:image/svg+xml")
    # a wrong first code does not enrol
    wrong = await _code(api, step["challenge"], "000000")
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "INVALID_SECOND_FACTOR"
    r = await api.second_factor(staff_no, step)
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["access_token"]
    assert tokens["refresh_token"]
    account = await _account_id(api, {"Authorization": f"Bearer {tokens['access_token']}"})
    assert await _audited(api, f"account:{account}", "second_factor_enrolled") == 1
    # enrolled: the next sign-in asks for a code, and shows no secret
    again = await _password(api, staff_no)
    assert again["step"] == "second_factor"
    assert again["enrolment"] is None
    r = await api.second_factor(staff_no, again)
    assert r.status_code == 200
    assert r.json()["access_token"]


async def test_mlps_citizens_sign_in_in_one_step_as_before(api: "Api") -> None:
    id_number, _ = await api.owner_driver()
    body = await _password(api, id_number)
    assert body["access_token"]
    assert "step" not in body


async def test_mlps_a_totp_code_once_used_is_refused_and_counts_toward_the_lockout(api: "Api") -> None:
    staff_no = await api.new_staff("clerk.review")
    await api.login(staff_no)  # enrolled
    secret = api.totp_secrets[staff_no]
    used = totp_code_of_step(secret, api.totp_steps[staff_no])
    step = await _password(api, staff_no)
    replay = await _code(api, step["challenge"], used)
    assert replay.status_code == 401
    assert replay.json()["code"] == "INVALID_SECOND_FACTOR"
    assert "already used" in replay.json()["detail"]
    # two steps away is refused too (±1 step only)
    far = totp_code_of_step(secret, totp_step(await api.clock.now()) + 2)
    assert (await _code(api, step["challenge"], far)).status_code == 401
    # the challenge stays for another try: the next code works
    assert (await api.second_factor(staff_no, step)).status_code == 200


async def test_mlps_wrong_codes_lock_the_account_and_a_right_password_does_not_reset_the_count(
    api: "Api",
) -> None:
    staff_no = await api.new_staff("clerk.archive")
    await api.login(staff_no)
    for attempt in range(5):
        step = await _password(api, staff_no)  # the right password each time
        r = await _code(api, step["challenge"], "999999" if attempt % 2 else "123456")
        assert r.status_code == 401, r.text
    locked = await api.client.post("/api/v1/auth/login", json={"username": staff_no, "password": PASSWORD})
    assert locked.status_code == 409
    assert locked.json()["code"] == "ACCOUNT_LOCKED"
    api.clock.advance(timedelta(minutes=16))
    assert (await api.login(staff_no))["access_token"]


async def test_mlps_a_sign_in_challenge_is_single_use_and_short_lived(api: "Api") -> None:
    staff_no = await api.new_staff("clerk.intake")
    await api.login(staff_no)
    step = await _password(api, staff_no)
    assert (await api.second_factor(staff_no, step)).status_code == 200
    spent = await api.second_factor(staff_no, step)
    assert spent.status_code == 401
    assert spent.json()["code"] == "INVALID_CHALLENGE"
    late = await _password(api, staff_no)
    api.clock.advance(timedelta(minutes=5))
    expired = await api.second_factor(staff_no, late)
    assert expired.status_code == 401
    assert expired.json()["code"] == "INVALID_CHALLENGE"
    made_up = await _code(api, "not-a-challenge", "123456")
    assert made_up.status_code == 401
    assert made_up.json()["code"] == "INVALID_CHALLENGE"


async def test_mlps_an_admin_resets_a_clerks_second_factor_and_the_clerk_enrols_again(api: "Api") -> None:
    clerk_no = await api.new_staff("clerk.intake")
    clerk = await api.bearer(clerk_no)
    clerk_id = await _account_id(api, clerk)
    admin = await api.staff("clerk.admin")
    r = await api.client.delete(f"/api/v1/users/{clerk_id}/second-factor", headers=admin)
    assert r.status_code == 204, r.text
    assert await _audited(api, f"account:{clerk_id}", "second_factor_reset") == 1
    # the clerk's sessions ended with the factor
    assert (await api.client.get("/api/v1/users/me", headers=clerk)).status_code == 401
    step = await _password(api, clerk_no)
    assert step["step"] == "enrol"
    assert step["enrolment"]["secret"] != api.totp_secrets[clerk_no]
    assert (await api.second_factor(clerk_no, step)).status_code == 200


async def test_mlps_second_factor_reset_is_an_admins_of_the_same_office_and_never_ones_own(
    api: "Api",
) -> None:
    admin_no = await api.new_staff("clerk.admin")
    admin = await api.bearer(admin_no)
    admin_id = await _account_id(api, admin)
    own = await api.client.delete(f"/api/v1/users/{admin_id}/second-factor", headers=admin)
    assert own.status_code == 403
    assert own.json()["code"] == "SELF_RESET_REFUSED"
    elsewhere = await api.bearer(await api.new_staff("clerk.intake", office="130200"))
    r = await api.client.delete(
        f"/api/v1/users/{await _account_id(api, elsewhere)}/second-factor", headers=admin
    )
    assert r.status_code == 404
    _id_number, phone = await api.owner_driver()
    person = await _account_id(api, await api.bearer(phone))
    assert (
        await api.client.delete(f"/api/v1/users/{person}/second-factor", headers=admin)
    ).status_code == 404
    reviewer = await api.staff("clerk.review")
    r = await api.client.delete(f"/api/v1/users/{admin_id}/second-factor", headers=reviewer)
    assert r.status_code == 403
    assert r.json()["code"] == "FORBIDDEN"


async def test_mlps_an_expired_staff_password_is_replaced_before_tokens(api: "Api") -> None:
    staff_no = await api.new_staff("clerk.review")
    await api.login(staff_no)
    api.clock.advance(timedelta(days=90))
    step = await _password(api, staff_no)
    assert step["step"] == "second_factor"  # the second factor first: only both factors set a password
    r = await api.second_factor(staff_no, step)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["step"] == "new_password"
    assert "access_token" not in body
    path = "/api/v1/auth/login/new-password"
    same = await api.client.post(path, json={"challenge": body["challenge"], "new_password": PASSWORD})
    assert same.status_code == 422
    assert same.json()["code"] == "PASSWORD_REUSED"
    weak = await api.client.post(path, json={"challenge": body["challenge"], "new_password": "short"})
    assert weak.status_code == 422
    assert weak.json()["code"] == "WEAK_PASSWORD"
    r = await api.client.post(path, json={"challenge": body["challenge"], "new_password": "Fresh2027pass"})
    assert r.status_code == 200, r.text
    assert r.json()["access_token"]
    old = await api.client.post("/api/v1/auth/login", json={"username": staff_no, "password": PASSWORD})
    assert old.status_code == 401
    # good for another 90 days: the next sign-in asks for the code only
    assert (await api.login(staff_no, "Fresh2027pass"))["access_token"]


async def test_adr0092_a_citizens_password_never_expires(api: "Api") -> None:
    id_number, _ = await api.owner_driver()
    api.clock.advance(timedelta(days=400))
    assert (await _password(api, id_number))["access_token"]


async def test_mlps_a_staff_session_unused_for_thirty_minutes_ends(api: "Api") -> None:
    staff_no = await api.new_staff("clerk.intake")
    refresh = (await api.login(staff_no))["refresh_token"]
    # used within the limit, each use pushes the limit on
    for _ in range(3):
        api.clock.advance(timedelta(minutes=29))
        r = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})
        assert r.status_code == 200, r.text
        refresh = r.json()["refresh_token"]
    api.clock.advance(timedelta(minutes=30))
    r = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})
    assert r.status_code == 401
    assert r.json()["code"] == "INVALID_REFRESH_TOKEN"


async def test_adr0092_a_citizens_session_is_not_ended_by_thirty_minutes_unused(api: "Api") -> None:
    id_number, _ = await api.owner_driver()
    refresh = (await api.login(id_number))["refresh_token"]
    api.clock.advance(timedelta(hours=2))
    r = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})
    assert r.status_code == 200, r.text


async def test_mlps_the_totp_secret_is_stored_sealed(api: "Api") -> None:
    """ADR 0095: the shared secret never lies in the database in clear, neither with its challenge nor
    on the account."""
    staff_no = await api.new_staff("clerk.intake")
    step = await _password(api, staff_no)
    secret = step["enrolment"]["secret"]
    query = (
        "SELECT a.totp_secret AS account, c.totp_secret AS challenge FROM accounts a "
        "JOIN sign_in_challenges c ON c.account_id = a.id WHERE a.username = :u"
    )
    async with api.runtime.engine.connect() as conn:
        pending = (await conn.execute(text(query), {"u": staff_no})).one()
    assert pending.account is None
    assert pending.challenge is not None
    assert secret not in pending.challenge
    assert (await api.second_factor(staff_no, step)).status_code == 200
    async with api.runtime.engine.connect() as conn:
        stored = (await conn.execute(text(query), {"u": staff_no})).first()
    assert stored is not None
    assert stored.account is not None
    assert secret not in stored.account


async def test_mlps_an_admin_lists_the_offices_staff_with_their_factor_and_password_expiry(
    api: "Api",
) -> None:
    admin = await api.staff("clerk.admin")
    enrolled_no = await api.new_staff("clerk.intake")
    await api.login(enrolled_no)
    new_no = await api.new_staff("clerk.review")
    elsewhere_no = await api.new_staff("clerk.review", office="130200")
    r = await api.client.get("/api/v1/users/staff", headers=admin)
    assert r.status_code == 200, r.text
    staff = {s["username"]: s for s in r.json()}
    assert staff[enrolled_no]["second_factor_enrolled"] is True
    assert staff[new_no]["second_factor_enrolled"] is False
    assert staff[new_no]["password_expires_at"].startswith("2027-05-30")  # 90 days from 2027-03-01
    assert elsewhere_no not in staff
    assert "totp_secret" not in r.text
    clerk = await api.bearer(enrolled_no)
    assert (await api.client.get("/api/v1/users/staff", headers=clerk)).status_code == 403
