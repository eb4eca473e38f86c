"""Staff sign-in (MLPS 2.0 level 3 identification and authentication, ADR 0091, 0092): the second factor
(TOTP, RFC 6238), the steps of a staff sign-in, staff password expiry and the recovery of a second
factor by an admin. Pure: the time is given, the secret is given.

TOTP here is RFC 6238 with its defaults (HMAC-SHA-1, 6 digits, 30 s steps) so that every authenticator
app reads the enrolment QR code; a step once accepted is never accepted again (RFC 6238 §5.2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import quote, urlencode

from servicekit.refusal import refusal

TOTP_STEP_S = 30
TOTP_DIGITS = 6
TOTP_WINDOW = 1  # steps either side of now: a phone's clock a little off, a code typed at the edge
TOTP_SECRET_BYTES = 20  # RFC 4226 §4: 160 bits, the length of an HMAC-SHA-1 key

# The categories that sign in in steps; persons, units and system clients keep their one-step sign-in.
STEPPED_CATEGORIES = frozenset({"staff"})
STAFF_ADMIN_ROLE = "clerk.admin"

SignInStep = Literal["enrol", "second_factor", "new_password"]

InvalidSecondFactor = refusal("INVALID_SECOND_FACTOR", None, 401)
InvalidChallenge = refusal("INVALID_CHALLENGE", None, 401)
PasswordReused = refusal("PASSWORD_REUSED", None, 422)
SelfResetRefused = refusal("SELF_RESET_REFUSED", None, 403)


# --- TOTP (RFC 6238 over RFC 4226) ---------------------------------------------------------------


def new_totp_secret() -> str:
    """A fresh shared secret, base32 without padding (what authenticator apps take)."""
    return base64.b32encode(secrets.token_bytes(TOTP_SECRET_BYTES)).decode().rstrip("=")


def _key(secret_b32: str) -> bytes:
    padded = secret_b32.upper() + "=" * (-len(secret_b32) % 8)
    return base64.b32decode(padded)


def hotp(key: bytes, counter: int, digits: int = TOTP_DIGITS) -> str:
    """RFC 4226 §5.3: HMAC-SHA-1 of the 8-byte counter, dynamic truncation, the last `digits` digits."""
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def totp_step(moment: datetime) -> int:
    """RFC 6238 §4.2: T = floor((Unix time - T0) / X), T0 = 0, X = 30 s."""
    return int(moment.timestamp()) // TOTP_STEP_S


def totp_code(secret_b32: str, moment: datetime) -> str:
    return hotp(_key(secret_b32), totp_step(moment))


def totp_code_of_step(secret_b32: str, step: int) -> str:
    return hotp(_key(secret_b32), step)


@dataclass(frozen=True)
class TotpCheck:
    """A code's verdict: `step` is the step it matched (to remember against replay) when `ok`."""

    ok: bool
    replayed: bool = False
    step: int | None = None


def check_totp(secret_b32: str, code: str, now: datetime, last_step: int | None) -> TotpCheck:
    """The code of a step within ±`TOTP_WINDOW` of now, and later than the last step accepted: a code
    once used (or one older than it) is refused, however fresh."""
    code = code.strip()
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return TotpCheck(ok=False)
    key = _key(secret_b32)
    current = totp_step(now)
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if hmac.compare_digest(hotp(key, step), code):
            if last_step is not None and step <= last_step:
                return TotpCheck(ok=False, replayed=True)
            return TotpCheck(ok=True, step=step)
    return TotpCheck(ok=False)


def otpauth_uri(secret_b32: str, account_name: str, issuer: str) -> str:
    """The Key URI Format authenticator apps read from the QR code (algorithm, digits, period explicit)."""
    label = quote(f"{issuer}:{account_name}", safe="")
    query = urlencode(
        {
            "secret": secret_b32,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": TOTP_DIGITS,
            "period": TOTP_STEP_S,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


# --- the steps of a staff sign-in ----------------------------------------------------------------


def signs_in_in_steps(category: str) -> bool:
    return category in STEPPED_CATEGORIES


def password_expired(changed_at: datetime, now: datetime, max_age: timedelta) -> bool:
    """ADR 0092: a staff password is good for `max_age` (90 days) from when it was set."""
    return now >= changed_at + max_age


def next_step(*, enrolled: bool, second_factor_passed: bool, password_expired: bool) -> SignInStep | None:
    """What a staff sign-in asks next, None when tokens may be issued. The second factor comes before a
    new password, so that only the holder of both factors can set one."""
    if not second_factor_passed:
        return "second_factor" if enrolled else "enrol"
    if password_expired:
        return "new_password"
    return None


def check_new_password(reuses_current: bool) -> None:
    """The new password of an expired one must differ from it (its strength is ID-12's check)."""
    if reuses_current:
        raise PasswordReused("the new password must differ from the current one")


# --- recovery by an admin --------------------------------------------------------------------------


def may_reset_second_factor(
    *,
    caller_id: str,
    caller_roles: Iterable[str],
    caller_office: str | None,
    target_id: str,
    target_category: str,
    target_office: str | None,
) -> bool:
    """Whether an admin reaches this account's second factor: staff accounts of the admin's own office.
    False is answered as absent (404). An admin never resets their own: that would let a stolen
    password alone replace the factor it is meant to back (refused with `SelfResetRefused`)."""
    if STAFF_ADMIN_ROLE not in set(caller_roles) or target_category not in STEPPED_CATEGORIES:
        return False
    if caller_office is None or caller_office != target_office:
        return False
    if caller_id == target_id:
        raise SelfResetRefused("an admin cannot reset their own second factor; another admin can")
    return True
