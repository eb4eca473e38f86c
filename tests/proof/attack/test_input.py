"""Bad input on every operation, through the gateway: each answer is a problem+json 4xx, never a 5xx,
never an HTML or text page.

The probes are generated from the merged OpenAPI document (web/packages/api/openapi.json, which
`make lint` keeps current) for every operation and each of its path, query and header parameters and
body fields: control characters (NUL, C0, DEL, lone surrogates), path traversal and encoded slashes,
very long ids, invalid UTF-8, integers beyond 64 bits, 1e400, NaN, deep nesting, garbage bodies and
cursors, limits of -1, 0, 10^9 and "abc", bodies over the edge's limit. Each operation is called with a
token that reaches it where one of three accounts (a clerk of every post, a citizen, the police system)
does, unauthenticated otherwise (its 401 must be problem+json too).

The stack is real: identity, vehicle, license, plate-pool, violation and notify behind the gateway and
nginx (tests/e2e/stack.py). `test_every_operation_answers_bad_input_with_a_problem` is CI's part;
`test_every_character_class_on_every_field` (marked proof, `make proof-attack`) tries every refused
character class on every field and parameter separately.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from servicekit.testing import new_phone, new_resident_id
from tests.e2e.stack import Person, gateway_stack, login, make_accounts, system_login

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
OPENAPI = ROOT / "web" / "packages" / "api" / "openapi.json"
FAILURES = ROOT / "var" / "proof" / "attack" / "input-failures.txt"  # every failed probe of the last run
SERVICES = ("vehicle", "license", "plate-pool", "violation", "notify")
METHODS = ("get", "put", "post", "patch", "delete")
STAFF_ROLES = ["clerk.intake", "clerk.review", "clerk.archive", "clerk.admin"]
EDGE_LIMIT = 8 * 1024 * 1024  # nginx's client_max_body_size (gateway_service.nginx)
WORKERS = 6  # parallel probes: the stack, not the client, is what is measured
REPORTED = 60  # failures listed in the assertion message

# A sample value for each pattern the document uses (a generator of strings from regexes would be
# overkill for twelve patterns); unknown patterns fall back to "x".
PATTERN_SAMPLES = {
    r"^[0-9A-Z]{6,32}$": "ABC123",
    r"^[0-9A-Za-z_-]+$": "abc",
    r"^[0-9Xx]+$": "110101199003070011",
    r"^[A-Za-z0-9]+$": "abc1",
    r"^[^@\s]+@[^@\s]+$": "a@example.cn",
    r"^[^\x00]*$": "x",
    r"^[a-z_]{1,64}$": "abc",
    r"^\d{12}$": "130100000000",
    r"^\d{2}$": "13",
    r"^\d{4,10}$": "1234",
    r"^\d{4,5}$": "1234",
    r"^\d{6}$": "130100",
}
FORMAT_SAMPLES = {
    "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "date": "2027-03-01",
    "date-time": "2027-03-01T08:00:00+08:00",
    "time": "08:00:00",
    "binary": "x",
}
# Valid-looking values for fields by name, so a probe of one field reaches the handler past the others.
NAME_SAMPLES: dict[str, Any] = {
    "id_number": new_resident_id(),
    "owner_id_number": new_resident_id(),
    "phone": new_phone(),
    "office_code": "130100",
    "city_code": "130100",
    "vin": "LSVAM4187C2184847",
    "plate_number": "冀A12345",
    "password": "Passw0rd2027",
    "new_password": "Passw0rd2028",
}

# What a refused character looks like in each place: JSON text (escaped), a URL (percent-encoded).
CONTROL_JSON = {"nul": "\\u0000", "c0": "\\u001b", "del": "\\u007f", "surrogate": "\\ud800"}
CONTROL_URL = {"nul": "%00", "c0": "%1B", "del": "%7F", "surrogate": "%ED%A0%80"}

Doc = dict[str, Any]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the template, /api/v1/vehicles/{vehicle_id}
    spec: Doc

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.path}"

    def parameters(self, where: str) -> list[Doc]:
        return [p for p in self.spec.get("parameters", []) if p["in"] == where]

    @property
    def body_types(self) -> list[str]:
        return list(self.spec.get("requestBody", {}).get("content", {}))


@dataclass
class Probe:
    operation: Operation
    what: str  # e.g. "path vehicle_id: traversal"
    path: str  # raw, percent-encoded, with the query string
    body: bytes | None = None
    content_type: str | None = None
    headers: dict[str, str | bytes] = field(default_factory=dict)
    # The input is wrong whatever the operation: only a 4xx will do. Otherwise (a free-text filter of
    # "NaN", a 1 MB note, a CSV upload) the operation may take it, but never with a 5xx or a non-problem.
    must_refuse: bool = True

    def describe(self) -> str:
        return f"{self.operation.name} [{self.what}]"


def operations(doc: Doc) -> list[Operation]:
    return [
        Operation(method, path, item[method])
        for path, item in sorted(doc["paths"].items())
        for method in METHODS
        if isinstance(item.get(method), dict)
    ]


class Samples:
    """Valid-looking values from the document's schemas (the probes change one thing each)."""

    def __init__(self, doc: Doc) -> None:
        self.schemas: Doc = doc.get("components", {}).get("schemas", {})

    def resolve(self, schema: Doc) -> Doc:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def value(self, schema: Doc, name: str = "", depth: int = 0) -> Any:
        schema = self.resolve(schema)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [s for s in schema[key] if self.resolve(s).get("type") != "null"]
                return self.value(options[0], name, depth) if options else None
        if "allOf" in schema:
            return self.value(schema["allOf"][0], name, depth)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        if "default" in schema and schema["default"] is not None:
            return schema["default"]
        if schema.get("examples"):
            return schema["examples"][0]
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            if depth > 6:
                return {}
            props: Doc = schema.get("properties", {})
            return {key: self.value(sub, key, depth + 1) for key, sub in props.items()}
        if kind == "array":
            item = self.value(schema.get("items", {}), name, depth + 1)
            return [item] * max(1, schema.get("minItems", 1))
        if kind == "integer":
            return max(int(schema.get("minimum", 1)), 1)
        if kind == "number":
            return float(max(schema.get("minimum", 1), 1))
        if kind == "boolean":
            return False
        if kind == "string":
            return self.string(schema, name)
        return "x"

    def constrained(self, schema: Doc, keys: tuple[str, ...] = ("format", "enum")) -> bool:
        """Whether a parameter takes only some strings (a number, a date, a uuid, an enum; `keys` more):
        a free-text filter may take "NaN" or "-1" and find nothing. (Not every pattern constrains:
        `^[^\\x00]*$` takes "NaN".)"""
        schema = self.resolve(schema)
        options = schema.get("anyOf", [schema])
        return any(
            self.resolve(o).get("type") in ("integer", "number") or any(k in self.resolve(o) for k in keys)
            for o in options
        )

    def string(self, schema: Doc, name: str) -> str:
        if name in NAME_SAMPLES and not schema.get("format"):
            return str(NAME_SAMPLES[name])
        if schema.get("format") in FORMAT_SAMPLES:
            return FORMAT_SAMPLES[schema["format"]]
        text = PATTERN_SAMPLES.get(schema.get("pattern", ""), "x")
        return text.ljust(schema.get("minLength", 0), "x")[: schema.get("maxLength", 10_000)]


