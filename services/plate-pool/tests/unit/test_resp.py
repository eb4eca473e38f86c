"""The hot path's auto-pipelining Redis connection: replies parsed in order, across split reads."""

from __future__ import annotations

from plate_pool_service.resp import _NOTHING, RespError, _encode, _Parser


def test_pp12_replies_are_parsed_whole_and_in_order_across_split_reads() -> None:
    wire = b"*3\r\n$1\r\n0\r\n:7\r\n$-1\r\n+OK\r\n-NOSCRIPT No matching script\r\n*0\r\n"
    parser = _Parser()
    values = []
    for i in range(len(wire)):  # one byte at a time: every prefix is incomplete until it is not
        parser.feed(wire[i : i + 1])
        while (value := parser.next()) is not _NOTHING:
            values.append(value)
    assert values[0] == [b"0", 7, None]
    assert values[1] == "OK"
    assert isinstance(values[2], RespError)
    assert str(values[2]).startswith("NOSCRIPT")
    assert values[3] == []


def test_pp12_commands_are_encoded_as_resp_arrays() -> None:
    assert _encode(("EVALSHA", "ab", 1, "冀A")) == (
        b"*4\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n1\r\n$4\r\n" + "冀A".encode() + b"\r\n"
    )
