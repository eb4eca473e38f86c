"""The worker process: `python -m notify_service.worker` (outbox relay, consumers, sweeps)."""

from notify_service.service import SPEC
from servicekit.worker import main

if __name__ == "__main__":
    main(SPEC)
