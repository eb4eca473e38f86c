"""ADR 0097: on a Redis Cluster every script runs in one slot, its segment's; a key a script touches that
is outside the segment's hash tag fails there with CROSSSLOT, and here first."""

from __future__ import annotations

import re
from importlib import resources

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from plate_pool_service.hot import HotPool, hot_redis
from plate_pool_service.settings import PlatePoolSettings
from servicekit.clock import OFFSET_KEY, RedisOffsetClock, SystemClock

SEGMENTS = ["seg-0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "demo-冀A-3", "s"]
SELECTION = "0190a1b2-c3d4-7e5f-8a9b-ffffffffffff"


def _scripts() -> dict[str, str]:
    folder = resources.files("plate_pool_service") / "lua"
    return {f.name: f.read_text(encoding="utf-8") for f in folder.iterdir() if f.name.endswith(".lua")}


def _cluster_pool() -> HotPool:
    # Never connects: the client is only asked for its scripts' digests and the pool for its keys.
    return HotPool(RedisCluster(host="127.0.0.1", port=1), SystemClock(), "pp")


@pytest.mark.parametrize("segment", SEGMENTS)
def test_pp12_every_scripts_keys_hash_to_the_segments_one_slot(segment: str) -> None:
    hot = _cluster_pool()
    assert hot.cluster
    keys = hot.keys_of(SELECTION, segment)
    assert {key_slot(k.encode()) for k in keys} == {key_slot(segment.encode())}
    # what the sweeps and the reads use beside the scripts lives there too
    parts = ("bits", "n", "holds", "hexp", "alloc", "q", "qseen", "qseq", "log")
    assert {key_slot(hot.seg_key(segment, p).encode()) for p in parts} == {key_slot(segment.encode())}
    assert key_slot(hot.log_key(segment).encode()) == key_slot(hot.sel_key(SELECTION, segment).encode())


def test_pp12_the_scripts_touch_only_the_keys_they_are_given() -> None:
    """A script reaching past KEYS (a literal key name) or past the keys hot.py passes would leave the
    slot: every KEYS[n] a script names is one `keys_of` gives, and no command names a key of its own."""
    given = len(_cluster_pool().keys_of(SELECTION, SEGMENTS[0]))
    scripts = _scripts()
    assert {"draw.lua", "verify.lua", "prelude.lua"} <= scripts.keys()
    for name, text in scripts.items():
        used = {int(n) for n in re.findall(r"KEYS\[(\d+)\]", text)}
        assert used <= set(range(1, given + 1)), name
        assert not re.search(r"redis\.call\(\s*'[A-Za-z]+'\s*,\s*['\"]", text), name
        assert "redis.call('KEYS'" not in text, name
        assert "'SCAN'" not in text, name


def test_pp12_on_one_redis_the_scripts_read_the_clock_offset_on_a_cluster_the_caller_sends_the_time() -> None:
    single = HotPool(Redis(), RedisOffsetClock(Redis()), "pp")
    assert OFFSET_KEY in single.keys_of(SELECTION, SEGMENTS[0])
    assert single._script_reads_clock
    cluster = HotPool(RedisCluster(host="127.0.0.1", port=1), RedisOffsetClock(Redis()), "pp")
    assert OFFSET_KEY not in cluster.keys_of(SELECTION, SEGMENTS[0])
    assert not cluster._script_reads_clock


def test_pp12_the_hot_store_is_a_cluster_or_one_redis_by_its_url() -> None:
    cluster = hot_redis("redis+cluster://tms:s3cret@10.0.0.1:7000,10.0.0.2:7001")
    assert isinstance(cluster, RedisCluster)
    assert [(n.host, n.port) for n in cluster.nodes_manager.startup_nodes.values()] == [
        ("10.0.0.1", 7000),
        ("10.0.0.2", 7001),
    ]
    assert HotPool(cluster, SystemClock()).cluster
    single = hot_redis("redis://127.0.0.1:6379/3")
    assert isinstance(single, Redis)
    assert not HotPool(single, SystemClock()).cluster


def test_pp12_a_tls_cluster_verifies_its_certificate_and_prod_refuses_a_plain_hot_store() -> None:
    tls = hot_redis("rediss+cluster://10.0.0.1:7000?ssl_ca_certs=/etc/tms/ca.pem")
    assert isinstance(tls, RedisCluster)
    kwargs = tls.nodes_manager.connection_kwargs
    assert kwargs["ssl_cert_reqs"] == "required"
    assert kwargs["ssl_ca_certs"] == "/etc/tms/ca.pem"
    assert kwargs.get("ssl_check_hostname", True)
    prod = {
        "env": "prod",
        "secret_key": "k" * 32,
        "database": {
            "url": "postgresql+psycopg://u:p@db:5432/plate_pool?sslmode=verify-full&sslrootcert=/ca"
        },
        "broker": {"url": "amqps://u:p@mq:5671/"},
        "redis": {"url": "rediss://r:6380/0"},
    }
    with pytest.raises(ValueError, match="hot_redis_url must be rediss"):
        PlatePoolSettings(**prod, hot_redis_url="redis+cluster://10.0.0.1:7000")  # type: ignore[arg-type]
