"""Render the edge's nginx.conf from the route table.

    python -m gateway_service.nginx --out var/gateway/nginx.conf [--env dev|test|prod] [--listen 8000]
    nginx -c $PWD/var/gateway/nginx.conf -p $PWD/var/gateway -e stderr

The file is complete and standalone (no /etc/nginx includes): it runs in the foreground, keeps its pid
and temp files under the prefix directory, logs errors to stderr and access as one JSON object a line.
nginx carries all API traffic; only /readyz, the merged OpenAPI document and (dev/test) /api/v1/_test/*
go to the gateway app. With `--web-root` it also serves the built web apps: the citizen app at /, the
clerk console at /console/ and the API reference at /api/docs/.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

from gateway_service.problems import type_uri
from gateway_service.routes import GATEWAY_PATHS, TEST_PREFIX, RouteTable, Upstream
from gateway_service.settings import GatewaySettings
from servicekit.settings import Environment

# Headers browsers may send cross-origin, and those their scripts may read back.
CORS_ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-ID, traceparent, tracestate"
CORS_EXPOSE_HEADERS = "X-Request-ID, Retry-After, Location, traceparent"
CORS_ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
# Origins of the web clients on a developer's machine (any port): allowed in dev and test only.
LOCAL_ORIGINS = r"~^https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]+)?$"
LOOPBACK = ("127.0.0.1/32", "::1/128")


@dataclass(frozen=True)
class NginxOptions:
    env: Environment = Environment.dev
    listen: str = "8000"  # a port, or address:port
    prefix: Path = Path("var/gateway")
    access_log: str = "stdout"  # "stdout", "off" or a file path
    cors_origins: tuple[str, ...] = ()
    # Per client IP. Generous on purpose: citizens behind one carrier NAT share an address, and the
    # services enforce the business limits per account; this is a flood guard.
    rate_per_s: int = 100
    burst: int = 200
    # Loopback is exempt in dev and test so that benchmarks and e2e runs from this machine are not
    # throttled; prod exempts no one unless told.
    rate_exempt: tuple[str, ...] | None = None
    # Proxies (ingress, load balancer) whose X-Forwarded-For names the real client.
    trusted_proxies: tuple[str, ...] = ()
    client_max_body_size: str = "8m"  # a base64 invoice photo is a few MB
    worker_connections: int = 4096
    upstream_keepalive: int = 64
    proxy_read_timeout_s: int = 30
    test_read_timeout_s: int = 120  # /api/v1/_test/population seeds a population
    # The built web apps (`make web`): citizen/ at /, console/ at /console/, api/docs/ at /api/docs/.
    # None serves no page (an API-only edge, as the benchmarks and most e2e tests run it).
    web_root: Path | None = None

    @property
    def exempt(self) -> tuple[str, ...]:
        if self.rate_exempt is not None:
            return self.rate_exempt
        return LOOPBACK if self.env is not Environment.prod else ()


def _q(value: str) -> str:
    """Quote a value for nginx.conf: single quotes, with `\\` and `'` escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def problem_body(status: int, code: str, detail: str) -> str:
    """A problem+json body for `return`. nginx expands `$tms_request_id`, always [A-Za-z0-9._:-], so the
    JSON stays valid."""
    body = {
        "type": type_uri(code),
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": "__RID__",
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).replace("__RID__", "$tms_request_id")


def _return_problem(status: int, code: str, detail: str) -> list[str]:
    return [
        "default_type application/problem+json;",
        f"return {status} {_q(problem_body(status, code, detail))};",
    ]


def _block(head: str, body: Sequence[str], indent: int = 1) -> list[str]:
    pad = "    " * indent
    return [f"{pad}{head} {{", *(f"{pad}    {line}" for line in body), f"{pad}}}"]


UVICORN_KEEP_ALIVE_S = 5  # uvicorn's default `--timeout-keep-alive`, which the services run with
UPSTREAM_IDLE_S = UVICORN_KEEP_ALIVE_S - 1


