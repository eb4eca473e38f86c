"""The worker process: `python -m license_service.worker` (outbox relay, consumers, sweeps)."""

from servicekit.worker import main

from license_service.service import SPEC

if __name__ == "__main__":
    main(SPEC)
