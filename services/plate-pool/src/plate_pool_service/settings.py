from typing import ClassVar

from servicekit.settings import ServiceSettings, settings_config


class PlatePoolSettings(ServiceSettings):
    service_name: ClassVar[str] = "plate-pool"
    model_config = settings_config("plate-pool")

    http_port: int = 8040
