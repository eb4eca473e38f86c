"""The worker process: `python -m notify_service.worker` (outbox relay, consumers, sweeps)."""

from servicekit.worker import main

from notify_service.service import SPEC

if __name__ == "__main__":
    main(SPEC)
