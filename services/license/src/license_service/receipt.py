"""The printable receipt of a licence application (申请回执): a PDF the citizen prints or shows at the
counter, with the application's number, business, state and what comes next. Identity numbers, phones
and addresses are masked: a receipt is paper that travels."""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from sqlalchemy.engine import RowMapping

from license_service.domain import KIND_NAMES
from servicekit.clock import SHANGHAI
from servicekit.masking import mask_id_number, mask_phone

_FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(_FONT))

STATE_NAMES = {
    "awaiting_medical": "等待医院提交身体条件证明",
    "submitted": "待受理",
    "rejected": "不予受理",
    "approved": "已批准",
    "accepted": "已受理，待制证",
    "produced": "已制证",
    "mailed": "已邮寄",
    "ready": "待领取",
    "delivered": "已送达",
    "picked_up": "已领取",
    "refused": "邮寄拒收",
    "not_collected": "逾期未领取",
    "archived": "已归档",
}
DELIVERY_NAMES = {"mail": "邮寄", "pickup": "到车辆管理所自取"}
DEFERRAL_REASONS = {"military_service": "服兵役", "abroad": "出国（境）", "other": "其他"}


def masked_address(address: str) -> str:
    """The address as a receipt shows it: its first part, the rest starred."""
    keep = max(6, len(address) // 2)
    return address[:keep] + "*" * min(8, len(address) - keep)


def _date(value: Any) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def lines(row: RowMapping, name: str) -> list[str]:
    """The receipt's lines, in the order the counter reads them."""
    out = [
        f"申请编号：{row['id']}",
        f"业务类型：{KIND_NAMES[row['kind']]}",
        f"驾驶人：{name}（{mask_id_number(row['id_number'])}）",
        f"联系电话：{mask_phone(row['phone'])}",
        f"申请时间：{row['created_at'].astimezone(SHANGHAI):%Y-%m-%d %H:%M}",
        f"办理状态：{STATE_NAMES.get(row['state'], row['state'])}",
    ]
    if row["delivery"]:
        out.append(f"领取方式：{DELIVERY_NAMES[row['delivery']]}")
    if row["delivery"] == "mail" and row["address"]:
        out.append(f"邮寄地址：{masked_address(row['address'])}")
    if row["tracking_number"]:
        out.append(f"邮件号：{row['tracking_number']}")
    if row["target_class"]:
        out.append(f"申请准驾车型：{row['target_class']}")
    if row["deferred_to"]:
        reason = DEFERRAL_REASONS.get(row["deferral_reason"] or "", "其他")
        out.append(f"延期事由：{reason}；申请延期至：{_date(row['deferred_to'])}")
    if row["state"] == "awaiting_medical" and row["medical_wait_until"]:
        out.append(
            f"请于{_date(row['medical_wait_until'].astimezone(SHANGHAI))}前到开通互联网体检业务的医院体检，"
        )
        out.append("医院提交身体条件证明后，申请自动转入受理。")
    if row["state"] == "ready" and row["pickup_due"]:
        out.append(f"请于{_date(row['pickup_due'].astimezone(SHANGHAI))}前到车辆管理所领取。")
    if row["refusal_reason"]:
        out.append(f"不予受理原因：{row['refusal_reason'][:120]}")
    if row["delivery"]:
        out.append("邮寄拒收或超过一个月未领取的，一年内不得通过互联网办理补、换领业务。")
    return out


FONT_SIZE = 9
MARGIN = 12 * mm
LINE_GAP = 6 * mm


def wrap(line: str, max_width: float, size: float = FONT_SIZE) -> list[str]:
    """The line cut into pieces that each fit `max_width` (Chinese has no spaces to break at)."""
    pieces, current = [], ""
    for ch in line:
        if current and pdfmetrics.stringWidth(current + ch, _FONT, size) > max_width:
            pieces.append(current)
            current = "  " + ch  # a continuation is indented
        else:
            current += ch
    return [*pieces, current]


def layout(row: RowMapping, name: str) -> list[str]:
    """The lines as drawn on the A5 page: each within the margins."""
    usable = A5[0] - 2 * MARGIN
    return [piece for line in lines(row, name) for piece in wrap(line, usable)]


def render(row: RowMapping, name: str) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A5)
    width, height = A5
    page.setTitle(f"驾驶证业务申请回执 {row['id']}")
    page.setFont(_FONT, 16)
    page.drawCentredString(width / 2, height - 22 * mm, "互联网驾驶证业务申请回执")
    page.setFont(_FONT, FONT_SIZE)
    y = height - 36 * mm
    for line in layout(row, name):
        page.drawString(MARGIN, y, line)
        y -= LINE_GAP
    page.setFont(_FONT, 8)
    page.drawString(MARGIN, 14 * mm, "公安机关交通管理部门　交管12123")
    page.showPage()
    page.save()
    return buffer.getvalue()
