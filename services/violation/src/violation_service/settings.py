from typing import ClassVar

from servicekit.settings import ServiceSettings, settings_config


class ViolationSettings(ServiceSettings):
    service_name: ClassVar[str] = "violation"
    model_config = settings_config("violation")

    http_port: int = 8050
