"""Values unique to each test: plates, identity numbers and phones never repeat between tests."""

from __future__ import annotations

import secrets

from servicekit.validators import PROVINCES

_PLATE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


def new_plate() -> str:
    prefix = secrets.choice(PROVINCES) + secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ")
    return prefix + "".join(secrets.choice(_PLATE_CHARS) for _ in range(5))
