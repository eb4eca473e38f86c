"""servicekit.web.http: uvicorn's protocol writing once per event-loop tick (ADR 0102), against a real
uvicorn server on a private port and raw sockets, and its writer against a recording transport."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from servicekit.web.http import UVICORN_HTTP, CoalescingHttpToolsProtocol, TickWriter


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1234) if name == "peername" else default


async def test_the_writes_of_one_tick_leave_in_one_write_when_the_tick_ends() -> None:
    transport = RecordingTransport()
    writer = TickWriter(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
    writer.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n")
    writer.write(b"{}")
    assert transport.writes == []  # not before the tick ends
    await asyncio.sleep(0)
    assert transport.writes == [b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}"]
    writer.write(b"next")
    await asyncio.sleep(0)
    assert transport.writes[1:] == [b"next"]  # a later tick, a write of its own


async def test_closing_sends_what_was_written_first_and_nothing_goes_to_a_closed_transport() -> None:
    transport = RecordingTransport()
    writer = TickWriter(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
    writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    writer.close()
    assert transport.writes == [b"HTTP/1.1 400 Bad Request\r\n\r\n"]
    assert transport.closed
    writer.write(b"late")
    await asyncio.sleep(0)  # the scheduled flush finds the transport closing: dropped, as the transport would
    assert transport.writes == [b"HTTP/1.1 400 Bad Request\r\n\r\n"]
    assert writer.get_extra_info("peername") == ("127.0.0.1", 1234)  # the rest is the transport's


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/stream":  # a chunk must reach the client while the app still waits
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await scope["app_state"]["release"].wait()
        await send({"type": "http.response.body", "body": b"last"})
        return
    answer = b"echo:" + body
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, dict[str, Any]]]:
    state: dict[str, Any] = {"release": asyncio.Event()}

    async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app_state"] = state
        await app(scope, receive, send)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        with_state, host="127.0.0.1", port=port, http=UVICORN_HTTP, log_level="warning", lifespan="off"
    )
    assert config.http == UVICORN_HTTP
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve())
    while not srv.started:  # noqa: ASYNC110 - uvicorn's Server offers a flag, not an event
        await asyncio.sleep(0.01)
    state["server"] = srv
    try:
        yield port, state
    finally:
        srv.should_exit = True
        await task


async def _read_until(reader: asyncio.StreamReader, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = await asyncio.wait_for(reader.read(65536), timeout=5)
        assert chunk, f"connection closed before {marker!r}; got {data!r}"
        data += chunk
    return data


async def test_pipelined_requests_on_one_connection_each_get_their_own_whole_answer(
    server: tuple[int, dict[str, Any]],
) -> None:
    port, state = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = b"POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\none"
    writer.write(request + request.replace(b"one", b"two"))
    data = await _read_until(reader, b"echo:two")
    assert data.count(b"HTTP/1.1 201 Created") == 2
    assert data.index(b"echo:one") < data.index(b"echo:two")
    connections = state["server"].server_state.connections
    assert connections
    assert all(isinstance(c, CoalescingHttpToolsProtocol) for c in connections)
    writer.close()


async def test_a_streamed_answer_is_not_held_until_it_ends(server: tuple[int, dict[str, Any]]) -> None:
    port, state = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
    head = await _read_until(reader, b"first")  # the app is still waiting on `release`
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"last" not in head
    state["release"].set()
    assert b"last" in await _read_until(reader, b"0\r\n\r\n")
    writer.close()


async def test_expect_100_continue_is_answered_before_the_body_is_sent(
    server: tuple[int, dict[str, Any]],
) -> None:
    port, _ = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\nexpect: 100-continue\r\n\r\n")
    assert (await _read_until(reader, b"\r\n\r\n")).startswith(b"HTTP/1.1 100 Continue")
    writer.write(b"body")
    assert b"echo:body" in await _read_until(reader, b"echo:body")
    writer.close()


async def test_a_malformed_request_gets_its_400_before_the_connection_closes(
    server: tuple[int, dict[str, Any]],
) -> None:
    port, _ = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), timeout=5)  # to the close
    assert answer.startswith(b"HTTP/1.1 400 Bad Request")
    with contextlib.suppress(ConnectionError):
        writer.close()
