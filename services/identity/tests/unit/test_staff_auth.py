"""Staff sign-in rules (ADR 0091, 0092): TOTP against RFC 6238's own test vectors, the window, replay,
the steps, password expiry and who may reset a second factor."""

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from identity_service import domain

# RFC 6238 Appendix B: the SHA-1 seed "12345678901234567890"; the vectors are 8 digits, ours the last 6.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("unix", "expected"), RFC_VECTORS)
def test_mlps_totp_matches_the_rfc_6238_sha1_test_vectors(unix: int, expected: str) -> None:
    moment = datetime.fromtimestamp(unix, UTC)
    assert domain.totp_code(RFC_SECRET, moment) == expected[-6:]
    key = base64.b32decode(RFC_SECRET)
    assert domain.hotp(key, domain.totp_step(moment), digits=8) == expected


def test_mlps_totp_takes_one_step_either_side_and_no_more() -> None:
    secret = domain.new_totp_secret()
    now = datetime(2027, 3, 1, 1, 0, 15, tzinfo=UTC)
    for offset, accepted in ((-60, False), (-30, True), (0, True), (30, True), (60, False)):
        code = domain.totp_code(secret, now + timedelta(seconds=offset))
        assert domain.check_totp(secret, code, now, None).ok is accepted, offset


def test_mlps_a_totp_code_once_used_is_refused_again() -> None:
    secret = domain.new_totp_secret()
    now = datetime(2027, 3, 1, 1, 0, 15, tzinfo=UTC)
    code = domain.totp_code(secret, now)
    first = domain.check_totp(secret, code, now, None)
    assert first.ok
    assert first.step == domain.totp_step(now)
    again = domain.check_totp(secret, code, now + timedelta(seconds=10), first.step)
    assert not again.ok
    assert again.replayed
    # an older step is no better than the same one
    older = domain.totp_code(secret, now - timedelta(seconds=30))
    assert domain.check_totp(secret, older, now, first.step).replayed
    later = domain.totp_code(secret, now + timedelta(seconds=30))
    assert domain.check_totp(secret, later, now, first.step).ok


def test_totp_refuses_what_is_not_six_digits() -> None:
    secret = domain.new_totp_secret()
    now = datetime(2027, 3, 1, tzinfo=UTC)
    code = domain.totp_code(secret, now)
    for wrong in ("", code[:5], code + "0", "abcdef"):
        assert not domain.check_totp(secret, wrong, now, None).ok


def test_otpauth_uri_names_the_algorithm_digits_and_period_for_every_app() -> None:
    secret = domain.new_totp_secret()
    uri = urlparse(domain.otpauth_uri(secret, "S130100001", "机动车驾驶人管理平台"))
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    query = {k: v[0] for k, v in parse_qs(uri.query).items()}
    assert query == {
        "secret": secret,
        "issuer": "机动车驾驶人管理平台",
        "algorithm": "SHA1",
        "digits": "6",
        "period": "30",
    }
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) == 20


def test_mlps_staff_sign_in_asks_the_second_factor_before_a_new_password() -> None:
    assert domain.signs_in_in_steps("staff")
    assert not any(domain.signs_in_in_steps(c) for c in ("personal", "unit", "system"))
    assert domain.next_step(enrolled=False, second_factor_passed=False, password_expired=True) == "enrol"
    assert (
        domain.next_step(enrolled=True, second_factor_passed=False, password_expired=True) == "second_factor"
    )
    assert domain.next_step(enrolled=True, second_factor_passed=True, password_expired=True) == "new_password"
    assert domain.next_step(enrolled=True, second_factor_passed=True, password_expired=False) is None


def test_mlps_a_staff_password_expires_after_ninety_days() -> None:
    set_at = datetime(2027, 3, 1, tzinfo=UTC)
    ninety = timedelta(days=90)
    assert not domain.password_expired(set_at, set_at + ninety - timedelta(seconds=1), ninety)
    assert domain.password_expired(set_at, set_at + ninety, ninety)
    with pytest.raises(domain.PasswordReused):
        domain.check_new_password(reuses_current=True)
    domain.check_new_password(reuses_current=False)


def test_mlps_second_factor_reset_reaches_staff_of_the_admins_office_only() -> None:
    base = {
        "caller_id": "a",
        "caller_roles": ["clerk.admin"],
        "caller_office": "130100",
        "target_id": "b",
        "target_category": "staff",
        "target_office": "130100",
    }
    assert domain.may_reset_second_factor(**base)  # type: ignore[arg-type]
    assert not domain.may_reset_second_factor(**base | {"caller_roles": ["clerk.review"]})  # type: ignore[arg-type]
    assert not domain.may_reset_second_factor(**base | {"target_office": "130200"})  # type: ignore[arg-type]
    for category in ("personal", "unit", "system"):
        assert not domain.may_reset_second_factor(**base | {"target_category": category})  # type: ignore[arg-type]
    with pytest.raises(domain.SelfResetRefused):
        domain.may_reset_second_factor(**base | {"target_id": "a"})  # type: ignore[arg-type]
