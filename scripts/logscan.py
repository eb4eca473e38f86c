"""The log scan (ADR 0085): every line the platform processes of a test session wrote (tests/e2e/processes
`spawn` keeps them under var/test-logs/<session>/) is searched for personal data and secrets that should
have been masked. The root conftest runs it when the session ends and fails the run on any hit; by hand:
`uv run python scripts/logscan.py var/test-logs/<session>` prints the hits (masked) and the figures.

What counts as a hit, each by shape so that a value nobody thought of is caught too:
- a full resident identity number: 18 characters whose birth date and GB 11643 check digit are valid
  (`stdnum.cn.ric`), so an 18-digit order number rarely counts;
- an 11-digit mainland mobile number (1[3-9] and nine digits), not inside a longer run of letters/digits;
- a 6-digit code written next to a code-ish key (`code`, `sms_code`, `verification_code`, `otp`,
  `captcha`, 验证码), as JSON or key=value;
- a JWT-shaped string (two base64url JSON segments starting `eyJ`, and a signature part);
- one of the test accounts' passwords, anywhere in the line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from stdnum.cn import ric

# The passwords the test accounts and the demo data use (tests/e2e/stack.py, identity's demo, the browser
# suite's counter registration).
PASSWORDS = ("Passw0rd2027", "Demo2027pass", "Counter2027pass")

_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[ -]?)?1[3-9]\d{9}(?![0-9A-Za-z])")
_CODE = re.compile(
    r"(?i)(?<![a-z_])(?:sms_code|verification_code|code|otp|captcha|验证码)"
    r"[\"']?\s*[:=：]\s*[\"']?(\d{6})(?!\d)"
)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{6,}\.eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*")
_PASSWORD = re.compile("|".join(re.escape(p) for p in PASSWORDS))
_DIGITS = re.compile(r"\d{6}")


@dataclass(frozen=True)
class Hit:
    path: Path
    line_no: int
    kinds: tuple[str, ...]  # id_number, phone, code, token, password: one per hit in the line
    masked_line: str  # the line with every hit replaced by its kind, safe to print


def hits_in(line: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every hit in one line."""
    found: list[tuple[str, int, int]] = []
    if _DIGITS.search(line):  # every number pattern needs six digits in a row; most lines have none
        found += [("id_number", *m.span()) for m in _ID_NUMBER.finditer(line) if ric.is_valid(m.group())]
        found += [("phone", *m.span()) for m in _PHONE.finditer(line)]
        found += [("code", *m.span(1)) for m in _CODE.finditer(line)]
    if "eyJ" in line:
        found += [("token", *m.span()) for m in _JWT.finditer(line)]
    found += [("password", *m.span()) for m in _PASSWORD.finditer(line)]
    return found


def masked(line: str, spans: Iterable[tuple[str, int, int]]) -> str:
    """The line with each hit replaced by `<kind>`, for the failure message."""
    out, last = [], 0
    for kind, start, end in sorted(spans, key=lambda s: s[1]):
        if start < last:
            continue  # overlaps the previous hit (a phone inside an identity number)
        out += [line[last:start], f"<{kind}>"]
        last = end
    out.append(line[last:])
    return "".join(out).rstrip("\n")


@dataclass
class Scan:
    lines: int = 0
    hits: list[Hit] = field(default_factory=list)

    @property
    def pii_hits(self) -> int:
        return sum(len(hit.kinds) for hit in self.hits)


def scan(folder: Path) -> Scan:
    """Every line of every `*.log` under `folder` (none when the session started no platform process)."""
    result = Scan()
    for path in sorted(folder.glob("*.log")) if folder.is_dir() else ():
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line_no, line in enumerate(lines, 1):
                result.lines += 1
                spans = hits_in(line)
                if spans:
                    kinds = tuple(kind for kind, _, _ in spans)
                    result.hits.append(Hit(path, line_no, kinds, masked(line, spans)))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a session's log folder, var/test-logs/<session>")
    args = parser.parse_args(argv)
    result = scan(args.folder)
    for hit in result.hits:
        print(f"{hit.path.name}:{hit.line_no} {','.join(hit.kinds)}: {hit.masked_line}")
    print(json.dumps({"log_lines": result.lines, "pii_hits": result.pii_hits}))
    return 1 if result.hits else 0


if __name__ == "__main__":
    sys.exit(main())
