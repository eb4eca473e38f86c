from typing import ClassVar

from servicekit.settings import ServiceSettings, settings_config


class IdentitySettings(ServiceSettings):
    service_name: ClassVar[str] = "identity"
    model_config = settings_config("identity")

    http_port: int = 8010