# What the built apps contain; the API's own answers keep `default_type application/json`.
STATIC_TYPES = (
    "types { text/html html; text/css css; application/javascript js mjs; image/svg+xml svg; "
    "image/png png; image/x-icon ico; application/json json map; application/yaml yaml yml; "
    "font/woff2 woff2; font/woff woff; }"
)
# The apps load nothing from elsewhere: scripts, styles and fonts come from this origin (Vant and Element
# Plus set inline style attributes, hence 'unsafe-inline' for styles alone).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
IMMUTABLE = "public, max-age=31536000, immutable"  # Vite puts a content hash in every asset's name


def _static_locations(web_root: Path, common_headers: Sequence[str]) -> list[str]:
    """The built apps. index.html is revalidated on every load (`no-cache`), so a deploy reaches every
    phone at its next visit; hashed assets are cached for a year. Unknown paths under an app fall back to
    its index.html (client-side routes); unknown /api/ paths stay a problem+json 404."""
    root = web_root.resolve()

    def headers(cache: str) -> list[str]:
        return [
            *common_headers,
            f"add_header Cache-Control {_q(cache)} always;",
            f"add_header Content-Security-Policy {_q(CONTENT_SECURITY_POLICY)} always;",
            "add_header X-Content-Type-Options nosniff always;",
            "add_header Referrer-Policy same-origin always;",
        ]

    def files(match: str, under: Path, fallback: str, cache: str) -> list[str]:
        return _block(
            f"location {match}",
            [STATIC_TYPES, f"root {under};", f"try_files $uri {fallback};", *headers(cache)],
            2,
        )

    locs: list[str] = []
    locs += _block("location = /console", ["return 301 /console/;"], 2)
    locs += _block("location = /api/docs", ["return 301 /api/docs/;"], 2)
    locs += files("^~ /console/assets/", root, "=404", IMMUTABLE)
    locs += files("^~ /console/", root, "/console/index.html", "no-cache")
    locs += files("^~ /api/docs/", root, "/api/docs/index.html", "no-cache")
    locs += files("^~ /assets/", root / "citizen", "=404", IMMUTABLE)
    locs += files("/", root / "citizen", "/index.html", "no-cache")
    return locs


def _upstream_block(up: Upstream, keepalive: int) -> list[str]:
    body: list[str] = []
    if len(up.servers) > 1:
        # plate-pool's replicas: the hot path holds requests briefly in Redis, so send each new request to
        # the replica with the fewest in flight. None is ever marked down (max_fails=0): nginx counts a slow
        # answer (read timeout) as a failure, so on an overloaded opening morning every replica was marked
        # down at once and the whole API answered 502 "no live upstreams" while they all worked
        # (bench/opening.py). A dead replica refuses the connection, and that request goes to the next
        # (proxy_next_upstream error), POST too, as it was never sent.
        body.append("least_conn;")
        body += [f"server {s.address} max_fails=0;" for s in up.servers]
    else:
        body += [f"server {s.address};" for s in up.servers]
    # nginx must drop an idle upstream connection before uvicorn does (its keep-alive is 5 s): else a
    # POST can be written into a connection the upstream is closing, and nginx does not retry a POST (502).
    body += [
        f"keepalive {keepalive};",
        "keepalive_requests 10000;",
        f"keepalive_timeout {UPSTREAM_IDLE_S}s;",
    ]
    return _block(f"upstream {up.nginx_name}", body)


def _proxy_location(match: str, up: Upstream, extra: Sequence[str] = ()) -> list[str]:
    return _block(f"location {match}", [*extra, f"proxy_pass http://{up.nginx_name};"], indent=2)


