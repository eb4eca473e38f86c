"""`python -m identity_service.replay_bindings`: publish a `created` for every live vehicle binding once,
the roll-out step of ADR 0044 (vehicle learns the bindings made before the binding events existed)."""

from __future__ import annotations

import asyncio
import sys

from identity_service.binding_events import replay_live


async def main() -> int:
    from identity_service.service import SPEC
    from servicekit.runtime import Runtime

    runtime = Runtime.open(SPEC.settings(), SPEC.metadata)
    try:
        count = await replay_live(
            runtime, progress=lambda done, total: print(f"replayed {done}/{total} live vehicle bindings")
        )
    finally:
        await runtime.aclose()
    print(f"identity: {count} binding events in the outbox; the relay publishes them")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
