from typing import ClassVar

from pydantic import BaseModel, SecretStr

from servicekit.settings import ServiceSettings, settings_config


class AliyunSmsSettings(BaseModel):
    """Alibaba Cloud SMS (dysmsapi, SendSms). `template_codes` maps each of notify's template keys to the
    code the provider approved for it (the text in templates.py is what was filed)."""

    endpoint: str = "https://dysmsapi.aliyuncs.com/"
    access_key_id: str = ""
    access_key_secret: SecretStr = SecretStr("")
    sign_name: str = "交管12123"
    region_id: str = "cn-hangzhou"
    template_codes: dict[str, str] = {}
    timeout_s: float = 10.0


class NotifySettings(ServiceSettings):
    service_name: ClassVar[str] = "notify"
    model_config = settings_config("notify")

    http_port: int = 8060
    # The SMS adapter (see sms.provider_for): "local-sink" (dev and test) or "aliyun".
    sms_provider: str = "local-sink"
    aliyun: AliyunSmsSettings = AliyunSmsSettings()
    # The provider's receipt callback is authenticated by this secret in its URL (ADR 0030).
    receipt_token: SecretStr = SecretStr("dev-only-receipt-token")
    # Dispatch: transient failures are retried with backoff (platform clock), then dead-lettered.
    dispatch_batch: int = 100
    dispatch_concurrency: int = 20
    dispatch_lease_s: int = 120  # a claimed row is due again after this if its sender died mid-send
    retry_base_s: int = 5
    retry_max_s: int = 600
    max_attempts: int = 15  # about 1.5 hours of retries before a message is dead-lettered
