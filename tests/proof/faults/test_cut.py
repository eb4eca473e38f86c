"""Part "cut": plate-pool cut off from its database and from the broker for 30 s, while citizens use it.

The service's processes (two api replicas and the worker) run inside a network namespace the test makes
(`ip netns`, a veth pair); they reach the servers through the veth: socat on the host's end forwards
5432 to a private PostgreSQL, 5672 to the broker (the session's vhost) and 6379 to a private Redis. An
nftables rule in the namespace then drops everything it sends to 5432 and 5672 for 30 s (tc netem is not
in this kernel; architecture.md, traps), and is removed.

What must hold: while cut, the service answers 503 problem+json within 20 s, under the edge's 30 s (not
a hang, not a 500); what it produced before and during the cut stays in its outbox and reaches the
broker once the rule is gone, each message once; every success answer is in the database and nothing
happened twice; it comes back by itself. `recovered_s`: from the rule's removal to every replica's
next success answer.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import aio_pika
import psycopg
import pytest
from sqlalchemy.engine import make_url

from servicekit.db import psycopg_dsn
from servicekit.testservers import PrivatePostgres, PrivateRedis
from servicekit.topology import declare_events_exchange
from tests.proof.conftest import Progress, Record

from .platepool import SMS_QUEUE, Load, Platform, check, free_port, prepare_database, stand_in_for_notify

pytestmark = [pytest.mark.proof, pytest.mark.fault, pytest.mark.integration]

CUT_S = 30.0
PEOPLE = 50
EVERY_S = 1.0  # arrivals spread over the cut: some start before, during and after it
CUT_AT_S = 10.0
HANG_S = 20.0  # an answer slower than this while cut counts as a hang (the edge gives up at 30 s)
EVENTS_QUEUE = "proof.plate-pool.events"


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True, timeout=30)


def kernel_can_cut() -> str | None:
    """Why the cut cannot be made here (None when it can): the tools, a namespace, an nftables rule."""
    missing = [tool for tool in ("ip", "nft", "socat") if shutil.which(tool) is None]
    if missing:
        return f"missing {', '.join(missing)} (Debian: apt-get install iproute2 nftables socat)"
    name = f"tmsprobe{secrets.token_hex(2)}"
    try:
        _run("ip", "netns", "add", name)
        _run("ip", "netns", "exec", name, "nft", "add", "table", "inet", "probe")
    except (subprocess.CalledProcessError, OSError) as exc:
        return f"network namespace or nftables refused: {getattr(exc, 'stderr', exc)}"
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    return None


@dataclass
class Cut:
    netns: str
    host_ip: str
    ns_ip: str

    def drop(self) -> None:
        """Everything the namespace sends to PostgreSQL and the broker is dropped (no reset: a silence)."""
        ns = ("ip", "netns", "exec", self.netns, "nft")
        _run(*ns, "add", "table", "inet", "cut")
        _run(*ns, "add", "chain", "inet", "cut", "out", "{ type filter hook output priority 0 ; }")
        _run(*ns, "add", "rule", "inet", "cut", "out", "tcp", "dport", "{ 5432, 5672 }", "drop")

    def heal(self) -> None:
        _run("ip", "netns", "exec", self.netns, "nft", "delete", "table", "inet", "cut")


@pytest.fixture
def namespace() -> Iterator[Cut]:
    why = kernel_can_cut()
    if why is not None:
        pytest.skip(f"the cut needs a network namespace and nftables: {why}")
    tag = secrets.token_hex(2)
    netns, host_if, ns_if = f"tmscut{tag}", f"tc{tag}h", f"tc{tag}n"
    octet = 16 + secrets.randbelow(200)
    cut = Cut(netns, f"10.213.{octet}.1", f"10.213.{octet}.2")
    _run("ip", "netns", "add", netns)
    try:
        _run("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _run("ip", "link", "set", ns_if, "netns", netns)
        _run("ip", "addr", "add", f"{cut.host_ip}/30", "dev", host_if)
        _run("ip", "link", "set", host_if, "up")
        _run("ip", "netns", "exec", netns, "ip", "addr", "add", f"{cut.ns_ip}/30", "dev", ns_if)
        _run("ip", "netns", "exec", netns, "ip", "link", "set", ns_if, "up")
        _run("ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up")
        yield cut
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", netns], capture_output=True, check=False)


@pytest.fixture
def servers(namespace: Cut) -> Iterator[tuple[PrivatePostgres, PrivateRedis, list[subprocess.Popen[bytes]]]]:
    pg = PrivatePostgres(port=free_port())
    redis = PrivateRedis(port=free_port())
    pg.start()
    redis.start()
    broker_port = urlsplit(os.environ["TMS_TEST_AMQP_URL"]).port or 5672
    forwards = [
        subprocess.Popen(
            [
                "socat",
                f"TCP-LISTEN:{listen},bind={namespace.host_ip},fork,reuseaddr",
                f"TCP:127.0.0.1:{target}",
            ]
        )
        for listen, target in ((5432, pg.port), (5672, broker_port), (6379, redis.port))
    ]
    try:
        yield pg, redis, forwards
    finally:
        for forward in forwards:
            forward.terminate()
            forward.wait(timeout=10)
        pg.destroy()
        redis.destroy()


async def _collect(broker_url: str) -> Counter[str]:
    """Message ids in the stand-in queues (SMS commands and plate-pool's events), drained."""
    seen: Counter[str] = Counter()
    connection = await aio_pika.connect(broker_url)
    async with connection:
        channel = await connection.channel()
        for name in (SMS_QUEUE, EVENTS_QUEUE):
            queue = await channel.declare_queue(name, durable=True)
            while (message := await queue.get(fail=False, no_ack=True)) is not None:
                seen[str(message.message_id)] += 1
    return seen


async def _events_sink(broker_url: str) -> None:
    connection = await aio_pika.connect(broker_url)
    async with connection:
        channel = await connection.channel()
        exchange = await declare_events_exchange(channel, "plate-pool")
        queue = await channel.declare_queue(EVENTS_QUEUE, durable=True)
        await queue.bind(exchange, "#")
        await queue.purge()


async def _outbox(database_url: str) -> tuple[set[str], int]:
    async with await psycopg.AsyncConnection.connect(psycopg_dsn(database_url)) as conn:
        rows = await (await conn.execute("SELECT id::text, published_at IS NULL FROM outbox")).fetchall()
    return {r[0] for r in rows}, sum(1 for r in rows if r[1])


@pytest.mark.timeout(600)
async def test_cut_from_database_and_broker(
    namespace: Cut,
    servers: tuple[PrivatePostgres, PrivateRedis, list[subprocess.Popen[bytes]]],
    record_figures: Record,
    progress: Progress,
) -> None:
    pg, redis, _ = servers
    broker_url = os.environ["TMS_TEST_AMQP_URL"]
    await stand_in_for_notify(broker_url)
    await _events_sink(broker_url)
    database_url = prepare_database(pg)
    vhost = broker_url.rsplit("/", 1)[1]
    platform = Platform(
        database_url,
        redis.url(),
        broker_url,
        netns=namespace.netns,
        service_database_url=f"postgresql+psycopg://plate_pool@{namespace.host_ip}:5432/{make_url(database_url).database}",
        service_redis_url=f"redis://{namespace.host_ip}:6379/0",
        service_broker_url=f"amqp://guest:guest@{namespace.host_ip}:5672/{vhost}",
        api_host=namespace.ns_ip,
        jwks_host=namespace.host_ip,
    )
    await platform.open_segment()
    platform.start()
    load = Load(platform, timeout_s=HANG_S)
    try:
        await platform.wait_ready()
        progress(
            f"cut: {PEOPLE} citizens, one every {EVERY_S} s; the cut at {CUT_AT_S:.0f} s for {CUT_S:.0f} s"
        )
        began = time.monotonic()
        running = asyncio.create_task(load.run(PEOPLE, EVERY_S))
        await asyncio.sleep(CUT_AT_S)
        namespace.drop()
        cut_at = time.monotonic()
        progress(f"cut: 5432 and 5672 dropped in {namespace.netns}, {len(load.answers)} answers so far")
        await asyncio.sleep(CUT_S)
        namespace.heal()
        healed_at = time.monotonic()
        progress(f"cut: rule removed, {len(load.answers)} answers so far")
        await running
        progress(f"cut: load done in {time.monotonic() - began:.1f} s; statuses {dict(load.statuses())}")
        verdict = await check(platform, load)
        deadline = time.monotonic() + 60
        while True:  # the relay catches up by itself
            ids, pending = await _outbox(database_url)
            if not pending or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        progress(f"cut: outbox {len(ids)} rows, {pending} still pending")
        delivered = await _collect(broker_url)
    finally:
        await load.aclose()
        platform.stop()

    during = [a for a in load.answers if cut_at <= a.at < healed_at]
    statuses = Counter(a.status for a in during)
    slow = [a for a in during if a.status == 0 or a.seconds > HANG_S]
    not_problem = [a for a in during if a.status >= 500 and not a.problem]
    missing = ids - set(delivered)
    figures = {
        "lost": len(verdict.lost) + len(missing),
        "double_effects": len(verdict.doubled),
        "recovered_s": load.recovered_s(healed_at),
        "requests_while_cut": len(during),
        "answered_503_while_cut": statuses[503],
        "answered_500_while_cut": statuses[500],
        "hung_while_cut": len(slow),
        "slowest_answer_while_cut_s": round(max((a.seconds for a in during), default=0.0), 2),
        "outbox_rows": len(ids),
        "outbox_pending_after": pending,
        "redelivered": sum(n - 1 for n in delivered.values() if n > 1),
        "confirmed": sum(1 for who in load.citizens if who.confirmed),
        "gave_up": sum(1 for who in load.citizens if who.gave_up),
    }
    record_figures("cut", figures)
    progress(f"cut: figures {figures}")
    assert during, "no request was made while cut: the part proves nothing"
    assert statuses[503] > 0, statuses
    assert not slow, [(a.status, round(a.seconds, 1)) for a in slow[:10]]
    assert statuses[500] == 0, statuses
    assert not not_problem, "a 5xx that is not problem+json"
    assert not verdict.lost, verdict.lost
    assert not verdict.doubled, verdict.doubled
    assert pending == 0, f"{pending} outbox rows never published"
    assert not missing, f"{len(missing)} outbox rows never reached the broker"
    assert figures["recovered_s"] < 30
