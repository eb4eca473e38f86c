"""The hot path's auto-pipelining Redis connection: replies parsed in order, across split reads; commands
and times as the scripts get and give them."""

from __future__ import annotations

from datetime import UTC, datetime

from redis.asyncio import Redis

from plate_pool_service.hot import HotPool, from_us, to_us
from servicekit.clock import SHANGHAI, SystemClock
from servicekit.resp import _NOTHING, RespError, _encode, _Parser


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


def test_pp12_a_script_call_is_the_evalsha_of_the_selections_keys_and_args() -> None:
    hot = HotPool(Redis(), SystemClock(), "pp")
    for cluster in (False, True):
        hot.cluster = cluster
        for sid, seg in (("s1", "g1"), ("s2", "g1"), ("s1", "g2")):  # the segment's part is reused
            args = ["", "owner", sid, seg, "7", "1,2,3", 20_000_000]
            count, encoded = hot.evalsha("ab" * 20, sid, seg, args)
            keys = hot.keys_of(sid, seg)
            assert b"*%d\r\n" % count + encoded == _encode(("EVALSHA", "ab" * 20, len(keys), *keys, *args))
        hot._heads.clear()


def test_pp12_script_times_in_microseconds_come_back_exactly_in_shanghai_time() -> None:
    for moment in (
        datetime(2026, 12, 2, 20, 0, 0, 123456, tzinfo=SHANGHAI),
        datetime(1988, 7, 1, 12, 0, 0, 999999, tzinfo=SHANGHAI),  # Shanghai kept summer time then
        datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
    ):
        back = from_us(str(to_us(moment)).encode())
        assert back == moment
        assert back.tzinfo is SHANGHAI
        assert back.utcoffset() == moment.astimezone(SHANGHAI).utcoffset()
