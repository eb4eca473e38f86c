"""The cells of the authorization matrix and how each answer is judged.

A cell is one request: an operation, a caller (or none), the path filled with a record's id (or a
placeholder where no record is at stake), and what must come back:

- `401`: no token;
- `403`: a role the route does not admit;
- `404`: a record that is not the caller's (another citizen's, another office's): existence must not leak;
- `denied`: a public record the caller may not change (another office's published segment): 403 or 404;
- `allowed`: a role the route admits (anything but 401/403: 404 for a placeholder id, 422 for the empty body);
- `reach`: the owner (or the office's clerk) on their own record (anything but 401/403/404);
- `public`: no token on an operation that needs none (anything but 401).

A *leak* is an answer in the direction of more access than was due: anything but 401 where 401 was due,
anything but 401/403 where 403 was, anything but 401/403/404 where 404 or `denied` was. A stricter answer
than due (403 where 404 was, 401/403 for an admitted role) is a *mismatch*, and a 5xx an *error*: both fail
the test too.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from .authz_routes import Operation

Expect = Literal[401, 403, 404, "denied", "allowed", "reach", "public"]
Verdict = Literal["ok", "leak", "mismatch", "error", "unasserted"]

# The answers that deny at least as much as the one due.
DENIED_AT_LEAST: dict[int, frozenset[int]] = {
    401: frozenset({401}),
    403: frozenset({401, 403}),
    404: frozenset({401, 403, 404}),
}


@dataclass
class Cell:
    op: Operation
    caller: str  # an actor's label, or "anonymous"
    expect: Expect
    path: str  # filled
    why: str  # which part of the matrix: "no token", "role", "owner", "another citizen", "another office"
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    body: Any = None
    # No valid body is known for the operation: a 422 from validation (which runs before the handler looks
    # the record up) says nothing about the record, and the cell is counted as unasserted.
    body_unknown: bool = False
    status: int = 0
    answer: str = field(default="", repr=False)

    @property
    def verdict(self) -> Verdict:
        status = self.status
        if status >= 500 or status == 0:
            return "error"
        if self.body_unknown and status == 422 and '"VALIDATION_FAILED"' in self.answer:
            return "unasserted"
        if isinstance(self.expect, int):
            if status == self.expect:
                return "ok"
            return "mismatch" if status in DENIED_AT_LEAST[self.expect] else "leak"
        if self.expect == "denied":
            return "ok" if status in (403, 404) else "mismatch" if status == 401 else "leak"
        refused = {"allowed": {401, 403}, "reach": {401, 403, 404}, "public": {401}}[self.expect]
        return "mismatch" if status in refused else "ok"

    def line(self) -> str:
        answer = self.answer[:160] if self.answer.startswith("{") else ""
        due = f"{self.status}, due {self.expect}"
        return f"{self.verdict:8} {self.op.name} as {self.caller} ({self.why}): {due} {answer}"


def send(gw: httpx.Client, cell: Cell) -> Cell:
    headers = dict(cell.headers)
    if cell.op.method == "POST":
        headers["Idempotency-Key"] = secrets.token_hex(8)
    body = cell.body if cell.body is not None else ({} if cell.op.has_body else None)
    try:
        r = gw.request(cell.op.method, cell.path, headers=headers, json=body)
    except httpx.HTTPError as exc:
        cell.status, cell.answer = 0, repr(exc)
        return cell
    cell.status = r.status_code
    if r.headers.get("content-type", "").startswith(("application/json", "application/problem+json")):
        cell.answer = r.text
    return cell


def run(gw: httpx.Client, cells: Iterable[Cell], threads: int = 4) -> list[Cell]:
    """Every cell sent; a few at a time (the answers do not depend on each other's order)."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda cell: send(gw, cell), cells))
