"""SMS verification codes (NT-02): 6 digits, valid 5 minutes, 5 wrong tries, 1 send a minute, 10 a day.

Every limit follows the platform clock (WD-02), not Redis's own time: expiry instants and the last
send are stored as platform microseconds and compared inside Lua scripts, so tests (and the dev
clock) move time and the rules follow. Redis TTLs are only garbage collection, set far beyond the
rule windows. Each check-and-update is one script, so concurrent verifies cannot both succeed and
concurrent sends cannot pass the limits. Only an HMAC of the code is stored.

Records are per phone (sends) and per phone and purpose (the code), so a code for one business step
(e.g. "pp07-confirm") is never accepted for another. A new send replaces the previous code.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from redis.asyncio import Redis

from servicekit.clock import SHANGHAI, Clock
from servicekit.refusal import Refusal
from servicekit.validators import mobile_phone

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_PURPOSE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# Garbage collection only (see module doc): a day beyond each window survives any sane clock offset.
_GC_MARGIN = timedelta(days=1)

# KEYS: code record, last send, sends today.
# ARGV: now, min interval, daily limit, code hash, expires (µs), code GC s, last-send GC s, day GC s,
#       next local midnight (µs).
# The daily refusal is checked first: it names the longer wait.
# KEYS: code record, last send, sends today. ARGV: the code's hash, the issue's instant (µs).
# Only the issue's own traces go: a newer code (another send since) is left alone.
_WITHDRAW_LUA = """
if redis.call('HGET', KEYS[1], 'hash') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('DEL', KEYS[2])
end
if tonumber(redis.call('GET', KEYS[3]) or '0') > 0 then
  redis.call('DECR', KEYS[3])
end
return 1
"""

_ISSUE_LUA = """
local now = tonumber(ARGV[1])
local sent_today = tonumber(redis.call('GET', KEYS[3]) or '0')
if sent_today >= tonumber(ARGV[3]) then
  return {2, tonumber(ARGV[9]) - now}
end
local last = redis.call('GET', KEYS[2])
if last then
  local wait = tonumber(last) + tonumber(ARGV[2]) - now
  if wait > 0 then
    return {1, wait}
  end
end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[7])
redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[8])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'hash', ARGV[4], 'expires_us', ARGV[5], 'wrong', '0')
redis.call('EXPIRE', KEYS[1], ARGV[6])
return {0, 0}
"""

# KEYS: code record. ARGV: now (µs), hash of the code tried, max wrong tries.
# Comparing hashes with == is safe: the attacker does not know the HMAC, so timing reveals nothing.
_VERIFY_LUA = """
local rec = redis.call('HMGET', KEYS[1], 'hash', 'expires_us', 'wrong')
if not rec[1] then
  return {3, 0}
end
local max_wrong = tonumber(ARGV[3])
if tonumber(rec[3]) >= max_wrong then
  return {4, 0}
end
if tonumber(ARGV[1]) >= tonumber(rec[2]) then
  return {2, 0}
end
if rec[1] == ARGV[2] then
  redis.call('DEL', KEYS[1])
  return {0, 0}
