from typing import Any, ClassVar

from pydantic import SecretStr

from servicekit.settings import Environment, ServiceSettings, settings_config


class IdentitySettings(ServiceSettings):
    service_name: ClassVar[str] = "identity"
    model_config = settings_config("identity")

    http_port: int = 8010
    # ADR 0010: Ed25519 private key (PKCS#8 PEM) from the secrets; required in prod. Without it (dev, test)
    # a key is generated once and kept in identity's own database.
    signing_key_pem: SecretStr | None = None
    access_ttl_s: int = 900
    refresh_ttl_days: int = 30
    # Sign-in lockout: this many failures in a row lock the account for lockout_minutes.
    max_failed_logins: int = 5
    lockout_minutes: int = 15
    # Staff sign-in (ADR 0091, 0092): the challenge joining its steps lives this long; a staff password
    # expires after staff_password_max_age_days; a staff session unused for staff_idle_minutes ends
    # (its refresh token dies). The issuer is what authenticator apps show above the code.
    staff_challenge_ttl_s: int = 300
    staff_password_max_age_days: int = 90
    staff_idle_minutes: int = 30
    totp_issuer: str = "机动车驾驶人管理平台"
    # Per-IP limits on sign-in and SMS-code requests (real time, Redis); the per-account guard of sign-in
    # is the lockout above.
    login_rate_per_ip: str = "30/minute"
    sms_rate_per_ip: str = "20/minute"
    # ADR 0081: the anonymous calls that take an SMS code, per client address and per account (the
    # account's registered phone, which a reactivation names) or per phone and identity number.
    reactivation_rate_per_ip: str = "20/minute"
    reactivation_rate_per_account: str = "10/hour"
    registration_rate_per_ip: str = "20/minute"
    registration_rate_per_phone: str = "10/hour"
    registration_rate_per_id_number: str = "10/hour"
    # ADR 0093 (PIPL art. 47): a cancelled account's data is kept this long, then de-identified by the
    # sweep `identity-deidentify`, this many accounts per run (each in its own transaction).
    deidentify_after_days: int = 180
    deidentify_batch: int = 100

    def model_post_init(self, __context: Any) -> None:
        super().model_post_init(__context)
        if self.env is Environment.prod and self.signing_key_pem is None:
            raise ValueError("signing_key_pem must be set in prod (ADR 0010)")
