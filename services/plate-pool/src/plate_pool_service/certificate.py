"""PP-08: the printable pre-selection certificate (预选号凭证), a PDF with a QR code the counter scans.

The QR code carries `PP1|<selection id>|<plate>|<vin>|<register by, YYYYMMDD>|<signature>`, the signature an
HMAC-SHA256 (16 bytes, hex) of the rest under the service's secret key: the counter's check endpoint
recomputes it, so a forged or edited certificate is refused without trusting the paper.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from datetime import datetime
from typing import Any

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from plate_pool_service.domain import voucher_number
from servicekit.clock import SHANGHAI
from servicekit.masking import mask_id_number

_FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(_FONT))


def _sign(secret: bytes, payload: str) -> str:
    return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()[:32]


def qr_payload(secret: bytes, selection_id: str, plate: str, vin: str, register_by: datetime) -> str:
    body = f"PP1|{selection_id}|{plate}|{vin}|{register_by.astimezone(SHANGHAI):%Y%m%d}"
    return f"{body}|{_sign(secret, body)}"


def check_payload(secret: bytes, payload: str) -> dict[str, str] | None:
    """The fields of a genuine certificate's QR code, or None when it is not one of ours."""
    body, _, signature = payload.rpartition("|")
    parts = body.split("|")
    if len(parts) != 5 or parts[0] != "PP1":
        return None
    if not hmac.compare_digest(_sign(secret, body), signature):
        return None
    return {
        "selection_id": parts[1],
        "plate_number": parts[2],
        "vin": parts[3],
        "register_by": parts[4],
    }


def lines(row: Any, office_name: str) -> list[str]:
    """The certificate's text under the plate: the voucher number first (the success SMS names the same)."""
    register_by = row.register_by.astimezone(SHANGHAI)
    return [
        f"凭证编号：{voucher_number(row.id)}",
        f"车辆识别代号：{row.vin}",
        f"机动车所有人：{row.owner_name}（{mask_id_number(row.owner_id_number)}）",
        f"预选时间：{row.confirmed_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}",
        f"请于 {register_by:%Y年%m月%d日} 前到{office_name}各车辆管理所办理注册登记。",
        "逾期未办理或登记信息与预选信息不一致的，预选号牌作废，2年内不得通过互联网预选号牌。",
    ]


def render(secret: bytes, row: Any, office_name: str) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A5)
    width, height = A5
    page.setTitle(f"预选号凭证 {row.plate_number}")
    page.setFont(_FONT, 18)
    page.drawCentredString(width / 2, height - 25 * mm, "机动车预选号牌凭证")
    page.setFont(_FONT, 28)
    page.drawCentredString(width / 2, height - 42 * mm, row.plate_number)
    page.setFont(_FONT, 10)
    register_by = row.register_by.astimezone(SHANGHAI)
    y = height - 58 * mm
    for line in lines(row, office_name):
        page.drawString(12 * mm, y, line)
        y -= 6 * mm
    widget = QrCodeWidget(qr_payload(secret, str(row.id), row.plate_number, row.vin, register_by))
    x0, y0, x1, y1 = widget.getBounds()
    size = 40 * mm
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, page, (width - size) / 2, 12 * mm)
    page.showPage()
    page.save()
    return buffer.getvalue()