def string_paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Where the strings are in a sample body: key paths (object keys and list indexes)."""
    if isinstance(value, str):
        yield at
    elif isinstance(value, dict):
        for key, sub in value.items():
            yield from string_paths(sub, (*at, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value[:1]):
            yield from string_paths(sub, (*at, index))


def leaves(value: Any, kind: type, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, kind) and not isinstance(value, bool):
        yield at
    elif isinstance(value, dict):
        for key, sub in value.items():
            yield from leaves(sub, kind, (*at, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value[:1]):
            yield from leaves(sub, kind, (*at, index))


MARK = "\ufffe_MARK_\ufffe"  # placeholder replaced by raw JSON text after dumping


def with_raw(body: Any, at: tuple[Any, ...], raw: str) -> bytes:
    """The body's JSON with the value at `at` replaced by the raw JSON text `raw` (which json.dumps could
    not write: 1e400, NaN, an escaped lone surrogate, a 5000-digit integer)."""
    copy = json.loads(json.dumps(body))
    target = copy
    for key in at[:-1]:
        target = target[key]
    if at:
        target[at[-1]] = MARK
        text = json.dumps(copy, ensure_ascii=False)
        return text.replace(json.dumps(MARK, ensure_ascii=False), raw).encode("utf-8", "surrogatepass")
    return raw.encode("utf-8", "surrogatepass")


def everywhere(body: Any, raw: str) -> bytes:
    """The body's JSON with every string replaced by the raw JSON text `raw`."""

    def mark(value: Any) -> Any:
        if isinstance(value, str):
            return MARK
        if isinstance(value, dict):
            return {key: mark(sub) for key, sub in value.items()}
        if isinstance(value, list):
            return [mark(sub) for sub in value]
        return value

    text = json.dumps(mark(body), ensure_ascii=False)
    return text.replace(json.dumps(MARK, ensure_ascii=False), raw).encode("utf-8", "surrogatepass")


