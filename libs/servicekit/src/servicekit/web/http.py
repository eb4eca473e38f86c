"""uvicorn's httptools protocol with one socket write per event-loop tick: `--http
servicekit.web.http:CoalescingHttpToolsProtocol`.

uvicorn writes a response's status line and headers, then its body, each with its own `transport.write`,
and an idle socket sends each at once: two `send` calls, two segments for the gateway to read, for every
answer. A plate draw's profile (bench/plates.py) spent a tenth of the replica's CPU in those writes.
Here the writes of one tick are joined and leave together when the tick ends (`call_soon`), the way
`servicekit.resp` sends Redis commands: a response's head and body, and the answers to requests pipelined
on one connection, leave in one `send`. Nothing waits longer than the tick it was written in, and
everything else (flow control, closing, the peer's address) is the transport's own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# What every api process passes to uvicorn as `--http` (procfile, e2e stack, benches, image, manifests).
UVICORN_HTTP = "servicekit.web.http:CoalescingHttpToolsProtocol"


class TickWriter:
    """A transport whose writes of one event-loop tick leave in one write of the transport under it."""

    __slots__ = ("_loop", "_out", "_scheduled", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._out: list[bytes] = []
        self._scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._out.append(bytes(data))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if not self._out:
            return
        data = b"".join(self._out) if len(self._out) > 1 else self._out[0]
        self._out.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()  # what was written before the close still leaves, as with the transport itself
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # get_extra_info, is_closing, pause_reading, abort, ...
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(TickWriter(transport, self.loop))  # type: ignore[arg-type]
