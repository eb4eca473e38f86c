"""nginx.conf: rendered, checked by `nginx -t`, then run for real against fake upstreams."""

from __future__ import annotations

import http.server
import json
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway_service.nginx import UPSTREAM_IDLE_S, UVICORN_KEEP_ALIVE_S, NginxOptions, main, render
from gateway_service.routes import GATEWAY, PUBLIC_PREFIXES, RouteTable, route_table
from servicekit.settings import Environment

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if Path(p).exists()), None
)
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install -y nginx)")


def nginx_test(conf: Path, prefix: Path) -> subprocess.CompletedProcess[str]:
    assert NGINX is not None
    return subprocess.run(
        [NGINX, "-t", "-c", str(conf), "-p", str(prefix), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


# -- the rendered text ------------------------------------------------------------------------------


def test_every_api_md_prefix_has_a_location() -> None:
    conf = render(route_table(), NginxOptions())
    for prefix, upstream in PUBLIC_PREFIXES:
        target = f"proxy_pass http://{upstream.replace('-', '_')};"
        if prefix.endswith("-"):
            assert f"location ^~ {prefix} {{\n            {target}" in conf
        else:
            assert f"location = {prefix} {{\n            {target}" in conf
            assert f"location ^~ {prefix}/ {{\n            {target}" in conf


def test_render_shape() -> None:
    conf = render(
        route_table(), NginxOptions(prefix=Path("/srv/gw"), cors_origins=("https://122.example.cn",))
    )
    assert "daemon off;" in conf
    assert "pid /srv/gw/nginx.pid;" in conf
    assert "client_body_temp_path /srv/gw/tmp/client_body;" in conf
    assert "error_log stderr" in conf
    assert "client_max_body_size 8m;" in conf
    assert "upstream plate_pool {\n        least_conn;" in conf
    # a slow answer must not take a replica out: under overload all would be, and the API answer 502
    assert "server 127.0.0.1:8040 max_fails=0;\n        server 127.0.0.1:8041 max_fails=0;" in conf
    assert conf.count("keepalive 64;") == 6
    assert 'proxy_set_header Connection "";' in conf
    assert "proxy_http_version 1.1;" in conf
    assert "location = /healthz" in conf
    assert "location = /readyz {\n            proxy_pass http://gateway;" in conf
    assert "location = /api/v1/openapi.json {\n            proxy_pass http://gateway;" in conf
    assert "'https://122.example.cn' $http_origin;" in conf
    assert "127\\\\.0\\\\.0\\\\.1" in conf  # dev allows local web clients


def test_prod_render_has_no_test_proxy_and_no_local_origins() -> None:
    conf = render(route_table(), NginxOptions(env=Environment.prod))
    test_block = conf.split("location ^~ /api/v1/_test/ {", 1)[1].split("}", 1)[0]
    assert "proxy_pass" not in test_block
    assert "return 404" in test_block
    assert "localhost" not in conf
    assert "127.0.0.1/32 1;" not in conf  # nobody exempt from the rate limit


@pytest.mark.parametrize("env", list(Environment))
def test_only_prod_tells_browsers_to_keep_to_https(env: Environment) -> None:
    """ADR 0094: HSTS on every answer in prod (it is behind the ingress's TLS); dev and test are plain."""
    conf = render(route_table(), NginxOptions(env=env))
    hsts = "add_header Strict-Transport-Security 'max-age=31536000; includeSubDomains' always;"
    assert (hsts in conf) is (env is Environment.prod)


@needs_nginx
@pytest.mark.parametrize("env", ["dev", "test", "prod"])
def test_cli_output_passes_nginx_t(tmp_path: Path, env: str) -> None:
    out = tmp_path / "gw" / "nginx.conf"
    assert main(["--out", str(out), "--env", env, "--listen", "127.0.0.1:18000"]) == 0
    result = nginx_test(out, out.parent)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@needs_nginx
def test_web_root_serves_the_apps_and_keeps_api_paths_problems(tmp_path: Path) -> None:
    out = tmp_path / "gw" / "nginx.conf"
    web = tmp_path / "dist"
    assert main(["--out", str(out), "--env", "prod", "--web-root", str(web)]) == 0
    conf = out.read_text()
    assert nginx_test(out, out.parent).returncode == 0
    # The citizen app takes every path no route or /api/ claims; the console and docs have their own.
    assert f"root {web.resolve() / 'citizen'};" in conf
    assert "try_files $uri /console/index.html;" in conf
    assert "try_files $uri /api/docs/index.html;" in conf
    api_block = conf.split("location ^~ /api/ {", 1)[1].split("}", 1)[0]
    assert "ROUTE_NOT_FOUND" in api_block
    assert "immutable" in conf
    assert "Content-Security-Policy" in conf
    # Without a web root the edge serves no page at all.
    assert main(["--out", str(out), "--env", "prod"]) == 0
    assert "try_files" not in out.read_text()


# -- a live nginx ----------------------------------------------------------------------------------


class FakeUpstream(http.server.ThreadingHTTPServer):
    """Answers everything with JSON describing what it received; `?status=N` sets the status."""

    daemon_threads = True

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(("127.0.0.1", 0), _Echo)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as nginx's upstream keepalive expects

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        server = self.server
        assert isinstance(server, FakeUpstream)
        status = 200
        if "status=" in self.path:
            status = int(self.path.rsplit("status=", 1)[1][:3])
        if "sleep=" in self.path:
            time.sleep(float(self.path.rsplit("sleep=", 1)[1].split("&")[0]))
        body = json.dumps(
            {
                "upstream": server.name,
                "port": server.port,
                "path": self.path,
                "version": self.request_version,
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")  # the edge must hide this
        # A service echoes the request id it was given (servicekit's middleware), as the edge does.
        self.send_header("X-Request-ID", self.headers.get("X-Request-ID") or "from-upstream")
        if "cache=" in self.path:
            self.send_header(
                "Cache-Control", self.path.rsplit("cache=", 1)[1].split("&")[0].replace("_", " ")
            )
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


LOAD_BALANCER = "127.0.0.2"  # dev_nginx trusts this address's X-Forwarded-For; 127.0.0.1 is a plain client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveNginx:
    url: str
    process: subprocess.Popen[bytes]
    log: Path  # nginx's stderr
    access: Path | None  # the access log, when it goes to a file

    def client(self, source: str | None = None) -> httpx.Client:
        """A client calling from 127.0.0.1, or from `source` (another loopback address: a load balancer)."""
        transport = httpx.HTTPTransport(local_address=source) if source else None
        return httpx.Client(base_url=self.url, trust_env=False, timeout=10, transport=transport)


def start_nginx(table: RouteTable, opts: NginxOptions) -> LiveNginx:
    assert NGINX is not None
    conf = opts.prefix / "nginx.conf"
    (opts.prefix / "tmp").mkdir(parents=True, exist_ok=True)
    conf.write_text(render(table, opts))
    log = opts.prefix / "stderr.log"
    process = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(opts.prefix), "-e", "stderr"],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    host, port = opts.listen.rsplit(":", 1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"nginx exited: {log.read_text()}")
        try:
            socket.create_connection((host, int(port)), timeout=0.2).close()
            access = None if opts.access_log in ("stdout", "off") else Path(opts.access_log)
            return LiveNginx(f"http://{opts.listen}", process, log, access)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError(f"nginx did not listen within 10 s: {log.read_text()}")


def stop_nginx(live: LiveNginx) -> None:
    live.process.send_signal(signal.SIGQUIT)  # graceful: finish requests, then exit
    try:
        live.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        live.process.kill()
        live.process.wait()


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, list[FakeUpstream]]]:
    base = route_table()
    servers = {name: [FakeUpstream(name) for _ in up.servers] for name, up in base.upstreams.items()} | {
        GATEWAY: [FakeUpstream(GATEWAY)]
    }
    yield servers
    for group in servers.values():
        for server in group:
            server.shutdown()
            server.server_close()


def table_for(fakes: dict[str, list[FakeUpstream]], dead: str | None = None) -> RouteTable:
    overrides = {name: ",".join(f"127.0.0.1:{s.port}" for s in group) for name, group in fakes.items()}
    if dead:
        overrides[dead] = f"127.0.0.1:{free_port()}"  # nothing listens there
    return route_table(overrides)


@pytest.fixture(scope="module")
def dev_nginx(
    fakes: dict[str, list[FakeUpstream]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveNginx]:
    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install -y nginx)")
    # Started as root, nginx's workers run as `nobody` and buffer large bodies under <prefix>/tmp, so the
    # prefix must be traversable by them (pytest's own tmp dirs are root-only); var/ in the repo is.
    prefix = Path(tempfile.mkdtemp(prefix="tms-nginx-"))
    prefix.chmod(0o755)
    opts = NginxOptions(
        env=Environment.dev,
        listen=f"127.0.0.1:{free_port()}",
        prefix=prefix,
        access_log=str(tmp_path_factory.mktemp("nginx-dev-log") / "access.log"),
        trusted_proxies=(LOAD_BALANCER + "/32",),
    )
    live = start_nginx(table_for(fakes), opts)
    yield live
    stop_nginx(live)
    shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture(scope="module")
def prod_nginx(
    fakes: dict[str, list[FakeUpstream]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveNginx]:
    """prod, a strict rate limit, a tiny body limit and notify down."""
    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install -y nginx)")
    opts = NginxOptions(
        env=Environment.prod,
        listen=f"127.0.0.1:{free_port()}",
        prefix=tmp_path_factory.mktemp("nginx-prod"),
        access_log="off",
        cors_origins=("https://122.example.cn",),
        rate_per_s=1,
        burst=3,
        client_max_body_size="1k",
        proxy_read_timeout_s=1,
    )
    live = start_nginx(table_for(fakes, dead="notify"), opts)
    yield live
    stop_nginx(live)


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """An answer the edge made itself: problem+json with a code, one request id, never cached."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert response.headers.get_list("x-request-id") == [body["request_id"]]
    assert response.headers.get_list("cache-control") == ["no-store"]
    return body


def test_live_routes_every_prefix_to_its_upstream(dev_nginx: LiveNginx) -> None:
    with dev_nginx.client() as c:
        for prefix, upstream in PUBLIC_PREFIXES:
            paths = [prefix + "stations/3"] if prefix.endswith("-") else [prefix, prefix + "/42?x=1"]
            for path in paths:
                response = c.get(path)
                assert response.status_code == 200, (path, response.text)
                seen = response.json()
                assert seen["upstream"] == upstream, path
                assert seen["path"] == path
                assert seen["version"] == "HTTP/1.1"
                assert "close" not in seen["headers"].get("connection", "")
        for path in ("/readyz", "/api/v1/openapi.json", "/api/v1/_test/clock", "/api/v1/_test/sms?phone=1"):
            assert c.get(path).json()["upstream"] == GATEWAY, path


def test_live_health_and_unknown_paths(dev_nginx: LiveNginx) -> None:
    with dev_nginx.client() as c:
        health = c.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}
        assert len(health.headers["x-request-id"]) == 32
        for path in ("/api/v1/usersx", "/api/v1/nothing", "/", "/api/v2/users", "/api/v1/_test"):
            problem(c.get(path), 404, "ROUTE_NOT_FOUND")


def test_live_request_id_forwarding_and_trace_headers(dev_nginx: LiveNginx) -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with dev_nginx.client() as c:
        response = c.get("/api/v1/vehicles", headers={"X-Request-ID": "req-123", "traceparent": traceparent})
        seen = response.json()["headers"]
        assert seen["x-request-id"] == "req-123"
        assert response.headers["x-request-id"] == "req-123"
        assert seen["traceparent"] == traceparent
        assert seen["x-forwarded-for"] == "127.0.0.1"

        generated = c.get("/api/v1/vehicles", headers={"X-Request-ID": "<script>"})
        assert generated.json()["headers"]["x-request-id"] == generated.headers["x-request-id"]
        assert len(generated.headers["x-request-id"]) == 32  # replaced, not trusted


def test_live_a_callers_forwarded_for_is_overwritten_with_the_address_the_edge_decided(
    dev_nginx: LiveNginx,
) -> None:
    """The services get exactly one address, decided here: a caller's own X-Forwarded-For (from loopback,
    which is not a trusted load balancer) is dropped, never passed on in front of the real address."""
    with dev_nginx.client() as c:
        for forged in ("203.0.113.7", "203.0.113.7, 10.0.0.1", "garbage", "127.0.0.9"):
            seen = c.get("/api/v1/users", headers={"X-Forwarded-For": forged}).json()["headers"]
            assert seen["x-forwarded-for"] == "127.0.0.1", forged
            assert "x-real-ip" not in seen  # one header carries the address
        forwarded = c.get("/api/v1/users", headers={"Forwarded": "for=203.0.113.7"}).json()["headers"]
        assert forwarded["x-forwarded-for"] == "127.0.0.1"


def test_live_a_trusted_load_balancers_forwarded_for_is_believed(dev_nginx: LiveNginx) -> None:
    """From a configured load balancer the client is the last address it appended that is not itself
    trusted; what the client wrote further left is not believed."""
    with dev_nginx.client(source=LOAD_BALANCER) as lb:
        seen = lb.get("/api/v1/users", headers={"X-Forwarded-For": "203.0.113.7"}).json()["headers"]
        assert seen["x-forwarded-for"] == "203.0.113.7"
        chain = lb.get("/api/v1/users", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.8"}).json()
        assert chain["headers"]["x-forwarded-for"] == "203.0.113.8"
        direct = lb.get("/api/v1/users").json()["headers"]
        assert direct["x-forwarded-for"] == LOAD_BALANCER


def raw(live: LiveNginx, request: bytes) -> httpx.Response:
    """Send bytes no HTTP client would, read the answer up to the close (nginx closes after these)."""
    host, port = live.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = [tuple(line.split(": ", 1)) for line in lines]
    return httpx.Response(int(status_line.split()[1]), headers=headers, content=body)


def test_live_errors_the_edge_makes_are_problems(dev_nginx: LiveNginx) -> None:
    """nginx's own refusals (before any service sees the request) are problem+json, never its HTML."""
    problem(raw(dev_nginx, b"GET /api/v1/users HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400, "BAD_REQUEST")
    problem(raw(dev_nginx, b"GET /api/v1/users HTTP/1.1 x\r\nHost: a\r\n\r\n"), 400, "BAD_REQUEST")
    long_uri = b"/api/v1/users/" + b"a" * 9000
    problem(raw(dev_nginx, b"GET " + long_uri + b" HTTP/1.1\r\nHost: a\r\n\r\n"), 414, "URI_TOO_LONG")
    big_header = b"X-Filler: " + b"a" * 9000 + b"\r\n"
    problem(
        raw(dev_nginx, b"GET /api/v1/users HTTP/1.1\r\nHost: a\r\n" + big_header + b"\r\n"),
        431,
        "REQUEST_HEADER_FIELDS_TOO_LARGE",
    )
    problem(raw(dev_nginx, b"TRACE /api/v1/users HTTP/1.1\r\nHost: a\r\n\r\n"), 405, "METHOD_NOT_ALLOWED")
    problem(
        raw(dev_nginx, b"POST /api/v1/users HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"),
        501,
        "NOT_IMPLEMENTED",
    )
    problem(
        raw(dev_nginx, b"GET /api/v1/users HTTP/2.0\r\nHost: a\r\n\r\n"), 505, "HTTP_VERSION_NOT_SUPPORTED"
    )


def test_live_errors_beside_the_web_apps_are_problems(fakes: dict[str, list[FakeUpstream]]) -> None:
    """The web apps' files: a missing hashed asset and a POST to a page are nginx's answers too."""
    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install -y nginx)")
    prefix = Path(tempfile.mkdtemp(prefix="tms-nginx-web-"))
    prefix.chmod(0o755)
    web = prefix / "dist"
    (web / "citizen" / "assets").mkdir(parents=True)
    (web / "citizen" / "index.html").write_text("<!doctype html><title>citizen</title>")
    opts = NginxOptions(
        env=Environment.prod, listen=f"127.0.0.1:{free_port()}", prefix=prefix, access_log="off", web_root=web
    )
    live = start_nginx(table_for(fakes), opts)
    try:
        with live.client() as c:
            assert c.get("/").headers["cache-control"] == "no-cache"  # the apps keep their own caching
            problem(c.get("/assets/missing-1a2b3c.js"), 404, "ROUTE_NOT_FOUND")
            problem(c.post("/index.html", content=b"{}"), 405, "METHOD_NOT_ALLOWED")
            problem(c.get("/api/v1/nothing"), 404, "ROUTE_NOT_FOUND")
    finally:
        stop_nginx(live)
        shutil.rmtree(prefix, ignore_errors=True)


def test_live_one_request_id_in_every_answer(dev_nginx: LiveNginx) -> None:
    """The service echoes the id nginx gave it, and nginx adds its own: the client must see one."""
    with dev_nginx.client() as c:
        proxied = c.get("/api/v1/vehicles", headers={"X-Request-ID": "once-1"})
        assert proxied.headers.get_list("x-request-id") == ["once-1"]
        failed = c.get("/api/v1/vehicles?status=409", headers={"X-Request-ID": "once-2"})
        assert failed.headers.get_list("x-request-id") == ["once-2"]
        assert len(c.get("/api/v1/vehicles").headers.get_list("x-request-id")) == 1
        assert c.get("/healthz", headers={"X-Request-ID": "once-3"}).headers.get_list("x-request-id") == [
            "once-3"
        ]


def test_live_the_edge_adds_no_caching_to_api_answers(dev_nginx: LiveNginx) -> None:
    """A service's Cache-Control passes as it is (public reference data may be cached); an answer that
    says nothing is never stored; the edge's own answers are never stored."""
    with dev_nginx.client() as c:
        public = c.get("/api/v1/auth/jwks.json?cache=public,_max-age=60")
        assert public.headers.get_list("cache-control") == ["public, max-age=60"]
        private = c.get("/api/v1/users/1?cache=private,_no-store")
        assert private.headers.get_list("cache-control") == ["private, no-store"]
        silent = c.get("/api/v1/users/1")
        assert silent.headers.get_list("cache-control") == ["no-store"]
        assert c.get("/healthz").headers.get_list("cache-control") == ["no-store"]
        assert "expires" not in silent.headers


def test_live_plate_pool_balances_both_replicas(dev_nginx: LiveNginx, fakes: Any) -> None:
    with dev_nginx.client() as c:
        ports = {c.get("/api/v1/plate-selections").json()["port"] for _ in range(20)}
    assert ports == {s.port for s in fakes["plate-pool"]}


def test_live_upstream_errors_pass_through(dev_nginx: LiveNginx) -> None:
    with dev_nginx.client() as c:
        response = c.get("/api/v1/violations/1?status=503")
        assert response.status_code == 503
        assert response.json()["upstream"] == "violation"  # the service's own body, not nginx's
        assert c.post("/api/v1/licences?status=409", json={}).status_code == 409


def test_live_large_bodies_reach_the_upstream(dev_nginx: LiveNginx) -> None:
    """A base64 invoice photo (a few MB) is buffered to <prefix>/tmp by nginx and passed on whole."""
    photo = b"A" * (5 * 1024 * 1024)
    with dev_nginx.client() as c:
        response = c.post("/api/v1/payments", content=photo, headers={"Content-Type": "application/json"})
        assert response.status_code == 200, response.text
        assert response.json()["headers"]["content-length"] == str(len(photo))
        too_big = c.post("/api/v1/payments", content=b"A" * (9 * 1024 * 1024))
        problem(too_big, 413, "PAYLOAD_TOO_LARGE")


def test_live_cors(dev_nginx: LiveNginx, prod_nginx: LiveNginx) -> None:
    with dev_nginx.client() as c:
        allowed = c.get("/api/v1/vehicles", headers={"Origin": "http://localhost:5173"})
        assert allowed.headers["access-control-allow-origin"] == "http://localhost:5173"
        assert "X-Request-ID" in allowed.headers["access-control-expose-headers"]
        assert "access-control-allow-methods" not in allowed.headers  # only on preflight
        foreign = c.get("/api/v1/vehicles", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in foreign.headers  # and the upstream's "*" is hidden
        preflight = c.options(
            "/api/v1/plate-selections",
            headers={
                "Origin": "http://127.0.0.1:3000",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, idempotency-key",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "http://127.0.0.1:3000"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "Idempotency-Key" in preflight.headers["access-control-allow-headers"]
    with prod_nginx.client() as c:
        local = c.get("/healthz", headers={"Origin": "http://localhost:5173"})
        assert "access-control-allow-origin" not in local.headers
        site = c.get("/healthz", headers={"Origin": "https://122.example.cn"})
        assert site.headers["access-control-allow-origin"] == "https://122.example.cn"


def test_live_prod_hides_test_endpoints_and_reports_down_upstreams(prod_nginx: LiveNginx) -> None:
    time.sleep(2.1)  # refill the strict rate limit bucket (1 r/s, burst 3)
    with prod_nginx.client() as c:
        problem(
            c.post("/api/v1/_test/clock", json={"now": "2027-03-01T09:00:00+08:00"}), 404, "ROUTE_NOT_FOUND"
        )
        problem(c.get("/api/v1/messages"), 502, "UPSTREAM_UNAVAILABLE")
        time.sleep(2.1)
        problem(c.post("/api/v1/vehicles", content=b"x" * 4096), 413, "PAYLOAD_TOO_LARGE")
        time.sleep(1.1)
        problem(c.get("/api/v1/vehicles/1?sleep=1.5"), 504, "UPSTREAM_TIMEOUT")


def test_live_rate_limit_answers_429_problem(prod_nginx: LiveNginx) -> None:
    time.sleep(3.1)
    with prod_nginx.client() as c:
        responses = [
            c.get("/api/v1/vehicles", headers={"Origin": "https://122.example.cn"}) for _ in range(10)
        ]
    statuses = [r.status_code for r in responses]
    assert statuses[:4] == [200] * 4  # one plus a burst of three
    limited = [r for r in responses if r.status_code == 429]
    assert limited, statuses
    body = problem(limited[0], 429, "RATE_LIMITED")
    assert body["type"] == "https://errors.tms.example/rate-limited"
    assert limited[0].headers["retry-after"] == "1"
    assert limited[0].headers["access-control-allow-origin"] == "https://122.example.cn"


def test_live_dev_does_not_limit_loopback(dev_nginx: LiveNginx) -> None:
    with dev_nginx.client() as c:
        assert {c.get("/api/v1/exams").status_code for _ in range(300)} == {200}


def access_entry(live: LiveNginx, request_id: str) -> dict[str, Any]:
    assert live.access is not None
    entry: dict[str, Any] | None = None
    deadline = time.monotonic() + 5
    while entry is None and time.monotonic() < deadline:
        records = [json.loads(line) for line in live.access.read_text().splitlines()]
        entry = next((r for r in records if r["request_id"] == request_id), None)
        time.sleep(0.05)
    assert entry is not None
    return entry


ID_NUMBER = "130102198005051234"  # a licence number is an identity number
PHONE = "13812345678"


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        (f"/api/v1/licences/{ID_NUMBER}", "/api/v1/licences/1301**********1234"),
        (f"/api/v1/licences/{ID_NUMBER[:-1]}X/points", "/api/v1/licences/1301**********123X/points"),
        (f"/api/v1/users/by-phone/{PHONE}", "/api/v1/users/by-phone/138****5678"),
        (
            f"/api/v1/licences/{ID_NUMBER}/contact/{PHONE}",
            "/api/v1/licences/1301**********1234/contact/138****5678",
        ),
        # percent-encoded digits: nginx logs the decoded path, which is masked like any other
        ("/api/v1/licences/%31%33%30%31%30%32198005051234", "/api/v1/licences/1301**********1234"),
    ],
)
def test_live_access_log_never_holds_an_identity_number_or_phone(
    dev_nginx: LiveNginx, path: str, logged: str
) -> None:
    rid = "mask-" + str(abs(hash(path)))
    with dev_nginx.client() as c:
        c.get(path, headers={"X-Request-ID": rid})
    entry = access_entry(dev_nginx, rid)
    assert entry["path"] == logged
    line = json.dumps(entry)
    assert ID_NUMBER not in line
    assert PHONE not in line
    assert "198005051" not in line


def test_live_access_log_hides_a_path_with_more_numbers_than_it_masks(dev_nginx: LiveNginx) -> None:
    path = "/api/v1/licences/" + "/".join(f"13010219800505{n:03d}4" for n in range(5))
    with dev_nginx.client() as c:
        c.get(path, headers={"X-Request-ID": "mask-many"})
    entry = access_entry(dev_nginx, "mask-many")
    assert "198005050" not in json.dumps(entry)
    assert entry["path"] == "(withheld: too many numbers)"


def test_live_access_log_is_json_without_query_strings(dev_nginx: LiveNginx) -> None:
    with dev_nginx.client() as c:
        c.get("/api/v1/messages/1?phone=13800138000", headers={"X-Request-ID": "log-check"})
    entry = access_entry(dev_nginx, "log-check")
    assert entry["path"] == "/api/v1/messages/1"
    assert "13800138000" not in json.dumps(entry)
    assert entry["status"] == 200
    assert entry["upstream_status"] == "200"
    assert isinstance(entry["duration_s"], float | int)


def test_upstream_idle_connections_close_before_the_services_close_them() -> None:
    """A POST written into a connection uvicorn is closing would be a 502 (nginx does not retry a POST)."""
    conf = render(route_table(), NginxOptions())
    upstreams = re.findall(r"^\s*upstream [\w-]+ \{[^}]*\}", conf, re.M)
    assert upstreams
    for block in upstreams:
        assert f"keepalive_timeout {UPSTREAM_IDLE_S}s;" in block
    assert UPSTREAM_IDLE_S < UVICORN_KEEP_ALIVE_S


def test_live_overlong_request_line_is_a_problem(dev_nginx: LiveNginx) -> None:
    """A request line beyond nginx's header buffers (a fuzzer's 10 kB query) is refused by the edge itself:
    problem+json like every other refusal, not nginx's HTML page."""
    with dev_nginx.client() as c:
        problem(c.get("/api/v1/vehicles", params={"q": "a" * 10_000}), 414, "URI_TOO_LONG")
