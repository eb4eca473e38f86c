"""The printable receipt of a licence application (no I/O): every line within the page, nothing in clear
that a receipt should not carry."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from reportlab.lib.pagesizes import A5
from reportlab.pdfbase import pdfmetrics

from license_service import receipt
from servicekit.clock import SHANGHAI

ADDRESS = "河北省石家庄市长安区建设北大街1号院3号楼2单元501室"


def row(**changes: Any) -> Any:
    values: dict[str, Any] = {
        "id": uuid.UUID("0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e91"),
        "kind": "replace",
        "id_number": "130102199003071233",
        "phone": "13800138000",
        "created_at": datetime(2027, 3, 1, 9, 30, tzinfo=SHANGHAI),
        "state": "rejected",
        "delivery": "mail",
        "address": ADDRESS,
        "tracking_number": None,
        "target_class": None,
        "deferred_to": None,
        "deferral_reason": None,
        "medical_wait_until": None,
        "pickup_due": None,
        "refusal_reason": "申请人提交的信息与公安信息系统记录不一致，请携带身份证明到车辆管理所窗口核实" * 2,
    }
    values.update(changes)
    return values


def test_dl02_no_receipt_line_runs_off_the_page() -> None:
    usable = A5[0] - 2 * receipt.MARGIN
    drawn = receipt.layout(row(), "欧阳张三丰")
    assert len(drawn) > len(receipt.lines(row(), "欧阳张三丰"))  # the long reason was wrapped
    for line in drawn:
        assert pdfmetrics.stringWidth(line, "STSong-Light", receipt.FONT_SIZE) <= usable, line
    assert "".join(part.strip() for part in drawn).count("请携带身份证明") == 2  # nothing lost in wrapping


def test_dl02_the_receipt_masks_identity_number_phone_and_address() -> None:
    text = "\n".join(receipt.lines(row(), "张三"))
    assert "130102199003071233" not in text
    assert "1301**********1233" in text
    assert "13800138000" not in text
    assert ADDRESS not in text
    assert "损毁换领驾驶证" in text
    assert receipt.render(row(), "张三").startswith(b"%PDF-")


def test_dl06_a_deferral_receipt_names_the_reason_and_the_date() -> None:
    deferral = row(kind="defer_review", delivery=None, address=None, state="approved", refusal_reason=None)
    text = "\n".join(
        receipt.lines(deferral | {"deferred_to": date(2027, 10, 1), "deferral_reason": "abroad"}, "李四")
    )
    assert "延期事由：出国（境）；申请延期至：2027年10月1日" in text
    assert "领取方式" not in text
