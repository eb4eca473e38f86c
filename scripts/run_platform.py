"""`make run`: the whole platform on this machine, with demo data, under honcho.

Steps, each printed as it goes: migrate every service's dev database, load each service's demo data
(a service that has some provides `<package>.demo` with an idempotent `main()`), write var/Procfile from
the topology, then hand over to honcho, which starts every api and worker, plate-pool's two replicas, the
gateway app and nginx, and stops them all on Ctrl-C.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from servicekit.crypto import dev_keys
from servicekit.migrate import ADMIN_URL
from servicekit.sealed import ClaimKeys
from servicekit.settings import ServiceSettings, database_name

ROOT = Path(__file__).resolve().parents[1]
TOPOLOGY = ROOT / "gateway" / "src" / "gateway_service" / "topology.json"


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(*args: str, env: dict[str, str]) -> None:
    subprocess.run(args, check=True, cwd=ROOT, env=env)  # noqa: S603 - our own fixed commands


def forget_dev_databases(services: list[str]) -> None:
    """New dev keys (a fresh checkout, or var/ removed): what the dev databases hold was sealed under keys
    that are gone and can't be opened. They hold only demo data, so they are dropped and made again by
    the migrations and the demo below."""
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        for name in services:
            admin.execute(f'DROP DATABASE IF EXISTS "{database_name(name, "dev")}" WITH (FORCE)')


def main() -> int:
    env = {**os.environ, "TMS_ENV": os.environ.get("TMS_ENV", "dev")}
    if env["TMS_ENV"] == "test":
        print("make run uses the dev environment; the test environment belongs to make test", file=sys.stderr)
        return 2
    topology = json.loads(TOPOLOGY.read_text(encoding="utf-8"))
    services = [service["name"] for service in topology["services"]]
    # ADR 0082: one ring of claim keys for every process of this run (identity seals, the others open),
    # made anew each run unless the environment gives one: a token from an earlier run asks to sign in again.
    claim_keys = ClaimKeys.generate("dev").spec()
    for name in services:
        env.setdefault(ServiceSettings.env_prefix_for(name) + "AUTH__CLAIM_KEYS", claim_keys)
    # ADR 0095: the data keys of this machine's dev databases, made once into var/dev-data-keys (untracked)
    # and kept, so the demo data stays readable from run to run; handed to every process from here.
    key_file = ROOT / "var" / "dev-data-keys"
    new_keys = not key_file.exists()
    data_keys = dev_keys(key_file)
    if new_keys:
        forget_dev_databases(services)
    for name in services:
        env.setdefault(ServiceSettings.env_prefix_for(name) + "CRYPTO__DATA_KEYS", data_keys.data.spec())
        env.setdefault(ServiceSettings.env_prefix_for(name) + "CRYPTO__INDEX_KEYS", data_keys.index.spec())
    step(f"migrating {len(services)} databases ({env['TMS_ENV']})")
    run(sys.executable, "-m", "servicekit.migrate", *services, env=env)
    for service in topology["services"]:
        module = f"{service['package']}.demo"
        if importlib.util.find_spec(module) is None:
            continue
        step(f"demo data: {service['name']}")
        run(sys.executable, "-m", module, env=env)
    step("writing var/Procfile")
    procfile = ROOT / "var" / "Procfile"
    run(sys.executable, str(ROOT / "scripts" / "procfile.py"), "--out", str(procfile), env=env)
    edge = topology["edge"]["port"]
    print(
        f"""
    The platform is starting. In a few seconds:
      citizen app    http://localhost:{edge}/           (张三: 130102199003071233 / Demo2027pass)
      clerk console  http://localhost:{edge}/console/   (S130100001 intake, S130100002 review,
                                                          S130100003 archive, S130100009 admin;
                                                          their one-time code: uv run python -m
                                                          identity_service.demo totp)
      API reference  http://localhost:{edge}/api/docs/
      gateway        http://localhost:{edge}/api/v1/...
      readiness      curl http://localhost:{edge}/readyz
      API document   http://localhost:{edge}/api/v1/openapi.json
      move the clock curl -X POST localhost:{edge}/api/v1/_test/clock \\
                       -H 'content-type: application/json' -d '{{"now": "2027-03-01T09:00:00+08:00"}}'
      demo data      sign in as 张三, 130102199003071233 / Demo2027pass (POST /api/v1/auth/login); what
                     each service's demo holds: its README, section "Demo data"
    Ctrl-C stops every process.
""",
        flush=True,
    )
    honcho = Path(sys.executable).with_name("honcho")
    # Replaced by honcho, so Ctrl-C reaches it directly and it stops every child cleanly.
    os.execve(str(honcho), [str(honcho), "-f", str(procfile), "-d", str(ROOT), "start"], env)  # noqa: S606


if __name__ == "__main__":
    sys.exit(main())