def render(table: RouteTable, opts: NginxOptions) -> str:
    prefix = opts.prefix.resolve()
    tmp = prefix / "tmp"
    access = {"stdout": "/dev/stdout", "off": "off"}.get(opts.access_log, opts.access_log)
    is_test_env = opts.env is not Environment.prod

    log_fields = {
        "time": "$time_iso8601",
        "request_id": "$tms_request_id",
        "remote_addr": "$remote_addr",
        "method": "$request_method",
        # the decoded path without its query string (queries can carry phone numbers), with identity
        # numbers and phones masked (ADR 0083)
        "path": "$tms_log_path",
        "status": "$status",
        "bytes": "$body_bytes_sent",
        "duration_s": "$request_time",
        "upstream": "$upstream_addr",
        "upstream_status": "$upstream_status",
        "upstream_s": "$upstream_response_time",
        "traceparent": "$http_traceparent",
        "user_agent": "$http_user_agent",
    }
    numeric = {"status", "bytes", "duration_s"}  # always numbers; the upstream ones can be lists ("502, 200")
    log_format = (
        "{" + ",".join(f'"{k}":{v}' if k in numeric else f'"{k}":"{v}"' for k, v in log_fields.items()) + "}"
    )

    origins = [*((LOCAL_ORIGINS,) if is_test_env else ()), *opts.cors_origins]

    http: list[str] = [
        "server_tokens off;",
        "types { }",
        "default_type application/json;",
        f"client_body_temp_path {tmp}/client_body;",
        f"proxy_temp_path {tmp}/proxy;",
        f"fastcgi_temp_path {tmp}/fastcgi;",
        f"uwsgi_temp_path {tmp}/uwsgi;",
        f"scgi_temp_path {tmp}/scgi;",
        f"log_format tms_json escape=json {_q(log_format)};",
        f"access_log {access} tms_json;" if access != "off" else "access_log off;",
        "tcp_nodelay on;",
        "keepalive_timeout 65s;",
        "keepalive_requests 10000;",
        f"client_max_body_size {opts.client_max_body_size};",
        "client_body_buffer_size 1m;",  # most bodies, small photos included, never touch the disk
        "client_header_timeout 15s;",
        "client_body_timeout 15s;",
        "send_timeout 30s;",
        "# Compresses the web apps' files; proxied API answers are left as the services send them.",
        "gzip on;",
        "gzip_comp_level 6;",
        "gzip_min_length 1024;",
        "gzip_vary on;",
        "gzip_types text/css application/javascript image/svg+xml application/json application/yaml;",
        "",
        "# The access log's path: identity numbers (licence numbers are identity numbers) and phones in it",
        "# are masked, the way servicekit.masking shows them; a path holding more of them than the passes",
        "# mask is not logged at all.",
        *_log_path_maps(),
        "",
        "# An answer that says nothing about caching is never stored (tokens and personal data); a",
        "# service's own Cache-Control (public reference data) passes as it is.",
        *_map_block(
            "$upstream_http_cache_control $tms_cache_control", [('""', "no-store"), ("default", '""')]
        ),
        "",
        "# A client's X-Request-ID is kept when it is a sane token; otherwise nginx's own $request_id.",
        *_map_block(
            "$http_x_request_id $tms_request_id",
            [(_q("~^[A-Za-z0-9._:-]{1,128}$"), "$http_x_request_id"), ("default", "$request_id")],
        ),
    ]
    if opts.trusted_proxies:
        http += [f"set_real_ip_from {cidr};" for cidr in opts.trusted_proxies]
        http += ["real_ip_header X-Forwarded-For;", "real_ip_recursive on;"]
    http += [
        "",
        "# Rate limit per client address; an empty key (exempt addresses) is not limited.",
        *_geo_block("$tms_rate_exempt", [(cidr, "1") for cidr in opts.exempt]),
        *_map_block("$tms_rate_exempt $tms_rate_key", [("1", '""'), ("default", "$binary_remote_addr")]),
        f"limit_req_zone $tms_rate_key zone=tms_per_ip:20m rate={opts.rate_per_s}r/s;",
        "limit_req_status 429;",
        "limit_req_log_level warn;",
        "",
        "# CORS: echo the origin only when it is allowed; an empty value makes add_header send nothing.",
        *_map_block(
            "$http_origin $tms_cors_origin",
            [("default", '""'), *((_q(o), "$http_origin") for o in origins)],
        ),
        *_map_block(
            '"$request_method:$http_access_control_request_method" $tms_cors_preflight',
            [("default", "0"), (_q("~^OPTIONS:."), "1")],
        ),
        *_map_block(
            "$tms_cors_origin $tms_cors_expose", [('""', '""'), ("default", _q(CORS_EXPOSE_HEADERS))]
        ),
        *_map_block(
            "$tms_cors_preflight $tms_cors_methods", [("1", _q(CORS_ALLOW_METHODS)), ("default", '""')]
        ),
        *_map_block(
            "$tms_cors_preflight $tms_cors_headers", [("1", _q(CORS_ALLOW_HEADERS)), ("default", '""')]
        ),
        *_map_block("$tms_cors_preflight $tms_cors_max_age", [("1", "600"), ("default", '""')]),
        "",
    ]
    http_lines = [f"    {line}" if line else "" for line in http]
    for up in (*table.upstreams.values(), table.gateway):
        http_lines += _upstream_block(up, opts.upstream_keepalive if up is not table.gateway else 16)
    http_lines += ["", *_server(table, opts, is_test_env)]

    head = [
        "# Generated by `python -m gateway_service.nginx` from gateway_service.routes; do not edit.",
        f"# env={opts.env.value}",
        "daemon off;",
        "worker_processes auto;",
        "worker_rlimit_nofile 16384;",
        f"pid {prefix}/nginx.pid;",
        "error_log stderr warn;",
        "",
        "events {",
        f"    worker_connections {opts.worker_connections};",
        "}",
        "",
        "http {",
    ]
    return "\n".join([*head, *http_lines, "}", ""])


