"""The worker process: `python -m violation_service.worker` (outbox relay, consumers, sweeps)."""

from servicekit.worker import main
from violation_service.service import SPEC

if __name__ == "__main__":
    main(SPEC)
