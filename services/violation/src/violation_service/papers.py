"""The printed papers of violation: the penalty decision (处罚决定书, VI-03) and the payment voucher
(缴款凭证, VI-04), each a PDF with a QR code that a counter checks.

A QR code carries `<kind>|<fields…>|<signature>`, the signature an HMAC-SHA256 (16 bytes, hex) of the rest
under the service's secret key, as plate-pool's certificate does (PP-08): the check endpoints recompute
it, so a forged or edited paper is refused without trusting the paper. Text is wrapped to the page by its
measured width, so no line runs off it (every page is rendered and read back in the tests).

The voucher is laid out for the printers the seed names (激光或针式打印机, never thermal): `laser` is A4;
`impact` is the continuous form of impact printers (241 × 140 mm, 9.5 × 5.5 in), larger type, no filled
areas (an impact printer smears them), the QR larger so a worn ribbon still scans.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from servicekit.clock import SHANGHAI
from servicekit.masking import mask_id_number

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

Layout = Literal["laser", "impact"]
IMPACT_FORM = (241 * mm, 140 * mm)

DECISION_QR = "VI3"
VOUCHER_QR = "VI4"


def _sign(secret: bytes, body: str) -> str:
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()[:32]


def signed(secret: bytes, kind: str, *fields: str) -> str:
    body = "|".join((kind, *fields))
    return f"{body}|{_sign(secret, body)}"


def check_signed(secret: bytes, kind: str, payload: str, count: int) -> list[str] | None:
    """The `count` fields of a genuine code of this kind, or None when it is not one of ours."""
    body, _, signature = payload.strip().rpartition("|")
    parts = body.split("|")
    if len(parts) != count + 1 or parts[0] != kind:
        return None
    if not hmac.compare_digest(_sign(secret, body), signature):
        return None
    return parts[1:]


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


_NO_LINE_START = frozenset("，。；：、）》」！？,.;:)")


def _wrap(text: str, size: float, width: float) -> list[str]:
    """Break `text` into lines no wider than `width` (CJK text breaks anywhere; measured, not counted)."""
    lines: list[str] = []
    current = ""
    for ch in text:
        if pdfmetrics.stringWidth(current + ch, FONT, size) > width and ch not in _NO_LINE_START:
            lines.append(current)
            current = ch.lstrip() if ch == " " else ch
        else:
            current += ch  # closing punctuation stays on its line (避头点), a little into the margin
    if current:
        lines.append(current)
    return lines


class _Page:
    """A page written top down, each paragraph wrapped to the margins."""

    def __init__(self, pagesize: tuple[float, float], margin: float, title: str) -> None:
        self.buffer = io.BytesIO()
        self.canvas = canvas.Canvas(self.buffer, pagesize=pagesize)
        self.canvas.setTitle(title)
        self.width, self.height = pagesize
        self.margin = margin
        self.y = self.height - margin

    def centred(self, text: str, size: float, gap: float) -> None:
        self.canvas.setFont(FONT, size)
        self.y -= size
        self.canvas.drawCentredString(self.width / 2, self.y, text)
        self.y -= gap

    def paragraph(self, text: str, size: float, leading: float, right: float = 0) -> None:
        self.canvas.setFont(FONT, size)
        for line in _wrap(text, size, self.width - 2 * self.margin - right):
            self.y -= leading
            self.canvas.drawString(self.margin, self.y, line)

    def qr(self, payload: str, size: float, x: float, y: float) -> None:
        widget = QrCodeWidget(payload)
        x0, y0, x1, y1 = widget.getBounds()
        drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
        drawing.add(widget)
        renderPDF.draw(drawing, self.canvas, x, y)

    def finish(self, floor: float) -> bytes:
        """The PDF; the text must have stayed above `floor` (where the QR code and footer begin)."""
        if self.y < floor:
            raise ValueError("the text does not fit on the page")  # a layout bug, caught by the tests
        self.canvas.showPage()
        self.canvas.save()
        return self.buffer.getvalue()


@dataclass(frozen=True)
class DecisionPaper:
    """What the decision shows (VI-03)."""

    number: str
    driver_name: str
    driver_id_number: str
    plate_number: str
    violated_at: datetime
    place: str
    violation_code: str
    description: str
    penalty: str
    fine_fen: int
    points: int
    decided_at: datetime
    pay_by: date
    payment_reference: str
    office_code: str


def decision_qr(secret: bytes, paper: DecisionPaper) -> str:
    decided = paper.decided_at.astimezone(SHANGHAI)
    return signed(
        secret, DECISION_QR, paper.number, f"{decided:%Y%m%d}", str(paper.fine_fen), str(paper.points)
    )


def decision_lines(paper: DecisionPaper) -> Sequence[str]:
    violated = paper.violated_at.astimezone(SHANGHAI)
    decided = paper.decided_at.astimezone(SHANGHAI)
    penalty = "警告" if paper.penalty == "warning" else f"罚款人民币{yuan(paper.fine_fen)}元"
    lines = [
        f"被处罚人：{paper.driver_name}    驾驶证号：{mask_id_number(paper.driver_id_number)}",
        f"车辆号牌：{paper.plate_number}",
        f"违法时间：{violated:%Y年%m月%d日 %H时%M分}",
        f"违法地点：{paper.place}",
        f"违法行为：{paper.description}（违法代码{paper.violation_code}）",
        "以上违法事实有交通技术监控设备记录的证据证实，被处罚人已通过互联网交通安全综合服务管理平台"
        "确认。依据《中华人民共和国道路交通安全法》及其实施条例的规定，决定予以："
        f"{penalty}；记{paper.points}分。",
    ]
    if paper.penalty == "fine":
        lines.append(
            f"请于{paper.pay_by:%Y年%m月%d日}前（自收到本决定书之日起十五日内）持缴款凭证到代收银行缴纳罚款，"
            f"或通过已开通网上缴纳交通罚款的银行网站缴纳，缴款编号{paper.payment_reference}。"
            "逾期不缴纳的，每日按罚款数额的百分之三加处罚款，加处罚款的数额不超过罚款数额。"
        )
    lines += [
        "被处罚人如不服本决定，可以在收到本决定书之日起六十日内申请行政复议，"
        "或者在六个月内依法向人民法院提起行政诉讼。",
        f"处罚机关：公安机关交通管理部门（{paper.office_code}）    {decided:%Y年%m月%d日}",
    ]
    return lines


def render_decision(secret: bytes, paper: DecisionPaper) -> bytes:
    """VI-03: the penalty decision on A4."""
    page = _Page(A4, 20 * mm, f"处罚决定书 {paper.number}")
    page.centred("公安交通管理简易程序处罚决定书", 18, 4 * mm)
    page.centred(f"编号：{paper.number}", 11, 6 * mm)
    for line in decision_lines(paper):
        page.paragraph(line, 11, 7 * mm)
        page.y -= 2 * mm
    page.qr(decision_qr(secret, paper), 35 * mm, page.width - page.margin - 35 * mm, page.margin)
    page.canvas.setFont(FONT, 8)
    page.canvas.drawString(page.margin, page.margin, "扫描二维码可核验本决定书真伪。")
    return page.finish(floor=page.margin + 37 * mm)


@dataclass(frozen=True)
class VoucherPaper:
    """What the payment voucher shows (VI-04): the amount due on the day it is printed."""

    payment_reference: str
    decision_number: str
    payer_name: str
    plate_number: str
    fine_fen: int
    late_fee_fen: int
    late_days: int
    pay_by: date
    printed_at: datetime


def voucher_qr(secret: bytes, paper: VoucherPaper) -> str:
    return signed(
        secret,
        VOUCHER_QR,
        paper.payment_reference,
        paper.decision_number,
        str(paper.fine_fen),
        f"{paper.pay_by:%Y%m%d}",
    )


def voucher_lines(paper: VoucherPaper) -> Sequence[str]:
    printed = paper.printed_at.astimezone(SHANGHAI)
    total = paper.fine_fen + paper.late_fee_fen
    late = (
        f"加处罚款：{yuan(paper.late_fee_fen)}元（逾期{paper.late_days}日）"
        if paper.late_days
        else "加处罚款：0.00元"
    )
    return [
        f"处罚决定书编号：{paper.decision_number}",
        f"被处罚人：{paper.payer_name}    车辆号牌：{paper.plate_number}",
        f"罚款金额：{yuan(paper.fine_fen)}元    {late}",
        f"应缴金额合计：人民币{total // 100}元{total % 100:02d}分（截至{printed:%Y年%m月%d日}）",
        f"缴款期限：{paper.pay_by:%Y年%m月%d日}前；逾期每日按罚款数额的百分之三加处罚款，"
        "加处罚款不超过罚款数额，以缴款当日银行核算金额为准。",
        "请持本凭证到代收银行柜台缴款，或登录已开通网上缴纳交通罚款功能的银行网站缴款。",
        "为便于银行保存，本凭证请使用激光或针式打印机打印，不能使用热敏打印机打印。",
        f"打印时间：{printed:%Y-%m-%d %H:%M}",
    ]


def render_voucher(secret: bytes, paper: VoucherPaper, layout: Layout) -> bytes:
    """VI-04: the voucher for a bank counter, on A4 (`laser`) or the impact printer's continuous form."""
    impact = layout == "impact"
    pagesize = IMPACT_FORM if impact else A4
    margin = 12 * mm if impact else 20 * mm
    qr_size = 38 * mm if impact else 40 * mm
    page = _Page(pagesize, margin, f"缴款凭证 {paper.payment_reference}")
    page.centred("公安交通管理罚款缴款凭证", 16 if impact else 18, 3 * mm)
    page.centred(f"缴款编号：{paper.payment_reference}", 14, 3 * mm)
    size, leading = (11.0, 5.6 * mm) if impact else (11.0, 7 * mm)
    for line in voucher_lines(paper):
        page.paragraph(line, size, leading, right=qr_size + 4 * mm if impact else 0)
    page.qr(voucher_qr(secret, paper), qr_size, page.width - margin - qr_size, margin)
    return page.finish(floor=margin if impact else margin + qr_size + 2 * mm)