# Masks, in servicekit.masking's shapes, the first identity number (`1301**********1234`) or mobile
# number (`138****5678`) of a path; each pass masks one more. `(?s)`: a decoded path may hold a newline.
_PATH_MASKS: tuple[tuple[str, str], ...] = (
    (r"~(?s)^(.*?)(?<![0-9])([1-9][0-9]{3})[0-9]{10}([0-9]{3}[0-9Xx])(?![0-9])(.*)$", "$1$2**********$3$4"),
    (r"~(?s)^(.*?)(?<![0-9])(1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9])(.*)$", "$1$2****$3$4"),
)
LOG_MASK_PASSES = 3
# What is still long enough to be one of them after the passes: the path is withheld.
_UNMASKED = r"~(?<![0-9])(?:[0-9]{11}|[1-9][0-9]{16}[0-9Xx])(?![0-9])"


def _log_path_maps() -> list[str]:
    lines: list[str] = []
    source = "$uri"
    for n in range(1, LOG_MASK_PASSES + 1):
        target = f"$tms_log_path_{n}"
        lines += _map_block(
            f"{source} {target}", [*((_q(k), _q(v)) for k, v in _PATH_MASKS), ("default", source)]
        )
        source = target
    lines += _map_block(
        f"{source} $tms_log_path", [(_q(_UNMASKED), _q("(withheld: too many numbers)")), ("default", source)]
    )
    return lines


def _map_block(head: str, entries: Sequence[tuple[str, str]]) -> list[str]:
    return [f"map {head} {{", *(f"    {k} {v};" for k, v in entries), "}"]


def _geo_block(var: str, entries: Sequence[tuple[str, str]]) -> list[str]:
    return [f"geo {var} {{", "    default 0;", *(f"    {k} {v};" for k, v in entries), "}"]


