from typing import ClassVar

from servicekit.settings import ServiceSettings, settings_config


class LicenseSettings(ServiceSettings):
    service_name: ClassVar[str] = "license"
    model_config = settings_config("license")

    http_port: int = 8030