end
local wrong = redis.call('HINCRBY', KEYS[1], 'wrong', 1)
return {1, max_wrong - wrong}
"""


class VerificationError(Refusal):
    """Base of NT-02 refusals: the input (a code) was refused, 422; a limit on sending, 429."""

    code = "SMS_CODE_ERROR"
    rule = "NT-02"
    status = 422


class CodeSendTooSoon(VerificationError):
    code = "SMS_CODE_SEND_TOO_SOON"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"a code was sent less than a minute ago; retry in {retry_after_s} s",
            status=429,
            retry_after_s=retry_after_s,
        )


class CodeDailyLimit(VerificationError):
    code = "SMS_CODE_DAILY_LIMIT"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"daily limit of codes reached; retry in {retry_after_s} s",
            status=429,
            retry_after_s=retry_after_s,
        )


class CodeMismatch(VerificationError):
    code = "SMS_CODE_MISMATCH"

    def __init__(self, tries_left: int) -> None:
        super().__init__(f"wrong code; {tries_left} tries left", extra={"tries_left": tries_left})
        self.tries_left = tries_left


class CodeExpired(VerificationError):
    code = "SMS_CODE_EXPIRED"

    def __init__(self) -> None:
        super().__init__("the code has expired; request a new one")


class CodeTriesExhausted(VerificationError):
    code = "SMS_CODE_TRIES_EXHAUSTED"

    def __init__(self) -> None:
        super().__init__("too many wrong tries; request a new code")


class CodeNotIssued(VerificationError):
    code = "SMS_CODE_NOT_ISSUED"

    def __init__(self) -> None:
        super().__init__("no code was sent for this phone and purpose, or it was already used")


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: datetime
    issued_at: datetime | None = None  # platform time of the send it counted (for `withdraw`)


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // _US


def _seconds_ceil(us: int) -> int:
    return max(1, math.ceil(us / 1_000_000))


class VerificationCodes:
    def __init__(
        self,
        redis: Redis,
        clock: Clock,
        pepper: bytes,
        *,
        length: int = 6,
        ttl: timedelta = timedelta(minutes=5),
        max_wrong: int = 5,
        min_interval: timedelta = timedelta(minutes=1),
        daily_limit: int = 10,
        key_prefix: str = "tms:vc",
    ) -> None:
        if not pepper:
            raise ValueError("pepper must not be empty")
        if not 4 <= length <= 10 or max_wrong < 1 or daily_limit < 1 or ttl <= timedelta(0):
            raise ValueError("length 4-10, max_wrong >= 1, daily_limit >= 1 and a positive ttl")
        self._clock = clock
        self._pepper = pepper
        self._length = length
        self._ttl = ttl
        self._max_wrong = max_wrong
        self._min_interval = min_interval
        self._daily_limit = daily_limit
        self._prefix = key_prefix
        # Registered once: redis-py sends EVALSHA and loads the script again only if the server lost it.
        self._issue_script = redis.register_script(_ISSUE_LUA)
        self._verify_script = redis.register_script(_VERIFY_LUA)
        self._withdraw_script = redis.register_script(_WITHDRAW_LUA)

    async def issue(self, phone: str, purpose: str) -> IssuedCode:
        """A new code for `phone` and `purpose`, replacing any previous one; the caller sends the SMS."""
        phone, purpose = self._normalise(phone, purpose)
        now = await self._clock.now()
        local_day = now.astimezone(SHANGHAI).date()
        next_midnight = datetime.combine(local_day + timedelta(days=1), time.min, tzinfo=SHANGHAI)
        code = f"{secrets.randbelow(10**self._length):0{self._length}d}"
        expires_at = now + self._ttl
        status, value = await self._issue_script(
            keys=[
                self._code_key(phone, purpose),
                self._key(phone, "last"),
                self._key(phone, f"day:{local_day:%Y%m%d}"),
            ],
            args=[
                _us(now),
                self._min_interval // _US,
                self._daily_limit,
                self._hash(phone, purpose, code),
                _us(expires_at),
                int((self._ttl + _GC_MARGIN).total_seconds()),
                int((self._min_interval + _GC_MARGIN).total_seconds()),
                int((timedelta(days=1) + _GC_MARGIN).total_seconds()),
                _us(next_midnight),
            ],
        )
        if status == 2:
            raise CodeDailyLimit(_seconds_ceil(int(value)))
        if status == 1:
            # Capped at the interval: a platform clock moved backwards must not lock the phone for hours.
            raise CodeSendTooSoon(min(_seconds_ceil(int(value)), _seconds_ceil(self._min_interval // _US)))
        return IssuedCode(code=code, expires_at=expires_at, issued_at=now)

    async def withdraw(self, phone: str, purpose: str, issued: IssuedCode) -> bool:
        """Undo an issue whose SMS was never sent (the transaction that would have sent it failed, ADR
        0088): the code no longer verifies, and the send counts neither for the one-a-minute nor for the
        ten-a-day limit, so the person's retry is not refused for our failure. False when a newer code
        replaced it (then nothing is touched)."""
        if issued.issued_at is None:
            return False
        phone, purpose = self._normalise(phone, purpose)
        local_day = issued.issued_at.astimezone(SHANGHAI).date()
        done = await self._withdraw_script(
            keys=[
                self._code_key(phone, purpose),
                self._key(phone, "last"),
                self._key(phone, f"day:{local_day:%Y%m%d}"),
            ],
            args=[self._hash(phone, purpose, issued.code), _us(issued.issued_at)],
        )
        return bool(done)

    async def verify(self, phone: str, purpose: str, code: str) -> None:
        """Returns when `code` is right (and consumes it); raises a `VerificationError` otherwise."""
        phone, purpose = self._normalise(phone, purpose)
        now = await self._clock.now()
        status, value = await self._verify_script(
            keys=[self._code_key(phone, purpose)],
            args=[_us(now), self._hash(phone, purpose, code.strip()), self._max_wrong],
        )
        if status == 0:
            return
        if status == 1:
            raise CodeMismatch(tries_left=int(value))
        if status == 2:
            raise CodeExpired()
        if status == 3:
            raise CodeNotIssued()
        raise CodeTriesExhausted()

    def _hash(self, phone: str, purpose: str, code: str) -> str:
        return hmac.new(self._pepper, f"{phone}|{purpose}|{code}".encode(), hashlib.sha256).hexdigest()

    def _key(self, phone: str, suffix: str) -> str:
        # The {phone} hash tag keeps one phone's keys in one cluster slot, as multi-key scripts need.
        return f"{self._prefix}:{{{phone}}}:{suffix}"

    def _code_key(self, phone: str, purpose: str) -> str:
        return self._key(phone, f"code:{purpose}")

    @staticmethod
    def _normalise(phone: str, purpose: str) -> tuple[str, str]:
        # One canonical phone, so "+86 138..." and "138..." share their limits and their code.
        if not _PURPOSE.fullmatch(purpose):
            raise ValueError("purpose must be 1-64 of a-z 0-9 . _ -, starting with a letter or digit")
        return mobile_phone(phone), purpose
