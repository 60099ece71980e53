"""A4 PDFs of ``ledger.documents.TableDocument``: statements, ledgers, lists and posters for the office printer.

Laid out with reportlab's platypus (a table that breaks across pages and repeats its header row), in
WenQuanYi Micro Hei registered from the system (``hardware.fonts``), so Chinese prints in its simplified
forms. reportlab is imported inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

from hardware.cards import CardFace, _pdf_font, write_cards_pdf
from ledger.documents import Certificate, TableDocument


def table_pdf(document: TableDocument) -> bytes:
    """The document as PDF bytes; each page numbered, the header row repeated on every page."""
    from reportlab.lib import colors  # type: ignore[import-untyped]
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
    from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
    from reportlab.lib.units import mm  # type: ignore[import-untyped]
    from reportlab.platypus import (  # type: ignore[import-untyped]
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    font = _pdf_font()
    big = document.poster
    title_style = ParagraphStyle(
        "title",
        fontName=font,
        fontSize=30 if big else 16,
        leading=38 if big else 22,
        alignment=1 if big else 0,
        textColor=colors.HexColor("#b3261e") if big else colors.black,
    )
    line_style = ParagraphStyle(
        "line", fontName=font, fontSize=12 if big else 9.5, leading=16 if big else 13, alignment=1 if big else 0
    )
    cell_style = ParagraphStyle(
        "cell", fontName=font, fontSize=14 if big else 8.5, leading=18 if big else 11, wordWrap="CJK"
    )
    number_style = ParagraphStyle("number", parent=cell_style, alignment=2)
    head_style = ParagraphStyle("head", parent=cell_style, textColor=colors.white)

    def cell(text: str, column: int, style: ParagraphStyle) -> Paragraph:
        chosen = number_style if column in document.numeric and style is cell_style else style
        return Paragraph(_escaped(text), chosen)

    data = [[cell(h, i, head_style) for i, h in enumerate(document.headers)]]
    data += [[cell(v, i, cell_style) for i, v in enumerate(row)] for row in document.rows]
    usable = A4[0] - 30 * mm
    widths = [usable * share / sum(document.widths) for share in document.widths] if document.widths else None
    table = Table(data, repeatRows=1, hAlign="CENTER", colWidths=widths)
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#b3261e")),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f3f3f3")]),
    ]
    if big and len(data) > 1:
        style.append(("BACKGROUND", (0, 1), (-1, min(3, len(data) - 1)), colors.HexColor("#fff3cd")))
    table.setStyle(TableStyle(style))
    story = [Paragraph(_escaped(document.title), title_style), Spacer(1, 3 * mm)]
    story += [Paragraph(_escaped(line), line_style) for line in document.lines]
    story += [Spacer(1, 4 * mm), table, Spacer(1, 5 * mm)]
    story += [Paragraph(_escaped(line), line_style) for line in document.footer]

    def number_pages(canvas: object, doc: object) -> None:
        canvas.setFont(font, 8)  # type: ignore[attr-defined]
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, f"{doc.page}")  # type: ignore[attr-defined]

    out = io.BytesIO()
    pdf = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=18 * mm,
        title=document.title,
        author="lovemart",
    )
    pdf.build(story, onFirstPage=number_pages, onLaterPages=number_pages)
    return out.getvalue()


def _escaped(text: str) -> str:
    """Plain text for a reportlab paragraph, whose text is a small markup language of its own."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cards_pdf(faces: Sequence[CardFace], title: str) -> bytes:
    """The A4 sheet of passbook cards (``hardware.cards``) as bytes."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cards.pdf"
        write_cards_pdf(faces, path, title=title)
        return path.read_bytes()


def certificates_pdf(certificates: Sequence[Certificate]) -> bytes:
    """Certificates of honour, one to a landscape A4 page with a red double border, as bytes."""
    from reportlab.lib import colors  # type: ignore[import-untyped]
    from reportlab.lib.pagesizes import A4, landscape  # type: ignore[import-untyped]
    from reportlab.lib.units import mm  # type: ignore[import-untyped]
    from reportlab.pdfgen import canvas as pdf_canvas  # type: ignore[import-untyped]

    font = _pdf_font()
    width, height = landscape(A4)
    red = colors.HexColor("#b3261e")
    out = io.BytesIO()
    page = pdf_canvas.Canvas(out, pagesize=(width, height))
    page.setTitle(certificates[0].title if certificates else "")
    for certificate in certificates:
        page.setStrokeColor(red)
        page.setLineWidth(4)
        page.rect(12 * mm, 12 * mm, width - 24 * mm, height - 24 * mm)
        page.setLineWidth(1)
        page.rect(16 * mm, 16 * mm, width - 32 * mm, height - 32 * mm)
        page.setFillColor(red)
        page.setFont(font, 44)
        page.drawCentredString(width / 2, height - 52 * mm, certificate.title)
        page.setFillColor(colors.black)
        page.setFont(font, 22)
        page.drawString(40 * mm, height - 85 * mm, certificate.recipient)
        page.setFont(font, 18)
        lines = _wrapped(certificate.body, lambda text: page.stringWidth(text, font, 18), width - 90 * mm)
        for n, line in enumerate(lines):
            page.drawString(50 * mm, height - (105 + 12 * n) * mm, line)
        page.setFont(font, 16)
        page.drawRightString(width - 40 * mm, 50 * mm, certificate.issuer)
        page.drawRightString(width - 40 * mm, 40 * mm, certificate.date)
        page.showPage()
    page.save()
    return out.getvalue()


def recovery_sheet_pdf(title: str, lines: Sequence[str], qr_text: str, key_text: str) -> bytes:
    """One A4 page to keep locked away: what it is for, the township's key as a QR code and as text."""
    from reportlab.graphics import renderPDF  # type: ignore[import-untyped]
    from reportlab.graphics.barcode.qr import QrCodeWidget  # type: ignore[import-untyped]
    from reportlab.graphics.shapes import Drawing  # type: ignore[import-untyped]
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
    from reportlab.lib.units import mm  # type: ignore[import-untyped]
    from reportlab.pdfgen import canvas as pdf_canvas  # type: ignore[import-untyped]

    font = _pdf_font()
    width, height = A4
    out = io.BytesIO()
    page = pdf_canvas.Canvas(out, pagesize=A4)
    page.setTitle(title)
    page.setFont(font, 20)
    page.drawCentredString(width / 2, height - 30 * mm, title)
    page.setFont(font, 12)
    y = height - 45 * mm
    for line in lines:
        for part in _wrapped(line, lambda text: page.stringWidth(text, font, 12), width - 40 * mm):
            page.drawString(20 * mm, y, part)
            y -= 7 * mm
    side = 70 * mm
    widget = QrCodeWidget(qr_text, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(side, side, transform=[side / (x1 - x0), 0, 0, side / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, page, (width - side) / 2, y - side - 5 * mm)
    page.setFont("Courier-Bold", 13)
    page.drawCentredString(width / 2, y - side - 15 * mm, key_text)
    page.showPage()
    page.save()
    return out.getvalue()


# Chinese line breaking (禁则): no line starts with one of these, no line ends with an opening mark.
NO_LINE_START = set("，。、；：？！）」』】》〉”’,.;:?!)")
NO_LINE_END = set("（「『【《〈“‘(")


def _wrapped(text: str, measure: Callable[[str], float], width: float) -> list[str]:
    """``text`` in lines no wider than ``width`` (as ``measure`` says), broken anywhere between characters
    but never before a closing mark or after an opening one: the mark moves with its neighbour."""
    lines: list[str] = []
    line = ""
    for ch in text:
        if line and measure(line + ch) > width and ch not in NO_LINE_START:
            carried = ""
            while line and line[-1] in NO_LINE_END:
                carried = line[-1] + carried
                line = line[:-1]
            lines.append(line)
            line = carried
        line += ch
    return [*lines, line] if line or not lines else lines
