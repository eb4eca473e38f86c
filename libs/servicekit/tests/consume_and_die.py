"""Run by test_messaging_faults in a child process: consume, commit the effect, then die by SIGKILL
before the ack, exactly the window the inbox exists for."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from datetime import UTC, datetime

from servicekit.clock import FixedClock
from servicekit.consumer import Consumer
from servicekit.relay import connect_broker
from servicekit.runtime import Runtime

sys.path.insert(0, os.path.dirname(__file__))
from messaging_kit import demo_metadata, demo_settings, demo_subscription


async def main(db_url: str, amqp_url: str, producer: str, consumer_service: str) -> None:
    metadata = demo_metadata()
    settings = demo_settings(db_url, amqp_url)
    runtime = Runtime.open(settings, metadata, clock=FixedClock(datetime(2027, 3, 1, tzinfo=UTC)))
    connection = await connect_broker(settings.broker)
    subscription = demo_subscription(producer, metadata, Counter())

    def die(_envelope: object) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    consumer = Consumer(
        runtime, connection, consumer_service, subscription, settings.broker, on_committed=die
    )
    await consumer.start()
    print("consuming", flush=True)
    await asyncio.sleep(60)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