def field_name(at: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in at) or "(body)"


def query_string(pairs: dict[str, str]) -> str:
    return "&".join(f"{quote(k)}={v}" for k, v in pairs.items())


class ProbeMaker:
    def __init__(self, doc: Doc, *, every_class: bool) -> None:
        self.samples = Samples(doc)
        self.paths: Doc = doc["paths"]
        self.every_class = every_class
        # Bodies over nginx's limit (8m) cost a few MB each: CI sends one to every upload and to one
        # operation of each upstream; the proof to every operation with a body.
        self.edge_limit_probed: set[str] = set()
        upstreams: set[str] = set()
        for op in operations(doc):
            kind = op.body_types[0] if op.body_types else None
            upstream = doc["paths"][op.path].get("x-upstream", "")
            if kind is not None and (kind != "application/json" or upstream not in upstreams):
                self.edge_limit_probed.add(op.name)
                upstreams.add(upstream)

    def base(self, op: Operation) -> tuple[dict[str, str], dict[str, str], dict[str, str | bytes]]:
        """Sample (percent-encoded) path values, required query values, headers."""
        path = {
            p["name"]: quote(str(self.samples.value(p["schema"], p["name"])), safe="")
            for p in op.parameters("path")
        }
        query = {
            p["name"]: quote(str(self.samples.value(p["schema"], p["name"])), safe="")
            for p in op.parameters("query")
            if p.get("required")
        }
        wants_key = any(p["name"] == "Idempotency-Key" for p in op.parameters("header"))
        headers: dict[str, str | bytes] = {"Idempotency-Key": uuid.uuid4().hex} if wants_key else {}
        return path, query, headers

    def url(self, op: Operation, path: dict[str, str], query: dict[str, str]) -> str:
        url = op.path
        for name, value in path.items():
            url = url.replace("{" + name + "}", value)
        return url + ("?" + query_string(query) if query else "")

    def upstream(self, op: Operation) -> str:
        return str(self.paths[op.path].get("x-upstream", ""))

    def sample_body(self, op: Operation) -> tuple[str | None, Any]:
        types = op.body_types
        if not types:
            return None, None
        kind = "application/json" if "application/json" in types else types[0]
        schema = op.spec["requestBody"]["content"][kind].get("schema", {})
        return kind, self.samples.value(schema) if kind == "application/json" else None

    def sample_request(self, op: Operation) -> Probe:
        path, query, headers = self.base(op)
        kind, body = self.sample_body(op)
        raw = json.dumps(body).encode() if kind == "application/json" else (b"x" if kind else None)
        return Probe(op, "sample", self.url(op, path, query), raw, kind, headers)

    def classes(self) -> list[str]:
        return list(CONTROL_JSON) if self.every_class else ["nul"]

    def probes(self, op: Operation) -> Iterator[Probe]:
        path, query, headers = self.base(op)
        kind, body = self.sample_body(op)
        sample_raw = json.dumps(body).encode() if kind == "application/json" else (b"x" if kind else None)

        def probe(
            what: str,
            *,
            p: dict[str, str] | None = None,
            q: dict[str, str] | None = None,
            raw: bytes | None = sample_raw,
            content_type: str | None = kind,
            extra: dict[str, str | bytes] | None = None,
            refuse: bool = True,
        ) -> Probe:
            return Probe(
                op,
                what,
                self.url(op, {**path, **(p or {})}, q if q is not None else query),
                raw,
                content_type,
                {**headers, **(extra or {})},
                refuse,
            )

        for param in op.parameters("path"):
            name = param["name"]
            values = {
                "traversal": "..%2F..%2F..%2Fetc%2Fpasswd",
                "dot-dot": "%2e%2e",
                "encoded slash": "a%2Fb",
                "long id": "a" * 4000,
                "invalid utf-8": "%FF%FE",
                "huge number": "9" * 40,
                **{f"control {c}": "a" + CONTROL_URL[c] + "b" for c in self.classes()},
            }
            for label, value in values.items():
                # A free-text id (a bank's name, a reference) may be 40 digits; every other probe here is
                # no id of anything: `..`, an encoded slash, thousands of characters, control characters.
                refuse = label != "huge number" or self.samples.constrained(
                    param["schema"], ("format", "enum", "pattern")
                )
                yield probe(f"path {name}: {label}", p={name: value}, refuse=refuse)
        for param in op.parameters("query"):
            name = param["name"]
            typed = self.samples.constrained(param["schema"])
            bounded = typed or "maxLength" in json.dumps(param["schema"])
            values = {
                "invalid utf-8": "%FF%FE",
                "long": "a" * 4000,
                "huge number": "9" * 40,
                "1e400": "1e400",
                "NaN": "NaN",
                "negative": "-1",
                **{f"control {c}": "a" + CONTROL_URL[c] + "b" for c in self.classes()},
            }
            if name == "limit":
                values |= {
                    "limit -1": "-1",
                    "limit 0": "0",
                    "limit 10^9": "1000000000",
                    "limit abc": "abc",
                    "limit 1.5": "1.5",
                }
            if name == "cursor":
                values |= {
                    "garbage cursor": "garbage",
                    "base64 junk": "eyJ4IjoxfQ",
                    "cursor !!": "%21%21%21",
                    "cursor json": quote('{"k":[1,2]}', safe=""),
                    "cursor NaN": "NaN",
                    "cursor padding": "AAAA====",
                    "cursor long": "A" * 1024,
                }
            for label, value in values.items():
                refuse = (
                    label.startswith(("control", "invalid", "limit", "cursor", "garbage", "base64"))
                    or (typed and label != "negative")  # "-1" is a date-time to pydantic (epoch seconds)
                    or (bounded and label == "long")
                )
                yield probe(f"query {name}: {label}", q={**query, name: value}, refuse=refuse)
        # Every operation, whatever it declares: an undeclared query parameter is read by nobody, but a NUL
        # in it is refused like anywhere else (the check is the request's, not a model's).
        # (The gateway app's own /readyz reads no query: not one of the services' routes, which all check.)
        yield probe(
            "query (undeclared): control nul",
            q={**query, "zz": "a%00b"},
            refuse=self.upstream(op) != "gateway",
        )
        for param in op.parameters("header"):
            name = param["name"]
            yield probe(f"header {name}: long", extra={name: "k" * 4000})
            yield probe(f"header {name}: non-ascii", extra={name: "ключ-é".encode()}, refuse=False)
        if kind == "application/json":
            yield from self.json_probes(op, body, probe)
        elif kind is not None:
            yield from self.raw_body_probes(kind, probe)
        if kind is not None and (self.every_class or op.name in self.edge_limit_probed):
            oversized = b"[" + b"0," * (EDGE_LIMIT // 2) + b"0]"
            yield probe("body over the edge's limit", raw=oversized)

    def json_probes(self, op: Operation, body: Any, probe: Any) -> Iterator[Probe]:
        for at in string_paths(body):
            for c in self.classes():
                yield probe(
                    f"body {field_name(at)}: control {c}", raw=with_raw(body, at, f'"a{CONTROL_JSON[c]}b"')
                )
        if not self.every_class:  # the other classes once per body, in every string at once
            for c in ("c0", "del", "surrogate"):
                if any(string_paths(body)):
                    yield probe(
                        f"body every string: control {c}", raw=everywhere(body, f'"a{CONTROL_JSON[c]}b"')
                    )
        for at in leaves(body, int):
            yield probe(f"body {field_name(at)}: 2^64", raw=with_raw(body, at, str(2**64)))
            yield probe(f"body {field_name(at)}: 5000 digits", raw=with_raw(body, at, "9" * 5000))
        for at in [*leaves(body, int), *leaves(body, float)][:3]:
            yield probe(f"body {field_name(at)}: 1e400", raw=with_raw(body, at, "1e400"))
            yield probe(f"body {field_name(at)}: NaN", raw=with_raw(body, at, "NaN"))
        for at in list(string_paths(body))[:1]:
            yield probe(
                f"body {field_name(at)}: 1 MB",
                raw=with_raw(body, at, '"' + "x" * 1_000_000 + '"'),
                refuse=False,
            )
            yield probe(f"body {field_name(at)}: number", raw=with_raw(body, at, "1e400"))
            yield probe(f"body {field_name(at)}: deep object", raw=with_raw(body, at, "[" * 50 + "]" * 50))
        yield probe("body deeply nested", raw=b"[" * 100_000 + b"]" * 100_000)
        yield probe("body deeply nested object", raw=b'{"a":' * 20_000 + b"1" + b"}" * 20_000)
        yield probe("body invalid utf-8", raw=b'{"x": "\xff\xfe\xed\xa0\x80"}')
        yield probe("body not json", raw=b"garbage")
        yield probe("body empty", raw=b"", refuse=False)  # an optional body may be left out
        yield probe("body null", raw=b"null")
        yield probe("body array", raw=b"[]")
        yield probe("body NaN", raw=b"NaN")
        yield probe("body as text/plain", content_type="text/plain", refuse=False)
        yield probe("body as form", raw=b"a=%00b&c=d", content_type="application/x-www-form-urlencoded")

    def raw_body_probes(self, kind: str, probe: Any) -> Iterator[Probe]:
        # An upload is the route's own to read: a CSV import may take a file and report its lines refused.
        yield probe("upload with NUL", raw=b"a,b\x00c\n1,2\x00\n", refuse=False)
        yield probe("upload invalid utf-8", raw=b"\xff\xfe\xed\xa0\x80\n" * 10, refuse=False)
        yield probe("upload empty", raw=b"", refuse=False)
        yield probe("upload json-ish", raw=b'{"a":' * 5000, refuse=False)
        yield probe("upload as json", raw=b"{}", content_type="application/json", refuse=False)


@dataclass
class Outcome:
    probe: Probe
    status: int
    content_type: str
    problem: bool

    @property
    def fine(self) -> bool:
        if self.probe.must_refuse:
            return 400 <= self.status < 500 and self.problem
        return 0 < self.status < 500 and (self.status < 400 or self.problem)


def send(client: httpx.Client, base: str, token: dict[str, str], probe: Probe) -> Outcome:
    fields: dict[str, str | bytes] = {**token, **probe.headers}
    if probe.content_type is not None:
        fields["Content-Type"] = probe.content_type
    headers = [(k.encode(), v if isinstance(v, bytes) else v.encode()) for k, v in fields.items()]
    url = httpx.URL(base).copy_with(raw_path=probe.path.encode("ascii"))
    try:
        r = client.request(probe.operation.method.upper(), url, content=probe.body, headers=headers)
    except httpx.HTTPError as exc:
        return Outcome(probe, 0, f"no answer: {type(exc).__name__}", False)
    content_type = r.headers.get("content-type", "")
    problem = False
    if content_type.startswith("application/problem+json"):
        try:
            body = r.json()
        except ValueError:
            body = None
        problem = isinstance(body, dict) and body.get("status") == r.status_code and bool(body.get("code"))
    return Outcome(probe, r.status_code, content_type, problem)


@dataclass
class Platform:
    base: str
    tokens: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    with gateway_stack(SERVICES) as base:
        citizen = Person(new_resident_id(), new_phone())
        names = make_accounts({"staff": STAFF_ROLES}, [citizen])
        with httpx.Client(base_url=base, timeout=30) as gw:
            tokens = {
                "staff": login(gw, names["staff"]),
                "citizen": login(gw, citizen.id_number),
                "system": system_login(gw, names["system"]),
            }
        yield Platform(base, tokens)


def token_for(client: httpx.Client, platform: Platform, maker: ProbeMaker, op: Operation) -> dict[str, str]:
    """The first account whose sample request is not refused for who it is (401/403); none otherwise."""
    if not op.spec.get("security"):
        return {}
    sample = maker.sample_request(op)
    for token in platform.tokens.values():
        if send(client, platform.base, token, sample).status not in (401, 403):
            return token
    return {}


def run(platform: Platform, *, every_class: bool) -> tuple[list[Outcome], float]:
    doc = json.loads(OPENAPI.read_text(encoding="utf-8"))
    maker = ProbeMaker(doc, every_class=every_class)
    ops = operations(doc)
    started = time.monotonic()
    limits = httpx.Limits(max_connections=WORKERS * 2)
    with httpx.Client(timeout=60, limits=limits) as client, ThreadPoolExecutor(WORKERS) as pool:
        tokens = list(pool.map(lambda op: token_for(client, platform, maker, op), ops))
        work = [(token, probe) for op, token in zip(ops, tokens, strict=True) for probe in maker.probes(op)]
        outcomes = list(pool.map(lambda item: send(client, platform.base, *item), work))
    return outcomes, time.monotonic() - started


def verdict(outcomes: list[Outcome]) -> tuple[dict[str, int], list[str]]:
    figures = {
        "input_probes": len(outcomes),
        "input_operations": len({o.probe.operation.name for o in outcomes}),
        "errors_5xx": sum(1 for o in outcomes if o.status >= 500 or o.status == 0),
        "not_problem_json": sum(1 for o in outcomes if o.status >= 400 and not o.problem),
        "bad_input_taken": sum(1 for o in outcomes if o.probe.must_refuse and 0 < o.status < 400),
    }
    bad = [f"{o.status} {o.content_type or '-'}: {o.probe.describe()}" for o in outcomes if not o.fine]
    FAILURES.parent.mkdir(parents=True, exist_ok=True)
    FAILURES.write_text("".join(line + "\n" for line in bad), encoding="utf-8")
    return figures, bad


def test_every_operation_answers_bad_input_with_a_problem(platform: Platform, record_figures: Any) -> None:
    outcomes, took = run(platform, every_class=False)
    figures, bad = verdict(outcomes)
    record_figures("input", {**figures, "input_run_s": round(took, 1)})
    assert figures["input_operations"] == len(
        operations(json.loads(OPENAPI.read_text(encoding="utf-8")))
    )  # the whole document, not a part of it
    assert not bad, f"{len(bad)} of {len(outcomes)} probes not a problem+json 4xx:\n" + "\n".join(
        bad[:REPORTED]
    )


@pytest.mark.proof
def test_every_character_class_on_every_field(platform: Platform, record_figures: Any) -> None:
    outcomes, took = run(platform, every_class=True)
    figures, bad = verdict(outcomes)
    record_figures("input-every-class", {**figures, "input_run_s": round(took, 1)})
    assert not bad, f"{len(bad)} of {len(outcomes)} probes not a problem+json 4xx:\n" + "\n".join(
        bad[:REPORTED]
    )
