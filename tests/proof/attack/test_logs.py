"""The log scan's patterns (scripts/logscan.py, ADR 0085): what it must find and what it must let pass. The
scan itself runs when every test session ends (the root conftest) over the platform processes' output."""

from __future__ import annotations

from pathlib import Path

import pytest
from logscan import hits_in, masked, scan  # scripts/, on the path by tests/proof/conftest.py

ID_NUMBER = "130102199003071233"  # valid check digit
PHONE = "13812345678"
TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLWJ5dGVz"


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (f'{{"message": "login for {ID_NUMBER}"}}', "id_number"),
        (f"号码{ID_NUMBER}已登记", "id_number"),
        (f'{{"to": "{PHONE}"}}', "phone"),
        ("sent to +86 13812345678", "phone"),
        ('{"params": {"code": "493021", "minutes": "5"}}', "code"),
        ("sms_code=493021", "code"),
        ("验证码：493021", "code"),
        (f"Authorization: Bearer {TOKEN}", "token"),
        ('{"password": "Passw0rd2027"}', "password"),
    ],
)
def test_the_scan_finds_personal_data_and_secrets(line: str, kind: str) -> None:
    kinds = [k for k, _, _ in hits_in(line)]
    assert kinds == [kind]
    assert kind in masked(line, hits_in(line))


@pytest.mark.parametrize(
    "line",
    [
        '{"message": "login for 1301**********1233", "phone": "138****5678"}',
        '{"code": "******", "postal_code": "050000", "status_code": 200}',
        "130102199003071234",  # the check digit is wrong: not an identity number
        '{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "time": "2026-12-02T12:00:00.123+08:00"}',
        '{"order_no": "202612021200001234", "elapsed_ms": 13812345678901}',
        "eyJhbGciOiJFZERTQSJ9 alone is a header, not a token",
    ],
)
def test_the_scan_lets_masked_and_ordinary_values_pass(line: str) -> None:
    assert hits_in(line) == []


def test_the_scan_counts_every_line_of_every_file(tmp_path: Path) -> None:
    (tmp_path / "identity-1.log").write_text(f"ok\nphone {PHONE}\n", encoding="utf-8")
    (tmp_path / "nginx-2.log").write_text(f"code: 123456 for {ID_NUMBER}\n", encoding="utf-8")
    result = scan(tmp_path)
    assert result.lines == 3
    assert result.pii_hits == 3
    assert [(h.path.name, h.line_no) for h in result.hits] == [("identity-1.log", 2), ("nginx-2.log", 1)]
    assert ID_NUMBER not in result.hits[1].masked_line
