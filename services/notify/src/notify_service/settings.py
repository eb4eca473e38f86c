from typing import ClassVar

from servicekit.settings import ServiceSettings, settings_config


class NotifySettings(ServiceSettings):
    service_name: ClassVar[str] = "notify"
    model_config = settings_config("notify")

    http_port: int = 8060
    # The SMS adapter (see sms.provider_for). Only the dev/test local sink exists so far.
    sms_provider: str = "local-sink"