def _server(table: RouteTable, opts: NginxOptions, is_test_env: bool) -> list[str]:
    edge_errors = _edge_errors(opts)
    # Every response, errors included, carries these. A location with its own add_header loses them
    # (nginx inherits add_header only into locations that have none), so only @tms_rate_limited adds any.
    common_headers = [
        "add_header X-Request-ID $tms_request_id always;",
        "add_header Access-Control-Allow-Origin $tms_cors_origin always;",
        "add_header Access-Control-Expose-Headers $tms_cors_expose always;",
        "add_header Access-Control-Allow-Methods $tms_cors_methods always;",
        "add_header Access-Control-Allow-Headers $tms_cors_headers always;",
        "add_header Access-Control-Max-Age $tms_cors_max_age always;",
        "add_header Vary Origin always;",
    ]
    if not is_test_env:
        # Prod is reached only over the ingress's TLS (ADR 0094): browsers keep to HTTPS for a year.
        common_headers.append(f"add_header Strict-Transport-Security {_q(HSTS)} always;")
    # API answers and the edge's own: no caching unless the service said otherwise. Not for the web apps'
    # files, which set their own.
    api_headers = [*common_headers, "add_header Cache-Control $tms_cache_control always;"]
    body: list[str] = [
        f"listen {opts.listen};",
        "server_name _;",
        *api_headers,
        "",
        "# A preflight is answered here; the services never see OPTIONS.",
        "if ($tms_cors_preflight) {",
        "    return 204;",
        "}",
        "",
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',  # keep upstream connections alive
        "proxy_set_header Host $host;",
        "proxy_set_header X-Request-ID $tms_request_id;",
        "# The client's address as decided here (behind trusted load balancers, by real_ip): exactly one",
        "# address, overwriting whatever the caller sent, so the services never read a caller's own list.",
        "proxy_set_header X-Forwarded-For $remote_addr;",
        'proxy_set_header X-Real-IP "";',
        'proxy_set_header Forwarded "";',
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Forwarded-Host $host;",
        "# traceparent and tracestate pass through untouched (nginx forwards client headers as they are).",
        "proxy_hide_header Access-Control-Allow-Origin;",  # the edge alone decides CORS
        "proxy_hide_header X-Request-ID;",  # the service echoes the id it was given; the edge sends it once
        "proxy_connect_timeout 2s;",
        "proxy_send_timeout 30s;",
        f"proxy_read_timeout {opts.proxy_read_timeout_s}s;",
        "# Only idempotent requests are retried on another replica (nginx never resends POST or PATCH).",
        "proxy_next_upstream error timeout http_502 http_503;",
        "proxy_next_upstream_tries 2;",
        f"limit_req zone=tms_per_ip burst={opts.burst} nodelay;",
        "",
        "# Errors nginx itself makes become problem+json; the services' own errors pass through untouched",
        "# (proxy_intercept_errors is off).",
        *(f"error_page {status} {EDGE_ERRORS}{name};" for status, name, _ in edge_errors),
        "error_page 429 @tms_rate_limited;",
        "",
    ]
    locs: list[str] = [f"        {line}" if line else "" for line in body]
    locs += _block("location = /healthz", ["access_log off;", 'return 200 \'{"status":"ok"}\\n\';'], 2)
    for path in GATEWAY_PATHS:
        locs += _proxy_location(f"= {path}", table.gateway)
    # Without this, nginx answers /api/v1/_test (no slash) with a 301 to the proxied prefix location.
    locs += _block(
        f"location = {TEST_PREFIX.rstrip('/')}",
        _return_problem(404, "ROUTE_NOT_FOUND", "no service answers this path"),
        2,
    )
    if is_test_env:
        locs += _proxy_location(
            f"^~ {TEST_PREFIX}", table.gateway, [f"proxy_read_timeout {opts.test_read_timeout_s}s;"]
        )
    else:
        locs += _block(
            f"location ^~ {TEST_PREFIX}",
            _return_problem(404, "ROUTE_NOT_FOUND", "test endpoints do not exist in prod"),
            2,
        )
    for route in table.routes:
        up = table.upstreams[route.upstream]
        if route.open_ended:
            locs += _proxy_location(f"^~ {route.prefix}", up)
        else:
            locs += _proxy_location(f"= {route.prefix}", up)
            locs += _proxy_location(f"^~ {route.prefix}/", up)
    not_found = _return_problem(404, "ROUTE_NOT_FOUND", "no service answers this path")
    if opts.web_root is None:
        locs += _block("location /", not_found, 2)
    else:
        locs += _block("location ^~ /api/", not_found, 2)
        locs += _static_locations(opts.web_root, common_headers)
    locs += _block(
        "location @tms_rate_limited",
        [
            *api_headers,
            "add_header Retry-After 1 always;",
            *_return_problem(429, "RATE_LIMITED", "too many requests from this address; retry later"),
        ],
        2,
    )
    for _, name, answer in edge_errors:
        locs += _block(f"location = {EDGE_ERRORS}{name}", ["internal;", *answer], 2)
    return ["    server {", *locs, "    }"]


# Internal locations of the edge's own errors. Not named (@...) locations: nginx cannot redirect a request
# whose request line it could not parse to a named location (it answers its own HTML 500 instead).
EDGE_ERRORS = "/_tms_edge_error/"


