"""AU-01 through the real edge, gateway, identity api and worker (ADR 0089, 0090): a sign-in is audited, the
worker's sealer chains the entry within seconds, the chain verifies, and the auditor finds the entry through
the gateway, masked, its own search audited too; a citizen cannot read the trail, the auditor nothing else."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from identity_service.service import SPEC as IDENTITY
from servicekit.audit import Verification, verify
from servicekit.db import create_engine
from servicekit.testing import new_phone, new_resident_id
from servicekit.vocabulary import AUDITOR

from .stack import Person, gateway_stack, login, make_accounts

pytestmark = pytest.mark.integration

TRAIL = "/api/v1/audit/identity/entries"


def identity_chain() -> Verification:
    async def run() -> Verification:
        engine = create_engine(IDENTITY.settings().database)
        try:
            return await verify(engine, IDENTITY.metadata, "identity")
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_au01_a_sign_in_is_sealed_by_the_worker_and_found_by_the_auditor_through_the_gateway() -> None:
    person = Person(new_resident_id(), new_phone())
    with gateway_stack([], workers=("identity",)) as url:
        names = make_accounts({"auditor": [AUDITOR]}, [person], system=False)
        with httpx.Client(base_url=url, trust_env=False, timeout=30) as gw:
            citizen = login(gw, person.id_number)
            subject = gw.get("/api/v1/auth/whoami", headers=citizen).json()["subject"]
            auditor = login(gw, names["auditor"])
            auditor_subject = gw.get("/api/v1/auth/whoami", headers=auditor).json()["subject"]

            deadline = time.monotonic() + 30  # the sealer runs every 2 s
            while True:
                r = gw.get(TRAIL, params={"target": f"account:{subject}", "action": "login"}, headers=auditor)
                assert r.status_code == 200, r.text
                items = r.json()["items"]
                if items and items[0]["seq"] is not None:
                    break
                assert time.monotonic() < deadline, f"not sealed in 30 s: {items}"
                time.sleep(0.5)
            assert items[0]["role"] == "anonymous"  # a sign-in is made before anyone is known
            assert person.id_number not in r.text

            mine = gw.get(TRAIL, params={"actor": auditor_subject, "action": "audit.search"}, headers=auditor)
            assert mine.json()["items"], "the auditor's searches are not in the trail"
            assert mine.json()["items"][0]["role"] == AUDITOR

            assert gw.get(TRAIL, headers=citizen).status_code == 403
            assert gw.get("/api/v1/users/me/bindings", headers=auditor).status_code == 403

        report = identity_chain()
        assert report.intact, report.as_json()
        assert report.entries > 0
