import hashlib
import hmac
from typing import ClassVar

from pydantic import Field, SecretStr

from servicekit.settings import Environment, ServiceSettings, settings_config
from violation_service.banks import BankSettings

SIMULATOR = "sim"


class ViolationSettings(ServiceSettings):
    service_name: ClassVar[str] = "violation"
    model_config = settings_config("violation")

    http_port: int = 8050
    # VI-04: the banks that take fines online or at their counters, by code
    # (`TMS_VIOLATION__BANKS='{"icbc": {"name": "…", "scheme": "rsa-sha256", "key": "<PEM>"}}'`).
    banks: dict[str, BankSettings] = Field(default_factory=dict)
    # dev and test: the simulator's checkout (an order's `pay_url`, served through the gateway's
    # /api/v1/_test/*) and where the simulator posts its notices, as a bank reaches the platform: the edge.
    simulator_checkout_url: str = "http://localhost:8000/api/v1/_test/bank-checkout"
    simulator_notice_url: str = "http://127.0.0.1:8000/api/v1/payments/bank-notices/sim"

    def simulator_key(self) -> bytes:
        """The local simulator's merchant key (dev and test): derived from the secret key, never stored."""
        return hmac.new(
            self.secret_key.get_secret_value().encode(), b"bank-simulator", hashlib.sha256
        ).digest()

    def bank_settings(self) -> dict[str, BankSettings]:
        """The configured banks; outside prod the local simulator too (ADR 0060). A simulator in prod is
        refused: it would accept notices anyone with the dev key can sign."""
        configured = dict(self.banks)
        if self.env is Environment.prod:
            if any(b.simulator for b in configured.values()):
                raise ValueError("the bank simulator is for dev and test only")
            return configured
        configured.setdefault(
            SIMULATOR,
            BankSettings(
                name="本地模拟银行",
                key=SecretStr(self.simulator_key().hex()),
                checkout_url=self.simulator_checkout_url,
                simulator=True,
            ),
        )
        return configured