def _edge_errors(opts: NginxOptions) -> list[tuple[str, str, list[str]]]:
    """Every error nginx answers itself, as (status nginx gives it, location name, problem answer).
    494 is nginx's own status for a header too large (it would send it as 400): answered as 431."""
    return [
        ("400", "bad_request", _return_problem(400, "BAD_REQUEST", "the request is not valid HTTP")),
        ("403", "forbidden", _return_problem(403, "FORBIDDEN", "this path may not be read")),
        ("404", "not_found", _return_problem(404, "ROUTE_NOT_FOUND", "nothing is served at this path")),
        ("405", "method", _return_problem(405, "METHOD_NOT_ALLOWED", "this method is not served here")),
        (
            "408",
            "request_timeout",
            _return_problem(408, "REQUEST_TIMEOUT", "the request came too slowly"),
        ),
        ("411", "length", _return_problem(411, "LENGTH_REQUIRED", "the body needs a Content-Length")),
        (
            "413",
            "too_large",
            _return_problem(413, "PAYLOAD_TOO_LARGE", f"the body exceeds {opts.client_max_body_size}"),
        ),
        ("414", "uri_too_long", _return_problem(414, "URI_TOO_LONG", "the path and query are too long")),
        (
            "494 =431",
            "header_too_large",
            _return_problem(431, "REQUEST_HEADER_FIELDS_TOO_LARGE", "a request header is too large"),
        ),
        ("500", "internal", _return_problem(500, "INTERNAL_ERROR", "the edge failed to answer")),
        (
            "501",
            "not_implemented",
            _return_problem(501, "NOT_IMPLEMENTED", "this transfer encoding or method is not supported"),
        ),
        (
            "502",
            "unavailable",
            _return_problem(502, "UPSTREAM_UNAVAILABLE", "the service for this path is not answering"),
        ),
        (
            "503",
            "no_upstream",
            _return_problem(503, "UPSTREAM_UNAVAILABLE", "the service for this path is not answering"),
        ),
        (
            "504",
            "timeout",
            _return_problem(504, "UPSTREAM_TIMEOUT", "the service for this path did not answer in time"),
        ),
        (
            "505",
            "http_version",
            _return_problem(505, "HTTP_VERSION_NOT_SUPPORTED", "only HTTP/1.0 and HTTP/1.1 are served"),
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    settings = GatewaySettings()
    parser = argparse.ArgumentParser(
        prog="python -m gateway_service.nginx", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="where to write nginx.conf")
    parser.add_argument("--env", choices=[e.value for e in Environment], default=settings.env.value)
    parser.add_argument("--listen", default=None, help="port or address:port (default: topology.json edge)")
    parser.add_argument(
        "--prefix", type=Path, default=None, help="nginx prefix dir for pid/temp (default: --out's dir)"
    )
    parser.add_argument("--access-log", default="stdout", help='"stdout", "off" or a file path')
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=None,
        help="allowed browser origin (repeat); default TMS_GATEWAY__CORS_ORIGINS; dev/test add localhost",
    )
    parser.add_argument(
        "--web-root", type=Path, default=None, help="the built web apps (web/dist) to serve; none by default"
    )
    parser.add_argument("--rate", type=int, default=NginxOptions.rate_per_s, help="requests/s per client IP")
    parser.add_argument("--burst", type=int, default=NginxOptions.burst)
    parser.add_argument(
        "--rate-exempt",
        action="append",
        default=None,
        help="CIDR not rate limited (repeat; default loopback in dev/test)",
    )
    parser.add_argument(
        "--trusted-proxy", action="append", default=[], help="CIDR whose X-Forwarded-For is believed (repeat)"
    )
    args = parser.parse_args(argv)

    table = settings.route_table()
    out: Path = args.out
    prefix: Path = args.prefix or out.parent
    opts = NginxOptions(
        env=Environment(args.env),
        listen=args.listen or str(table.edge_port),
        prefix=prefix,
        access_log=args.access_log,
        cors_origins=tuple(args.cors_origin if args.cors_origin is not None else settings.cors_origins),
        rate_per_s=args.rate,
        burst=args.burst,
        rate_exempt=tuple(args.rate_exempt) if args.rate_exempt is not None else None,
        trusted_proxies=tuple(args.trusted_proxy),
        web_root=args.web_root,
    )
    # nginx creates each temp dir itself but not its parent.
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = render(table, opts)
    tmp_out = out.with_suffix(out.suffix + ".tmp")
    tmp_out.write_text(text, encoding="utf-8")
    os.replace(tmp_out, out)  # a running nginx reloading mid-write never reads half a file
    print(
        f"wrote {out} (env={opts.env.value}, listen={opts.listen}, prefix={prefix.resolve()})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
