"""Pictures of documents for previews: the first page of a PDF, rendered with PDFium.

PDFium (through ``pypdfium2``, Apache/BSD licensed, wheels for Windows, macOS and Linux) is the
PDF engine of Chromium; it renders what Qt's Essentials build cannot (QtPdf is an add-on). The
function is Qt-free, so the desktop app runs it in a worker and the panel's tools can use it too.
A file PDFium cannot read gives None: the caller shows a plain card instead.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

_LOCK = threading.Lock()  # PDFium is not thread-safe: one document at a time


def pdf_first_page_png(path: Path | str, max_px: int = 360) -> tuple[bytes, int] | None:
    """PNG bytes of page 1 scaled to fit ``max_px`` and the number of pages, or None."""
    try:
        import pypdfium2 as pdfium
    except ImportError:
        return None
    with _LOCK:
        try:
            pdf = pdfium.PdfDocument(str(path))
        except Exception:  # noqa: BLE001 - damaged, encrypted or not a PDF: no picture
            return None
        try:
            pages = len(pdf)
            if pages < 1:
                return None
            page = pdf[0]
            w, h = page.get_size()
            scale = max_px / max(w, h, 1.0)
            image = page.render(scale=scale).to_pil()
            out = io.BytesIO()
            image.save(out, format="PNG")
            return out.getvalue(), pages
        except Exception:  # noqa: BLE001
            return None
        finally:
            pdf.close()
