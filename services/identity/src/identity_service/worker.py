"""The worker process: `python -m identity_service.worker` (outbox relay, consumers, sweeps)."""

from identity_service.service import SPEC
from servicekit.worker import main

if __name__ == "__main__":
    main(SPEC)
