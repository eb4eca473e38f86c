"""The worker process: `python -m plate_pool_service.worker` (outbox relay, consumers, sweeps)."""

from servicekit.worker import main

from plate_pool_service.service import SPEC

if __name__ == "__main__":
    main(SPEC)
