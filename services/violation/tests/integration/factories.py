"""Values unique to each test: plates, identity numbers and phones never repeat between tests."""

from __future__ import annotations

import secrets

from servicekit.validators import PROVINCES

_PLATE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def new_plate() -> str:
    prefix = secrets.choice(PROVINCES) + secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ")
    return prefix + "".join(secrets.choice(_PLATE_CHARS) for _ in range(5))


def new_id_number(region: str = "130102") -> str:
    year, month, day = 1960 + secrets.randbelow(40), 1 + secrets.randbelow(12), 1 + secrets.randbelow(28)
    body = f"{region}{year:04d}{month:02d}{day:02d}{secrets.randbelow(1000):03d}"
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, _RIC_WEIGHTS, strict=True)) % 11]
    return body + check


def new_phone() -> str:
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))
