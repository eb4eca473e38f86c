"""The opening-day crowd of `make bench-opening` (bench/opening.py starts it; Locust, gevent).

Each simulated user is one person of the file $OPENING_PEOPLE (JSON a line: their citizen token, phone and
the body of their selection, made by the bench) and goes through the selection once, as the citizen app
does: start the selection, draw (on 202, wait Retry-After and ask again, with the same Idempotency-Key:
one logical draw, the place in line kept), choose the first of the five numbers that can be had, ask for
the SMS code, read it on "their phone" (the bench's SMS inbox at $OPENING_SMS_URL<phone>) and confirm
it (with more than one SMS, after a send repeated when its answer was lost: the newest first, then the
others).
A 5xx or a broken connection is counted and the same request asked again after 2 s, as a person taps
"try again" (the Idempotency-Key makes that safe). What happened to each person is one JSON line in
$OPENING_RESULTS, written when they are done (also when the run is stopped before they are).

When the last person is done, the run ends (the bench's --run-time is only a cap).
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import time
import urllib.error
import urllib.request
from typing import Any

import gevent
from locust import FastHttpUser, constant, task
from locust.exception import StopUser

with open(os.environ["OPENING_PEOPLE"], encoding="utf-8") as people_file:
    PEOPLE = [json.loads(line) for line in people_file]
RESULTS = open(os.environ["OPENING_RESULTS"], "a", encoding="utf-8", buffering=1)  # noqa: SIM115
SMS_URL = os.environ["OPENING_SMS_URL"]
ARRIVALS = itertools.count()
DONE = itertools.count(1)
BASE = "/api/v1/plate-selections"


class Gone(Exception):
    """The step cannot go on (a refusal the flow does not expect): the person stops there."""


class Person(FastHttpUser):
    wait_time = constant(0)
    network_timeout = 120.0
    connection_timeout = 30.0

    @task
    def select_a_number(self) -> None:
        index = next(ARRIVALS)
        if index >= len(PEOPLE):
            raise StopUser
        me = PEOPLE[index]
        self.auth = {"Authorization": f"Bearer {me['token']}"}
        self.record: dict[str, Any] = {"i": index, "arrived": time.time(), "statuses": {}}
        self.record["outcome"] = "unfinished"
        try:
            self.flow(me)
        except Gone as refusal:
            self.record["outcome"] = str(refusal)
        finally:
            self.record["finished"] = time.time()
            RESULTS.write(json.dumps(self.record) + "\n")
            if next(DONE) == len(PEOPLE):
                gevent.spawn(self.environment.runner.quit)
        raise StopUser

    def flow(self, me: dict[str, Any]) -> None:
        status, body, _ = self.post(BASE, "start", me["body"])
        if status not in (200, 201):
            raise Gone(f"start:{status}:{body.get('code', '')}")
        sid = body["id"]
        self.record["sid"] = sid
        numbers = self.draw(f"{BASE}/{sid}/random-draws")
        for number in numbers:
            status, body, _ = self.post(f"{BASE}/{sid}/choice", "choice", {"number": number})
            if status == 200:
                break
        else:
            raise Gone(f"choice:{status}:{body.get('code', '')}")
        codes = self.ask_code(f"{BASE}/{sid}/sms-code", me["phone"])
        for code in codes:  # newest first; more than one when a send was repeated after a lost answer
            status, body, _ = self.post(f"{BASE}/{sid}/confirmation", "confirmation", {"code": code})
            if status == 200 or body.get("code") != "SMS_CODE_MISMATCH":
                break
        if status != 200:
            raise Gone(f"confirmation:{status}:{body.get('code', '')}")
        self.record["outcome"] = "confirmed"
        self.record["number"] = body["plate_number"]

    def draw(self, path: str) -> list[str]:
        """One logical draw: the numbers, once admitted (PP-10's line in between)."""
        key = secrets.token_hex(16)
        first = True
        polls = 0
        while True:
            started = time.perf_counter()
            status, body, retry_after = self.post(path, "draw" if first else "draw again", None, key)
            if first and status:
                self.record["first_ms"] = (time.perf_counter() - started) * 1000
                self.record["first_status"] = status
                self.record["first_position"] = body.get("queue_position")
                first = False
            if status == 201:
                self.record["admitted_after_s"] = time.time() - self.record["arrived"]
                self.record["polls"] = polls
                return list(body["numbers"])
            if status != 202:
                code = body.get("code", "")
                raise Gone("exhausted" if code == "POOL_EXHAUSTED" else f"draw:{status}:{code}")
            polls += 1
            self.record["last_position"] = body.get("queue_position")
            gevent.sleep(retry_after)

    def post(
        self, path: str, name: str, payload: Any, key: str | None = None
    ) -> tuple[int, dict[str, Any], float]:
        """(status, JSON body, Retry-After s). Asked again, with the same Idempotency-Key: after a 5xx or
        a broken connection (2 s later), and while a repeat finds the first still running (409
        IDEMPOTENCY_KEY_IN_USE, after its Retry-After)."""
        headers = {**self.auth, "Idempotency-Key": key or secrets.token_hex(16)}
        statuses, problems = self.record["statuses"], self.record.setdefault("problems", {})
        while True:
            with self.client.post(path, json=payload, headers=headers, name=name, catch_response=True) as r:
                status = int(r.status_code or 0)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                try:
                    body = r.json() if r.content else {}
                except ValueError:
                    body = {}
                retry_after = float(r.headers.get("Retry-After") or 2) if status else 2.0
                if status >= 400 or status == 0:
                    problem = f"{name}:{status}:{body.get('code', '')}"
                    problems[problem] = problems.get(problem, 0) + 1
                if 0 < status < 500:
                    # 202 (a place in line) and 409 are answers of the flow, not failures of the service
                    r.success()
                    if body.get("code") != "IDEMPOTENCY_KEY_IN_USE":
                        return status, body, retry_after
                else:
                    r.failure(f"{status}")
            gevent.sleep(retry_after)

    def ask_code(self, path: str, phone: str) -> list[str]:
        """The SMS code: asked for, read on the phone. A 429 after a lost answer (the send took effect,
        one a minute): the code is on its way; otherwise, as told, asked again later."""
        while True:
            status, body, retry_after = self.post(path, "sms-code", None)
            if status == 202:
                return self.read_sms(phone, 120)
            if status != 429:
                raise Gone(f"sms-code:{status}:{body.get('code', '')}")
            try:
                return self.read_sms(phone, min(retry_after, 30))
            except Gone:
                gevent.sleep(retry_after)

    def read_sms(self, phone: str, wait_s: float) -> list[str]:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(SMS_URL + phone, timeout=10) as answer:  # noqa: S310 (the bench's)
                    return [str(c) for c in json.loads(answer.read())["codes"]]
            except urllib.error.HTTPError:
                gevent.sleep(0.2)
        raise Gone("sms:never came")
