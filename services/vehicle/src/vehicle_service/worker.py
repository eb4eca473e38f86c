"""The worker process: `python -m vehicle_service.worker` (outbox relay, consumers, sweeps)."""

from servicekit.worker import main
from vehicle_service.service import SPEC

if __name__ == "__main__":
    main(SPEC)
