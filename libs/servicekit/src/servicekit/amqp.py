"""Connections to the broker, one node or a cluster (ADR 0098).

`broker.url` names one node, or every node of a cluster separated by commas (one secret either way). A
connection to a cluster goes to the first node that answers; when that node is lost, each reconnection
attempt goes to the next address in turn, so the platform keeps publishing and consuming through the
loss of any one node. Quorum queues keep their messages on every node and elect a new leader.
"""

from __future__ import annotations

from typing import Any

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from yarl import URL

from servicekit.settings import BrokerSettings


def broker_addresses(url: str) -> list[str]:
    """The node URLs of a `broker.url` setting (one, or several separated by commas)."""
    addresses = [part.strip() for part in url.split(",") if part.strip()]
    if not addresses:
        raise ValueError("broker.url names no broker")
    return addresses


class FailoverConnection(aio_pika.RobustConnection):
    """A robust connection that moves to the next node's address at every (re)connection attempt.

    aio-pika reconnects to the one URL it was given. Every attempt begins by clearing `transport`
    (aio-pika 10's robust connection, before `Connection.connect` reads `url`), so `url` follows a cursor
    that the clearing advances. The cluster test (`test_messaging_cluster.py`) fails if that ever changes.
    """

    def __init__(self, urls: list[str], first: int = 0, **kwargs: Any) -> None:
        self._addresses = [URL(url) for url in urls]
        # Two steps back: the constructor's own clearing of `transport` and the first attempt's bring the
        # cursor to `first`.
        self._cursor = first - 2
        super().__init__(self._addresses[first], **kwargs)

    @property
    def url(self) -> URL:
        return self._addresses[self._cursor % len(self._addresses)]

    @url.setter
    def url(self, value: URL) -> None:
        # The constructor sets one of the addresses (nothing to do); `update_secret` a new password, for all.
        if value not in self._addresses:
            self._addresses = [address.with_password(value.password) for address in self._addresses]

    @property
    def transport(self) -> Any:
        return self.__dict__.get("_transport")

    @transport.setter
    def transport(self, value: Any) -> None:
        if value is None:
            self._cursor += 1
        self.__dict__["_transport"] = value


async def connect_broker(broker: BrokerSettings) -> AbstractRobustConnection:
    """A robust connection to the broker: to its one node, or to the first node of the cluster that
    answers (raising the last failure when none does)."""
    addresses = broker_addresses(broker.url.get_secret_value())
    options: dict[str, Any] = {"timeout": 10, "reconnect_interval": broker.reconnect_interval_s}
    if len(addresses) == 1:
        single: AbstractRobustConnection = await aio_pika.connect_robust(addresses[0], **options)
        return single
    failure: BaseException | None = None
    for first in range(len(addresses)):
        connection = FailoverConnection(addresses, first, reconnect_interval=broker.reconnect_interval_s)
        try:
            await connection.connect(timeout=options["timeout"])
        except Exception as exc:  # this node is away: the next one
            failure = exc
            continue
        return connection
    assert failure is not None
    raise failure
