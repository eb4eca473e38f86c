"""The worker process: `python -m identity_service.worker` (outbox relay, consumers, sweeps)."""

from servicekit.worker import main

from identity_service.service import SPEC

if __name__ == "__main__":
    main(SPEC)
