"""`make bench-redis-tls`: the revocation check every request makes, over TLS as production runs Redis
(ADR 0094), through redis-py (what a `rediss://` URL got before ADR 0103) and through the pipelined
connection (`servicekit.resp`, now over TLS too), side by side in one run.

    uv run python bench/redis_tls.py [--checks 20000] [--concurrency 64] [--rounds 4]

It starts a redis-server of its own speaking TLS only (a certificate authority made for the run, the
server's certificate verified and its name checked), then, in rounds that alternate the two sides so the
drift of a shared machine hits both, runs `checks` revocation checks (`Revocations.check`, one MGET of
the account's and the session's marks) `concurrency` at a time, as requests in flight on one api process
would. The figures are this process's CPU (the api process's share) and the server's (utime + stime from
/proc), per check. The last line is one JSON object: the means of each side and the pipe-to-redis-py
ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

from redis.asyncio import Redis

from servicekit.testservers import LocalCertificates, PrivateRedis
from servicekit.web.revocation import Revocations

TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[bench-redis-tls] {message}", file=sys.stderr, flush=True)


def server_cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / TICKS  # utime, stime


async def run_side(
    url: str, pipelined: bool, checks: int, concurrency: int, server_pid: int
) -> dict[str, float]:
    redis = Redis.from_url(url, max_connections=concurrency + 8)
    marks = Revocations(redis, ttl_s=60)
    marks._pipe_possible = pipelined  # False: redis-py's path, as open_beside decided for TLS before
    now = time.time()
    await marks.check("acc-bench", now, "sid-warm")  # the connection made, outside the measure
    left = checks

    async def worker(n: int) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await marks.check(f"acc-{n}", now, f"sid-{left}")

    cpu, server, wall = time.process_time(), server_cpu_ms(server_pid), time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    wall = time.perf_counter() - wall
    cpu_ms = (time.process_time() - cpu) * 1000
    server_ms = server_cpu_ms(server_pid) - server
    if pipelined:
        assert marks._pipe is not None, "the pipelined side fell back to redis-py"
        assert marks._pipe._transport is not None
        assert marks._pipe._transport.get_extra_info("ssl_object") is not None, "not TLS"
    await marks.aclose()
    await redis.aclose()
    return {
        "checks_per_s": checks / wall,
        "client_cpu_us_per_check": cpu_ms * 1000 / checks,
        "server_cpu_us_per_check": server_ms * 1000 / checks,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        server = PrivateRedis(port=port, tls=LocalCertificates.make(Path(directory), "bench"))
        server.start()
        try:
            assert server.process is not None
            results: dict[str, list[dict[str, float]]] = {"redis_py": [], "pipe": []}
            for round_ in range(args.rounds):
                order = ("redis_py", "pipe") if round_ % 2 == 0 else ("pipe", "redis_py")
                for side in order:
                    figures = asyncio.run(
                        run_side(
                            server.url(), side == "pipe", args.checks, args.concurrency, server.process.pid
                        )
                    )
                    results[side].append(figures)
                    log(
                        json.dumps(
                            {
                                "round": round_ + 1,
                                "side": side,
                                **{k: round(v, 1) for k, v in figures.items()},
                            }
                        )
                    )
        finally:
            server.stop()
    out: dict[str, float | int] = {
        "checks": args.checks,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
    }
    for side, runs in results.items():
        for key in runs[0]:
            out[f"{side}_{key}"] = round(statistics.mean(r[key] for r in runs), 1)
    for key in ("checks_per_s", "client_cpu_us_per_check", "server_cpu_us_per_check"):
        out[f"ratio_{key}"] = round(float(out[f"pipe_{key}"]) / max(float(out[f"redis_py_{key}"]), 1e-9), 3)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
