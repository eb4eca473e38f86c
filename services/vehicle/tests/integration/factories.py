"""Values unique to each test: VINs, plates, identity numbers and phones never repeat between tests."""

from __future__ import annotations

import secrets

from servicekit.validators import PROVINCES, vin_check_digit

_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_PLATE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def new_vin() -> str:
    body = "L" + "".join(secrets.choice(_VIN_CHARS) for _ in range(16))
    return body[:8] + vin_check_digit(body[:8] + "0" + body[9:]) + body[9:]


def new_plate(prefix: str | None = None) -> str:
    """A random mainland plate; the province and authority letter vary too, so that the test database,
    which keeps every run's vehicles (and the demo's 冀A ones), practically never repeats one."""
    if prefix is None:
        prefix = secrets.choice(PROVINCES) + secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ")
    return prefix + "".join(secrets.choice(_PLATE_CHARS) for _ in range(5))


def new_owner_id(region: str = "130102") -> str:
    year = 1960 + secrets.randbelow(40)
    month = 1 + secrets.randbelow(12)
    day = 1 + secrets.randbelow(28)
    body = f"{region}{year:04d}{month:02d}{day:02d}{secrets.randbelow(1000):03d}"
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, _RIC_WEIGHTS, strict=True)) % 11]
    return body + check


def new_phone() -> str:
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


def new_uscc() -> str:
    from stdnum.cn import uscc

    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "91130100" + "".join(secrets.choice(alphabet) for _ in range(9))
    return body + str(uscc.calc_check_digit(body))
