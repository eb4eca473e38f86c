from typing import ClassVar

from servicekit.settings import ServiceSettings, settings_config


class LicenseSettings(ServiceSettings):
    service_name: ClassVar[str] = "license"
    model_config = settings_config("license")

    http_port: int = 8030
    # DL-05: how long a licence photo approved by identity's review post (ID-15) stays current. The seed
    # says a photo expires (超过有效期) without saying when; practice takes a photo as recent (近期) for six
    # months, as a photo receipt (照片回执) is. Counted from the approval, the day the photo was stored.
    photo_valid_months: int = 6
    # Bulk import (DL-01): the largest CSV body accepted (the gateway's own cap, `client_max_body_size` 8m:
    # some 50,000 lines; a larger office sends several files, or uses the importer's command line), and how
    # many lines one worker transaction takes.
    import_max_bytes: int = 8 * 1024 * 1024
    import_batch: int = 200
