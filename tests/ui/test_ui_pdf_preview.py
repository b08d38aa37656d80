"""The first page of a PDF is rendered (off the GUI thread) for the evidence preview."""

from __future__ import annotations

from pathlib import Path

from app.model.demo import make_pdf
from app.model.preview import pdf_first_page_png


def test_pdf_first_page_is_rendered_in_the_background(qtbot, tmp_path: Path):
    from PySide6.QtWidgets import QLabel

    from app.ui.evidence import show_file_preview

    pdf = tmp_path / "plan.pdf"
    pdf.write_bytes(make_pdf("Amani 2030 strategic framework"))
    label = QLabel()
    label.resize(180, 180)
    qtbot.addWidget(label)
    show_file_preview(label, pdf, "application/pdf", pdf.stat().st_size)
    assert label.property("pdfRendered") is False  # the card first: nothing heavy ran on this thread
    qtbot.waitUntil(lambda: label.property("pdfRendered") is True, timeout=10_000)
    px = label.pixmap()
    assert not px.isNull() and max(px.width(), px.height()) <= 180
    # an A4 page: taller than wide
    assert px.height() > px.width()


def test_a_damaged_pdf_gives_no_picture_and_no_error(tmp_path: Path):
    bad = tmp_path / "scan.pdf"
    bad.write_bytes(b"%PDF-1.4\n this is not really a PDF")
    assert pdf_first_page_png(bad) is None
    good = tmp_path / "ok.pdf"
    good.write_bytes(make_pdf("x"))
    png, pages = pdf_first_page_png(good, 100)
    assert png.startswith(b"\x89PNG") and pages == 1
