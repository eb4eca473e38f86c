"""The worker process: `python -m license_service.worker` (outbox relay, consumers, sweeps)."""

from license_service.service import SPEC
from servicekit.worker import main

if __name__ == "__main__":
    main(SPEC)
