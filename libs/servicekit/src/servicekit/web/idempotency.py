"""`Idempotency-Key` for the POSTs that create or pay: a repeat returns the first answer.

Use inside an endpoint:

    @router.post("/api/v1/payments", status_code=201)
    async def pay(request: Request, body: PaymentIn, principal: CurrentPrincipal,
                  _key: IdempotencyKeyHeader = None) -> Response:
        return await idempotent(request, principal.subject, lambda: make_payment(...), status_code=201)

(`_key` only documents the header in OpenAPI; `idempotent` reads it from the request.) Without the header
the handler simply runs.

Per (service, subject, method, path, key), in Redis:
- the first request takes the key with `SET NX` (a "running" marker holding the body's hash, expiring after
  `lock_ttl_s` in case the process dies), runs, then stores its response (status, the headers that
  matter, body) for 24 h;
- a repeat with the same body gets that response verbatim, plus `Idempotent-Replayed: true`;
- a repeat while the first still runs gets 409 IDEMPOTENCY_KEY_IN_USE (with Retry-After);
- the same key with a different body gets 422 IDEMPOTENCY_KEY_REUSED.
Answers below 500, refusals by a rule included, are stored; a 5xx or an exception releases the key, so a
retry runs again. So does an answer marked `Cache-Control: no-store`: an interim one (a draw waiting in
line, 202) that asking again must ask again, not replay. Keys and body hashes are HMACs under the
service's secret: Redis holds no bearer data.

Limit: if the process dies after its transaction committed but before the response was stored, a retry
after `lock_ttl_s` runs again. Creations that must never repeat also need a natural unique key in the
database; this layer spares clients the common double-submit, it is not a ledger.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol

from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from starlette.responses import JSONResponse, Response

from servicekit.web.problems import (
    Conflict,
    Problem,
    Unprocessable,
    problem_of,
    problem_response,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# Headers that belong to the answer itself; per-request ones (request id, date, length) are not replayed.
_REPLAYED_HEADERS = frozenset({"content-type", "location", "etag", "last-modified", "link", "retry-after"})

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_HEADER,
        description="A unique key chosen by the client (e.g. a UUID); a repeat returns the first answer.",
        max_length=MAX_KEY_LENGTH,
    ),
]

_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"


class IdempotencyRedis(Protocol):
    """The commands used (returns typed loosely: redis' own types and its stubs disagree)."""

    def get(self, name: str) -> Any: ...

    def set(self, name: str, value: bytes, *, ex: int | None = None, nx: bool = False) -> Any: ...

    def eval(self, script: str, numkeys: int, *keys_and_args: Any) -> Any: ...


def _canonical_body(body: bytes) -> bytes:
    """The same JSON with other spacing or key order is the same request."""
    if not body:
        return b""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # not JSON (a CSV upload), or nested deeper than the decoder goes
        return body
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable()


class IdempotencyStore:
    def __init__(
        self,
        redis: IdempotencyRedis,
        service: str,
        secret: bytes,
        *,
        ttl_s: int = 24 * 3600,
        lock_ttl_s: int = 60,
    ) -> None:
        self._redis = redis
        self._service = service
        self._secret = secret
        self.ttl_s = ttl_s
        self.lock_ttl_s = lock_ttl_s

    def _mac(self, *parts: bytes) -> str:
        return hmac.new(self._secret, b"\x00".join(parts), hashlib.sha256).hexdigest()

    def redis_key(self, subject: str, method: str, path: str, key: str) -> str:
        scope = self._mac(subject.encode(), method.upper().encode(), path.encode(), key.encode())
        return f"tms:idem:{self._service}:{scope}"

    def body_hash(self, body: bytes) -> str:
        return self._mac(b"body", _canonical_body(body))

    async def run(
        self,
        *,
        subject: str,
        method: str,
        path: str,
        key: str,
        body: bytes,
        handler: Callable[[], Awaitable[Response]],
        render_problem: Callable[[Problem], Response] | None = None,
    ) -> Response:
        if not _valid_key(key):
            raise Unprocessable(
                "IDEMPOTENCY_KEY_INVALID",
                f"{IDEMPOTENCY_HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            )
        redis_key = self.redis_key(subject, method, path, key)
        body_hash = self.body_hash(body)
        marker = json.dumps({"state": "running", "hash": body_hash, "owner": uuid.uuid4().hex}).encode()
        # Two tries: the key may vanish (released, expired) between our SET NX and our GET.
        for _ in range(2):
            if await self._redis.set(redis_key, marker, ex=self.lock_ttl_s, nx=True):
                return await self._first(redis_key, marker, body_hash, handler, render_problem)
            raw = await self._redis.get(redis_key)
            if raw is None:
                continue
            return self._repeat(json.loads(raw), body_hash)
        raise Conflict(
            "IDEMPOTENCY_KEY_IN_USE",
            "the first request with this key is still running",
            headers={"Retry-After": "1"},
        )

    async def _first(
        self,
        redis_key: str,
        marker: bytes,
        body_hash: str,
        handler: Callable[[], Awaitable[Response]],
        render_problem: Callable[[Problem], Response] | None,
    ) -> Response:
        try:
            try:
                response = await handler()
            except Exception as exc:
                problem = exc if isinstance(exc, Problem) else problem_of(exc)
                if problem is None or problem.status >= 500:
                    raise
                # A rule's refusal is the answer to this request: a repeat gets the same refusal.
                response = render_problem(problem) if render_problem else problem.response()
        except BaseException:
            await self._redis.eval(_RELEASE, 1, redis_key, marker)
            raise
        if response.status_code >= 500 or "no-store" in response.headers.get("cache-control", ""):
            await self._redis.eval(_RELEASE, 1, redis_key, marker)
            return response
        body = getattr(response, "body", None)
        if not isinstance(body, bytes):
            await self._redis.eval(_RELEASE, 1, redis_key, marker)
            raise TypeError("an idempotent handler must return a response with a body (not a streaming one)")
        record = {
            "state": "done",
            "hash": body_hash,
            "status": response.status_code,
            "headers": [[k, v] for k, v in response.headers.items() if k.lower() in _REPLAYED_HEADERS],
            "body": base64.b64encode(body).decode(),
        }
        await self._redis.set(redis_key, json.dumps(record).encode(), ex=self.ttl_s)
        return response

    def _repeat(self, record: dict[str, Any], body_hash: str) -> Response:
        if not hmac.compare_digest(str(record.get("hash", "")), body_hash):
            raise Unprocessable(
                "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used with a different request body"
            )
        if record.get("state") != "done":
            raise Conflict(
                "IDEMPOTENCY_KEY_IN_USE",
                "the first request with this key is still running",
                headers={"Retry-After": "1"},
            )
        response = Response(
            content=base64.b64decode(record["body"]),
            status_code=int(record["status"]),
            headers={k: v for k, v in record["headers"]},
        )
        response.headers[REPLAYED_HEADER] = "true"
        return response


def _as_response(result: Any, status_code: int) -> Response:
    if isinstance(result, Response):
        return result
    return JSONResponse(jsonable_encoder(result), status_code=status_code)


def store_of(request: Request) -> IdempotencyStore:
    store = getattr(request.app.state, "idempotency", None)
    if store is None:
        raise RuntimeError("app.state.idempotency is not set (create_service_app sets it at start-up)")
    assert isinstance(store, IdempotencyStore)
    return store


async def idempotent(
    request: Request,
    principal_subject: str,
    handler: Callable[[], Awaitable[Any]],
    *,
    status_code: int = 200,
) -> Response:
    """Run `handler` once per `Idempotency-Key` (when the request has one) and answer repeats from Redis.

    `handler` returns a `Response` or anything FastAPI could encode as JSON (sent with `status_code`).
    """

    async def run() -> Response:
        return _as_response(await handler(), status_code)

    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return await run()
    return await store_of(request).run(
        subject=principal_subject,
        method=request.method,
        path=request.url.path,
        key=key,
        body=await request.body(),
        handler=run,
        render_problem=lambda problem: problem_response(request, problem),
    )
