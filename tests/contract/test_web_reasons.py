"""Every problem code the platform can answer has a plain-Chinese sentence in the web client's
`reasons.json` (what a citizen or clerk reads instead of the server's English `detail`), and the file holds
no code that nothing answers.

The codes are found by reading the source (services/*/src, libs/servicekit, the gateway), the ways a code
is given there:
- `refusal("CODE", "RULE")` and `Refusal(..., code="CODE")`, or any call with a `code="CODE"` keyword;
- `Problem(status, "CODE", ...)` (servicekit's and the gateway's), `problem_response(status, "CODE")`,
  nginx's `_return_problem(status, "CODE", ...)`, and any call that starts with an error status and a code
  (`super().__init__(404, "NOT_FOUND", ...)`); `Conflict("CODE")`, `Unprocessable("CODE")`;
- a class attribute `code = "CODE"` (Refusal subclasses, servicekit's verification errors);
- a default `code="CODE"` of a parameter (`TooManyRequests`), and a constant passed in the `code`
  position of a function of the same module that takes one (`_input(..., "VIN_INVALID", ...)`);
- a literal map from HTTP status to code (`code_for_status`, the gateway's handler of routing errors).
A new way of raising a code must be taught here too: the test below fails when a refusal or a problem is
given its code by an expression the scan cannot follow, so that such a code cannot slip past unseen.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REASONS = ROOT / "web" / "packages" / "api" / "src" / "reasons.json"
CLIENT = ROOT / "web" / "packages" / "api" / "src"
SOURCES = (
    *sorted(ROOT.glob("services/*/src")),
    ROOT / "libs" / "servicekit" / "src",
    ROOT / "gateway" / "src",
)

CODE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
# Calls whose second positional argument is the code: (status, code, ...).
STATUS_THEN_CODE = frozenset({"Problem", "problem_body", "_return_problem"})
# Calls whose `code=` keyword is certainly a problem code.
CODE_KEYWORD = frozenset({"Refusal", "TooManyRequests", "Problem"})
# Calls whose first positional argument is the code.
CODE_FIRST = frozenset({"refusal", "Conflict", "Unprocessable"})
# Where a variable code is known to come from a refusal that is itself found here (its `.code`), or from a
# status by one of the maps found here.
FOLLOWED = frozenset({"exc.code", "code_for_status(exc.status_code)"})


@dataclass(frozen=True)
class Found:
    code: str
    where: str


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _code(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.match(node.value):
        return node.value
    return None


def _code_params(tree: ast.Module) -> dict[str, int]:
    """Functions of this module with a positional `code` parameter, and its position at a call."""
    params: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names = [a.arg for a in node.args.args]
            if "code" in names and node.name not in STATUS_THEN_CODE | CODE_FIRST | {"__init__"}:
                offset = 1 if names[0] in ("self", "cls") else 0
                params[node.name] = names.index("code") - offset
    return params


def _defaults(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.expr]:
    args = node.args
    positional = args.args[len(args.args) - len(args.defaults) :]
    for arg, default in zip(positional, args.defaults, strict=True):
        if arg.arg == "code":
            yield default
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        if arg.arg == "code" and kw_default is not None:
            yield kw_default


def _is_error_status(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, int) and 400 <= node.value < 600


def _in_call(node: ast.Call, params: dict[str, int]) -> Iterator[tuple[ast.expr, bool]]:
    """The expressions a call gives as a problem code, each with whether the call certainly takes a problem
    code there (a refusal or a problem), rather than any `code` (a bank's, an SMS code's)."""
    name = _name(node.func)
    for kw in node.keywords:
        if kw.arg == "code":
            yield kw.value, name in CODE_KEYWORD
    if name in CODE_FIRST and node.args:
        yield node.args[0], True
    if len(node.args) > 1 and (name in STATUS_THEN_CODE or _is_error_status(node.args[0])):
        yield node.args[1], name in STATUS_THEN_CODE
    if name in params and len(node.args) > params[name]:
        yield node.args[params[name]], False


def _status_map(node: ast.Dict) -> list[str] | None:
    keys_are_statuses = node.keys and all(
        isinstance(k, ast.Constant) and isinstance(k.value, int) and 400 <= k.value < 600 for k in node.keys
    )
    codes = [_code(v) for v in node.values]
    if keys_are_statuses and all(codes):
        return [c for c in codes if c]
    return None


def scan_module(path: Path) -> tuple[list[Found], list[str]]:
    """(codes found, places where a code is given by an expression this scan cannot follow)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    params = _code_params(tree)
    rel = path.relative_to(ROOT)
    found: list[Found] = []
    unknown: list[str] = []

    def take(expr: ast.expr | None, line: int, certain: bool = False) -> None:
        code = _code(expr)
        if code is not None:
            found.append(Found(code, f"{rel}:{line}"))
        elif certain and expr is not None and ast.unparse(expr) not in FOLLOWED and not _is_parameter(expr):
            unknown.append(f"{rel}:{line}: {ast.unparse(expr)}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for expr, certain in _in_call(node, params):
                take(expr, node.lineno, certain)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for default in _defaults(node):
                take(default, node.lineno)
        elif isinstance(node, ast.ClassDef):
            for stmt in node.body:
                target = stmt.targets[0] if isinstance(stmt, ast.Assign) else getattr(stmt, "target", None)
                if isinstance(target, ast.Name) and target.id == "code":
                    take(getattr(stmt, "value", None), stmt.lineno)
        elif isinstance(node, ast.Dict):
            for code in _status_map(node) or []:
                found.append(Found(code, f"{rel}:{node.lineno}"))
    return found, unknown


def _is_parameter(expr: ast.expr) -> bool:
    """A bare name (`code=code`): the value comes from the caller, whose constant this scan sees."""
    return isinstance(expr, ast.Name) and expr.id == "code"


def answered_codes() -> tuple[dict[str, list[str]], list[str]]:
    codes: dict[str, list[str]] = {}
    unknown: list[str] = []
    for root in SOURCES:
        for path in sorted(root.rglob("*.py")):
            found, cannot = scan_module(path)
            unknown += cannot
            for item in found:
                codes.setdefault(item.code, []).append(item.where)
    return codes, unknown


def client_codes() -> set[str]:
    """Codes the web client makes itself (a failed network call), `code: 'NETWORK'` in its source."""
    codes: set[str] = set()
    for path in CLIENT.glob("*.ts"):
        codes |= set(re.findall(r"\bcode: '([A-Z][A-Z0-9_]*)'", path.read_text(encoding="utf-8")))
    return codes


def reasons() -> dict[str, str]:
    data = json.loads(REASONS.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_scan_finds_the_codes_it_is_meant_to() -> None:
    """The scan itself: the ways of giving a code that the docstring lists each find one known code."""
    codes, _ = answered_codes()
    expected = {
        "CUSTOM_ATTEMPTS_EXHAUSTED",  # refusal("...", "PP-05")
        "APPEAL_PENDING",  # Refusal(..., code="...")
        "INVALID_CREDENTIALS",  # Problem(401, "...")
        "IDEMPOTENCY_KEY_REUSED",  # Unprocessable("...")
        "SMS_CODE_MISMATCH",  # class attribute
        "RATE_LIMITED",  # a parameter's default
        "VIN_INVALID",  # a constant in the `code` position of a local function
        "METHOD_NOT_ALLOWED",  # a status map
        "UPSTREAM_TIMEOUT",  # nginx's _return_problem
    }
    assert expected <= codes.keys(), sorted(expected - codes.keys())
    assert client_codes() == {"NETWORK"}


def test_every_code_is_given_in_a_way_the_scan_can_follow() -> None:
    _, unknown = answered_codes()
    assert not unknown, "problem codes given by an expression the scan cannot follow:\n" + "\n".join(unknown)


def test_every_problem_code_has_a_chinese_sentence() -> None:
    codes, _ = answered_codes()
    text = reasons()
    missing = {code: where[:2] for code, where in sorted(codes.items()) if code not in text}
    assert not missing, (
        f"{len(missing)} problem codes have no sentence in {REASONS.relative_to(ROOT)}: "
        + json.dumps(missing, ensure_ascii=False, indent=1)
    )


def test_reasons_hold_no_code_that_nothing_answers() -> None:
    codes, _ = answered_codes()
    stale = sorted(set(reasons()) - codes.keys() - client_codes())
    assert not stale, f"{REASONS.relative_to(ROOT)} holds codes nothing answers: {stale}"


def test_reasons_are_plain_chinese_sentences() -> None:
    """What a person reads: Chinese, one sentence without the rule id (the client appends it) and without
    a closing full stop (the rule id follows it)."""
    for code, sentence in reasons().items():
        assert re.search(r"[\u4e00-\u9fff]", sentence), (code, sentence)
        rule_id = re.search(r"\b[A-Z]{2}-\d{2}a?\b", sentence)
        assert not rule_id, f"{code}: the client appends the rule id itself"
        assert not sentence.endswith(("。", ".")), f"{code}: no closing full stop: {sentence}"
        assert len(sentence) <= 80, f"{code}: keep it to one short sentence ({len(sentence)} characters)"
