"""Problem bodies, and the domains' refusals as problems (no I/O)."""

from __future__ import annotations

import pytest

from servicekit.refusal import Refusal, refusal
from servicekit.web.problems import (
    NotFound,
    Problem,
    TooManyRequests,
    code_for_status,
    problem_of,
    type_uri,
)


class SendTooSoon(Refusal):
    code = "SMS_CODE_SEND_TOO_SOON"
    rule = "NT-02"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"retry in {retry_after_s} s", retry_after_s=retry_after_s)


class Mismatch(Refusal):
    code = "SMS_CODE_MISMATCH"
    rule = "NT-02"
    status = 422

    def __init__(self, tries_left: int, phone: str) -> None:
        super().__init__(
            f"wrong code sent to {phone}; {tries_left} tries left",
            extra={"tries_left": tries_left, "phone": phone},
        )


StateRefusal = refusal("PLATE_TAKEN", "PP-05", 409)


def test_type_uri_scheme() -> None:
    assert type_uri("CUSTOM_ATTEMPTS_EXHAUSTED") == "https://errors.tms.example/custom-attempts-exhausted"


def test_codes_for_bare_statuses() -> None:
    assert code_for_status(404) == "NOT_FOUND"
    assert code_for_status(405) == "METHOD_NOT_ALLOWED"
    assert code_for_status(401) == "UNAUTHENTICATED"
    assert code_for_status(599) == "HTTP_599"


def test_not_found_and_too_many_requests() -> None:
    assert NotFound("vehicle").body()["detail"] == "vehicle not found"
    limited = TooManyRequests(2.2)
    assert limited.status == 429
    assert limited.headers == {"Retry-After": "3"}
    assert limited.body()["retry_after_s"] == 3


def test_extensions_cannot_replace_standard_members() -> None:
    with pytest.raises(ValueError, match="status"):
        Problem(409, "X", extra={"status": 200})


def test_rate_limit_refusal_is_429_with_retry_after() -> None:
    problem = problem_of(SendTooSoon(42))
    assert problem is not None
    assert (problem.status, problem.code, problem.rule) == (429, "SMS_CODE_SEND_TOO_SOON", "NT-02")
    assert problem.headers["Retry-After"] == "42"
    assert problem.extra == {"retry_after_s": 42}


def test_input_refusal_is_422_with_its_public_fields_masked() -> None:
    problem = problem_of(Mismatch(2, "13812345678"))
    assert problem is not None
    assert problem.status == 422
    assert problem.extra == {"tries_left": 2, "phone": "138****5678"}
    assert problem.detail == "wrong code sent to 138****5678; 2 tries left"


def test_declared_status_wins() -> None:
    problem = problem_of(StateRefusal("taken"))
    assert problem is not None
    assert (problem.status, problem.rule) == (409, "PP-05")


def test_other_exceptions_are_not_rule_errors() -> None:
    assert problem_of(ValueError("x")) is None


def test_a_refusal_answers_with_its_code_rule_status_and_masked_members() -> None:
    taken = refusal("NUMBER_TAKEN", "PP-05", 409)
    problem = problem_of(taken("held by 13812345678", extra={"phone": "13812345678", "n": 2}))
    assert problem is not None
    assert (problem.status, problem.code, problem.rule) == (409, "NUMBER_TAKEN", "PP-05")
    assert problem.detail == "held by 138****5678"
    assert problem.extra == {"phone": "138****5678", "n": 2}

    limited = Refusal("wait", code="SMS_CODE_SEND_TOO_SOON", rule="NT-02", retry_after_s=41.2)
    problem = problem_of(limited)
    assert problem is not None
    assert (problem.status, problem.headers["Retry-After"]) == (429, "42")
    assert problem.extra == {"retry_after_s": 42}


def test_a_refusal_is_never_a_server_fault() -> None:
    with pytest.raises(ValueError, match="4xx"):
        Refusal("x", status=500)
    assert Refusal("until an admin sets the year", status=503).status == 503  # WD-01's unset year
