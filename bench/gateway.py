"""`make bench-gateway`: the gateway's data plane against reaching a service directly (goal: ratio >= 0.8).

One run starts what it needs on free ports, in the dev environment: identity's api (uvicorn, one process,
as `make run` runs it), its database migrated and its demo data loaded, and nginx with the configuration
generated from the gateway's route table (identity pointed at this run's port, access log off, as in a
loaded production edge where logs go to a collector). It signs a demo citizen in, then measures the same
trivial authenticated endpoint (`GET /api/v1/auth/whoami`: the token is verified, no database) with wrk
at 64 connections, directly and through nginx, interleaved over several rounds so that drift of the
machine hits both sides alike. The last line printed is one JSON object: `direct_rps`, `gateway_rps`,
`ratio`, and how they were measured.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from servicekit.crypto import dev_keys
from servicekit.sealed import ClaimKeys

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = 64
THREADS = int(os.environ.get("BENCH_WRK_THREADS", "1"))  # one wrk thread leaves the CPUs to the servers
DURATION_S = int(os.environ.get("BENCH_DURATION_S", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
ENDPOINT = "/api/v1/auth/whoami"
DEMO_USER = (
    "130102199003071233",
    "Demo2027pass",
)  # identity's demo owner/driver (services/identity/README.md)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0, trust_env=False).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")


def wrk(url: str, token: str) -> float:
    out = subprocess.run(  # noqa: S603
        [
            shutil.which("wrk") or "wrk",
            f"-t{THREADS}",
            f"-c{CONNECTIONS}",
            f"-d{DURATION_S}s",
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    if non2xx is not None:
        raise RuntimeError(f"{non2xx.group(1)} responses were not 2xx from {url}:\n{out}")
    return float(match.group(1))


def main() -> int:
    if shutil.which("wrk") is None or shutil.which("nginx") is None:
        print("wrk and nginx are needed (apt-get install -y wrk nginx)", file=sys.stderr)
        return 2
    env = {**os.environ, "TMS_ENV": os.environ.get("TMS_ENV", "dev")}
    # Per-request access log lines would measure the logger, not the proxy: warnings only.
    env["TMS_IDENTITY__TELEMETRY__LOG_LEVEL"] = "WARNING"
    env.setdefault("TMS_IDENTITY__AUTH__CLAIM_KEYS", ClaimKeys.generate("bench").spec())  # ADR 0082
    keys = dev_keys(ROOT / "var" / "dev-data-keys")  # ADR 0095: the dev database's sealed columns
    env.setdefault("TMS_IDENTITY__CRYPTO__DATA_KEYS", keys.data.spec())
    env.setdefault("TMS_IDENTITY__CRYPTO__INDEX_KEYS", keys.index.spec())
    subprocess.run([sys.executable, "-m", "servicekit.migrate", "identity"], check=True, cwd=ROOT, env=env)
    subprocess.run([sys.executable, "-m", "identity_service.demo"], check=True, cwd=ROOT, env=env)

    from gateway_service.nginx import NginxOptions, render
    from gateway_service.routes import route_table
    from servicekit.settings import Environment

    service_port, edge_port = free_port(), free_port()
    prefix = Path(tempfile.mkdtemp(prefix="tms-bench-nginx-"))
    prefix.chmod(0o755)  # nginx's workers (nobody) buffer under <prefix>/tmp
    (prefix / "tmp").mkdir()
    opts = NginxOptions(
        env=Environment(env["TMS_ENV"]), listen=f"127.0.0.1:{edge_port}", prefix=prefix, access_log="off"
    )
    conf = prefix / "nginx.conf"
    conf.write_text(render(route_table({"identity": f"127.0.0.1:{service_port}"}), opts), encoding="utf-8")

    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(
            subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "identity_service.main:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(service_port),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
            )
        )
        processes.append(
            subprocess.Popen(  # noqa: S603
                [shutil.which("nginx") or "nginx", "-c", str(conf), "-p", str(prefix), "-e", "stderr"],
                stdout=subprocess.DEVNULL,
            )
        )
        direct = f"http://127.0.0.1:{service_port}"
        gateway = f"http://127.0.0.1:{edge_port}"
        wait_http(direct + "/healthz")
        wait_http(gateway + "/healthz")
        login = httpx.post(
            gateway + "/api/v1/auth/login",
            json={"username": DEMO_USER[0], "password": DEMO_USER[1]},
            timeout=30,
            trust_env=False,
        )
        login.raise_for_status()
        token = login.json()["access_token"]
        for url in (direct, gateway):  # both paths answer the same, authenticated
            r = httpx.get(url + ENDPOINT, headers={"Authorization": f"Bearer {token}"}, trust_env=False)
            r.raise_for_status()
        # Warm-up: connection pools, the verifier's token cache, nginx's upstream keep-alive.
        global DURATION_S
        measured, DURATION_S = DURATION_S, 2
        wrk(direct + ENDPOINT, token)
        wrk(gateway + ENDPOINT, token)
        DURATION_S = measured
        direct_runs, gateway_runs = [], []
        for i in range(ROUNDS):
            # Alternate which side goes first, so a trend in the machine's load favours neither.
            if i % 2 == 0:
                direct_runs.append(wrk(direct + ENDPOINT, token))
                gateway_runs.append(wrk(gateway + ENDPOINT, token))
            else:
                gateway_runs.append(wrk(gateway + ENDPOINT, token))
                direct_runs.append(wrk(direct + ENDPOINT, token))
            print(f"round: direct {direct_runs[-1]:.0f} rps, gateway {gateway_runs[-1]:.0f} rps", flush=True)
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM if process is processes[0] else signal.SIGQUIT)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(prefix, ignore_errors=True)
    direct_rps = statistics.median(direct_runs)
    gateway_rps = statistics.median(gateway_runs)
    print(
        json.dumps(
            {
                "direct_rps": round(direct_rps, 1),
                "gateway_rps": round(gateway_rps, 1),
                "ratio": round(gateway_rps / direct_rps, 3),
                "endpoint": f"GET {ENDPOINT}",
                "connections": CONNECTIONS,
                "threads": THREADS,
                "duration_s": DURATION_S,
                "rounds": ROUNDS,
                "round_ratios_median": round(
                    statistics.median(g / d for g, d in zip(gateway_runs, direct_runs, strict=True)), 3
                ),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "statistic": "median of rounds",
                "direct_runs": [round(x, 1) for x in direct_runs],
                "gateway_runs": [round(x, 1) for x in gateway_runs],
                "cpus": os.cpu_count(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
