"""The worker process: `python -m plate_pool_service.worker` (outbox relay, consumers, sweeps)."""

from plate_pool_service.service import SPEC
from servicekit.worker import main

if __name__ == "__main__":
    main(SPEC)
