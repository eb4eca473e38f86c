"""Proof "kills": identity's two api replicas, its worker (the outbox relay) and notify's two worker replicas
(the consumers) run as separate processes, as deployed, while a load of SMS-code requests
(`POST /api/v1/auth/sms-codes`, each to a new phone) goes to both replicas; every few seconds one of the
processes is SIGKILLed and started again. Every request answered 202 ends as exactly one SMS in notify, and
every command identity's outbox holds is consumed once. ADR 0087 describes the method."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from identity_service.commands import SendSms
from identity_service.service import SPEC as IDENTITY
from notify_service.service import SPEC as NOTIFY
from notify_service.tables import sms_messages
from servicekit.crypto import blind_in
from servicekit.migrate import migrate
from servicekit.runtime import Runtime

from .event_ledger import phone_for, progress
from .platform_processes import Process, quiet_env

pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.proof]

LOAD_S = 100.0
LOAD_LIMIT_S = 240.0
CLIENTS = 6
KILL_EVERY_S = 7.0
# Who dies, in turn: never both api replicas at once (the next kill waits for the last one to be back).
KILL_ORDER = ("identity-api-a", "notify-worker-1", "identity-worker", "identity-api-b", "notify-worker-2")
RECOVERY_LIMIT_S = 240.0


@dataclass
class Platform:
    processes: dict[str, Process]

    @property
    def apis(self) -> list[Process]:
        return [p for p in self.processes.values() if p.serves_http]


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    for name in ("identity", "notify"):
        migrate(name)
    # The per-IP limit on SMS codes guards against a flood from one address; this load is one address.
    env = quiet_env("identity", "notify", TMS_IDENTITY__SMS_RATE_PER_IP="1000000/minute")
    processes = [
        Process.api("identity-api-a", "identity_service.main:create_app", env),
        Process.api("identity-api-b", "identity_service.main:create_app", env),
        Process.worker("identity-worker", "identity", env),
        Process.worker("notify-worker-1", "notify", env),
        Process.worker("notify-worker-2", "notify", env),
    ]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready()
        yield Platform({p.name: p for p in processes})
    finally:
        for process in processes:
            process.stop()


@dataclass
class Load:
    run: str
    numbers: Iterator[int] = field(default_factory=itertools.count)
    attempted: list[str] = field(default_factory=list)
    succeeded: list[str] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)

    async def client(self, apis: list[Process], stop: asyncio.Event, offset: int) -> None:
        async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
            for turn in itertools.count(offset):
                if stop.is_set():
                    return
                n = next(self.numbers)
                if n >= 10_000:  # the run's phone numbers
                    return
                phone = phone_for(self.run, n)
                self.attempted.append(phone)
                api = apis[turn % len(apis)]
                try:
                    r = await http.post(
                        f"{api.url}/api/v1/auth/sms-codes", json={"phone": phone, "purpose": "register"}
                    )
                except httpx.HTTPError as exc:  # the replica died under the request, or is starting
                    self.answers[type(exc).__name__] += 1
                    continue  # the next turn goes to the other replica
                self.answers[str(r.status_code)] += 1
                if r.status_code == 202:
                    self.succeeded.append(phone)


async def _sms_per_phone(notify: Runtime, phones: list[str]) -> dict[str, int]:
    async with notify.engine.connect() as conn:
        # sealed (ADR 0095): found by the blind index, counted here
        rows = await conn.execute(select(sms_messages.c.phone).where(blind_in(sms_messages.c.phone, phones)))
        return dict(Counter(phone for (phone,) in rows))


async def _commands(identity: Runtime, notify: Runtime, phones: list[str]) -> tuple[int, int, int]:
    """(commands in identity's outbox for these phones, still unsent, consumed by notify's send-sms)."""
    outbox = identity.metadata.tables["outbox"]
    inbox = notify.metadata.tables["inbox"]
    async with identity.engine.connect() as conn:
        rows = [
            row
            for row in await conn.execute(
                select(outbox.c.id, outbox.c.published_at, outbox.c.payload).where(
                    outbox.c.routing_key == SendSms.message_type
                )
            )
            if row.payload["phone"] in phones  # sealed (ADR 0095): compared here, not in SQL
        ]
    ids = [row.id for row in rows]
    async with notify.engine.connect() as conn:
        consumed = await conn.scalar(
            select(func.count())
            .select_from(inbox)
            .where(inbox.c.handler == "send-sms", inbox.c.message_id.in_(ids))
        )
    return len(ids), sum(1 for row in rows if row.published_at is None), int(consumed or 0)


@pytest.mark.timeout(900)
async def test_killed_apis_and_workers_lose_no_answered_request_and_apply_nothing_twice(
    platform: Platform,
    request: pytest.FixtureRequest,
    record_figures: Callable[[str, dict[str, Any]], object],
) -> None:
    identity = Runtime.open(IDENTITY.settings(), IDENTITY.metadata)
    notify = Runtime.open(NOTIFY.settings(), NOTIFY.metadata)
    load = Load(run=f"{time.time_ns() % 10_000:04d}")
    try:
        with progress(request.config) as say:
            say(f"kills proof: {CLIENTS} clients on 2 identity replicas, {LOAD_S:.0f} s, SIGKILLs")
            stop = asyncio.Event()
            clients = [asyncio.create_task(load.client(platform.apis, stop, k)) for k in range(CLIENTS)]
            started = time.monotonic()
            starting: dict[str, asyncio.Task[None]] = {}

            async def restart(process: Process) -> None:
                process.start()
                await asyncio.to_thread(process.wait_ready)
                restart_s[process.name] = time.monotonic() - killed_at[process.name]
                say(f"{process.name} back after {restart_s[process.name]:.0f} s")

            killed_at: dict[str, float] = {}
            restart_s: dict[str, float] = {}
            for name in itertools.cycle(KILL_ORDER):
                await asyncio.sleep(KILL_EVERY_S)
                loaded_s = time.monotonic() - started
                # LOAD_S at least, and on until every process was killed once (an api restarts slowly
                # under load, and the other replica is spared meanwhile), within LOAD_LIMIT_S.
                everyone = all(p.kills for p in platform.processes.values())
                if loaded_s > LOAD_LIMIT_S or (loaded_s > LOAD_S and everyone):
                    break
                down = {n for n, task in starting.items() if not task.done()}
                apis_down = any(p.name in down for p in platform.apis)
                if name in down or (platform.processes[name].serves_http and apis_down):
                    continue  # still starting, or the other replica is: the load always has one replica
                process = platform.processes[name]
                await asyncio.to_thread(process.kill)
                killed_at[name] = time.monotonic()
                say(
                    f"SIGKILL {name}; {len(load.succeeded)} answered 202 so far, answers {dict(load.answers)}"
                )
                starting[name] = asyncio.create_task(restart(process))
            stop.set()
            await asyncio.gather(*clients)
            say(f"load over: {len(load.attempted)} requests, answers {dict(load.answers)}")

            async def state() -> tuple[dict[str, int], int, int, int, int]:
                per_phone = await _sms_per_phone(notify, load.attempted)
                produced, unsent, consumed = await _commands(identity, notify, load.attempted)
                missing = sum(1 for phone in load.succeeded if per_phone.get(phone, 0) == 0)
                return per_phone, produced, unsent, consumed, missing

            last_kill = max(killed_at.values())
            while True:  # the processes killed last may still be starting: the others carry on
                per_phone, produced, unsent, consumed, missing = await state()
                elapsed = time.monotonic() - last_kill
                if (missing == 0 and unsent == 0 and consumed == produced) or elapsed > RECOVERY_LIMIT_S:
                    break
                pending = produced - consumed
                say(
                    f"+{elapsed:.0f} s: {missing} answered without SMS, {unsent} unsent, {pending} unconsumed"
                )
                await asyncio.sleep(2)
            recovered_s = round(time.monotonic() - last_kill, 1)
            await asyncio.gather(*starting.values())
            await asyncio.sleep(3)  # the last ones back have taken their redeliveries: counted again
            per_phone, produced, unsent, consumed, missing = await state()
            figures = {
                "requests": len(load.attempted),
                "answered_202": len(load.succeeded),
                "lost": missing + (produced - consumed),
                "double_effects": sum(max(0, count - 1) for count in per_phone.values()),
                # From the last SIGKILL until every answered request's SMS and every command were there.
                "recovered_s": recovered_s,
                "slowest_restart_s": round(max(restart_s.values()), 1),
                "kills": sum(p.kills for p in platform.processes.values()),
                "kills_by_process": {p.name: p.kills for p in platform.processes.values()},
                "commands_produced": produced,
                "commands_consumed": consumed,
                # A request cut off by a kill may have committed or not: its SMS is neither owed nor wrong.
                "unanswered_with_effect": sum(
                    1 for phone in set(load.attempted) - set(load.succeeded) if per_phone.get(phone, 0)
                ),
                "answers": dict(load.answers),
            }
            say("kills figures:", json.dumps(figures))
            record_figures("kills", figures)
    finally:
        await identity.aclose()
        await notify.aclose()
    assert figures["kills"] >= len(KILL_ORDER)
    assert figures["answered_202"] > 0
    assert unsent == 0
    assert figures["lost"] == 0
    assert figures["double_effects"] == 0
    assert all(p.ready() for p in platform.processes.values())
