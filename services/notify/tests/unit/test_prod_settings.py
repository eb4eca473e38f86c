"""Prod notify refuses the receipt token the repository carries (ADR 0030's callback secret)."""

from __future__ import annotations

from typing import Any

import pytest

from notify_service.settings import NotifySettings
from servicekit.crypto import KeyRing
from servicekit.testing import PROD_KEYS, PROD_TRANSIT


def _prod(**more: Any) -> dict[str, Any]:
    return {
        "TMS_ENV": "prod",
        "secret_key": "a-real-secret",
        "auth": {"claim_keys": KeyRing.generate().spec()},
    } | (PROD_KEYS | PROD_TRANSIT | more)


def test_prod_refuses_the_default_receipt_token() -> None:
    # Anyone who read the repository could otherwise mark any SMS delivered or failed.
    with pytest.raises(ValueError, match="receipt_token: a dev-only value"):
        NotifySettings.model_validate(_prod())
    chosen = NotifySettings.model_validate(_prod(receipt_token="k3J9x-receipt-from-the-store"))
    assert chosen.receipt_token.get_secret_value() == "k3J9x-receipt-from-the-store"
