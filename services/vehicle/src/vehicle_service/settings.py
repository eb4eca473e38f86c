from typing import ClassVar

from servicekit.settings import ServiceSettings, settings_config


class VehicleSettings(ServiceSettings):
    service_name: ClassVar[str] = "vehicle"
    model_config = settings_config("vehicle")

    http_port: int = 8020
