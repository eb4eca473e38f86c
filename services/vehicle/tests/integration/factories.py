"""Values unique to each test: VINs, plates, identity numbers and phones never repeat between tests."""

from __future__ import annotations

import secrets

from servicekit.validators import PROVINCES, vin_check_digit

_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_PLATE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


def new_vin() -> str:
    body = "L" + "".join(secrets.choice(_VIN_CHARS) for _ in range(16))
    return body[:8] + vin_check_digit(body[:8] + "0" + body[9:]) + body[9:]


def new_plate(prefix: str | None = None) -> str:
    """A random mainland plate; the province and authority letter vary too, so that the test database,
    which keeps every run's vehicles (and the demo's 冀A ones), practically never repeats one."""
    if prefix is None:
        prefix = secrets.choice(PROVINCES) + secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ")
    return prefix + "".join(secrets.choice(_PLATE_CHARS) for _ in range(5))


def new_uscc() -> str:
    from stdnum.cn import uscc

    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "91130100" + "".join(secrets.choice(alphabet) for _ in range(9))
    return body + str(uscc.calc_check_digit(body))
