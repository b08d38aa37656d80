"""The evidence panel of one requirement: what the panel expects, the attached files (name, kind,
size, date), a preview, and Attach (button or drag and drop), Open and Remove.

Attaching copies and hashes the files in a worker (:mod:`app.ui.tasks`): a 500 MB scan must not
freeze the window. The Attach button and a drop both end in :meth:`EvidencePanel.attach_files`.
Previews: images are shown scaled; a PDF shows its first page, rendered by PDFium in a background
thread (:mod:`app.model.preview`; QtPdf is not part of PySide6-Essentials), with a card giving its
page count until the picture is ready or when the file cannot be rendered.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRect, QRunnable, QSize, Qt, QThreadPool, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QImageReader, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.errors import KitError
from app.i18n import _, text_in
from app.model.guide_steps import choose_evidence_kind
from app.ui import dialogs
from app.ui.look import ERROR, HINT, fmt_datetime, fmt_size, lead, tint

PREVIEW_PX = 180
PDF_SCAN_BYTES = 4 << 20
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp", "image/tiff")


def pdf_page_count(path: Path) -> int | None:
    """Pages of a PDF from its page tree, reading at most a few MB; None when it cannot tell
    cheaply (compressed object streams, damaged or huge files)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(PDF_SCAN_BYTES)
    except OSError:
        return None
    if not data.startswith(b"%PDF"):
        return None
    counts = [int(m) for m in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", data)]
    counts += [int(m) for m in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", data)]
    if counts:
        return max(counts)
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", data))
    return pages or None


TEXT_TYPES = ("text/plain", "text/csv", "text/markdown", "application/json", "text/tab-separated-values")
TEXT_PREVIEW_BYTES = 1200


def show_file_preview(label: QLabel, path: Path, mime: str, size: int) -> None:
    """Show a file in a preview label: a scaled picture, the start of a text file, or a card with
    the file's kind (a PDF with its page count when it can be read cheaply)."""
    label.setPixmap(QPixmap())
    label.setText("")
    label.setToolTip("")
    label.setProperty("pdfPreviewToken", None)  # a page still rendering for the last file is not shown
    label.setProperty("pdfRendered", False)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    side = min(label.width(), label.height()) if label.width() > 20 else PREVIEW_PX
    if mime in IMAGE_TYPES:
        reader = QImageReader(str(path))
        reader.setAutoTransform(True)
        sz = reader.size()
        if sz.isValid():
            reader.setScaledSize(sz.scaled(QSize(side - 8, side - 8), Qt.AspectRatioMode.KeepAspectRatio))
        img = reader.read()
        if not img.isNull():
            label.setPixmap(QPixmap.fromImage(img))
            return
    if mime in TEXT_TYPES or mime.startswith("text/"):
        try:
            with open(path, "rb") as fh:
                head = fh.read(TEXT_PREVIEW_BYTES)
        except OSError:
            head = b""
        if head:
            text = head.decode("utf-8", "replace")
            if size > len(head):
                text += "\n…"
            label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            label.setText(text)
            label.setToolTip(mime)
            return
    if mime == "application/pdf":
        pages = pdf_page_count(path)
        text = (_("PDF document, 1 page") if pages == 1 else _("PDF document, {pages} pages", pages=pages)
                if pages else _("PDF document"))
        label.setPixmap(file_card(label, text, fmt_size(size)))
        label.setToolTip(text)
        _render_pdf_later(label, path, side - 8)
        return
    text = mime
    label.setPixmap(file_card(label, text, fmt_size(size)))
    label.setToolTip(text)


class _PdfRendered(QObject):
    done = Signal(object, object)  # (token, (png bytes, pages) or None)


class _PdfJob(QRunnable):
    def __init__(self, path: Path, px: int, token: object, sink: _PdfRendered) -> None:
        super().__init__()
        self.path, self.px, self.token, self.sink = path, px, token, sink

    def run(self) -> None:
        from app.model.preview import pdf_first_page_png

        self.sink.done.emit(self.token, pdf_first_page_png(self.path, self.px))


_PDF_POOL: QThreadPool | None = None


def _render_pdf_later(label: QLabel, path: Path, px: int) -> None:
    """Render page 1 off the GUI thread; show it if the label still shows that file."""
    global _PDF_POOL
    if _PDF_POOL is None:
        _PDF_POOL = QThreadPool()
        _PDF_POOL.setMaxThreadCount(1)
    token = object()
    label.setProperty("pdfPreviewToken", id(token))
    sink = _PdfRendered(label)  # lives as long as the label; delivered on the GUI thread

    def show(tok: object, result: Any) -> None:
        if label.property("pdfPreviewToken") != id(tok) or result is None:
            return
        png, pages = result
        px_map = QPixmap()
        if px_map.loadFromData(png, "PNG"):
            label.setPixmap(px_map)
            label.setProperty("pdfRendered", True)
            label.setToolTip(_("PDF document, 1 page") if pages == 1 else
                             _("PDF document, {pages} pages", pages=pages))
        sink.deleteLater()

    sink.done.connect(show, Qt.ConnectionType.QueuedConnection)
    sink._keep = (token, show)  # type: ignore[attr-defined]
    _PDF_POOL.start(_PdfJob(path, px, token, sink))


def file_card(widget: QWidget, *lines: str) -> QPixmap:
    """A file icon with a few lines under it, for files that have no picture preview."""
    px = QPixmap(PREVIEW_PX - 8, PREVIEW_PX - 8)
    px.fill(Qt.GlobalColor.transparent)
    p = QPainter(px)
    icon = widget.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon)
    side = 48
    p.drawPixmap((px.width() - side) // 2, 12, icon.pixmap(side, side))
    p.setPen(widget.palette().color(widget.foregroundRole()))
    p.setFont(widget.font())
    p.drawText(QRect(4, 12 + side + 8, px.width() - 8, px.height() - side - 24),
               int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap),
               "\n".join(lines))
    p.end()
    return px


class EvidenceList(QTreeWidget):
    """The attached files; accepts files dragged onto it."""

    dropped = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)

    @staticmethod
    def _local_files(ev: Any) -> list[str]:
        md = ev.mimeData()
        if not md.hasUrls():
            return []
        return [u.toLocalFile() for u in md.urls() if u.isLocalFile() and Path(u.toLocalFile()).is_file()]

    def dragEnterEvent(self, ev: Any) -> None:  # noqa: N802
        if self._local_files(ev):
            ev.acceptProposedAction()
        else:
            ev.ignore()

    def dragMoveEvent(self, ev: Any) -> None:  # noqa: N802
        if self._local_files(ev):
            ev.acceptProposedAction()
        else:
            ev.ignore()

    def dropEvent(self, ev: Any) -> None:  # noqa: N802
        files = self._local_files(ev)
        if files:
            ev.acceptProposedAction()
            self.dropped.emit(files)


class EvidencePanel(QWidget):
    changed = Signal()  # files were attached or removed

    def __init__(self, ctx: Any, stage: str, requirement: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.stage = stage
        self.req = requirement
        self.setAcceptDrops(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 6)
        title = lead(QLabel(_("Evidence")))
        f = title.font()
        f.setBold(True)
        title.setFont(f)
        lay.addWidget(title)
        self.expect = QLabel()
        self.expect.setWordWrap(True)
        self.expect.setTextFormat(Qt.TextFormat.PlainText)
        lead(self.expect)
        lay.addWidget(self.expect)

        row = QHBoxLayout()
        self.list = EvidenceList()
        self.list.setColumnCount(4)
        self.list.setHeaderLabels([_("Name"), _("Kind"), _("Size"), _("Added")])
        self.list.setRootIsDecorated(False)
        self.list.setAccessibleName(_("Files attached to {requirement}", requirement=text_in(requirement.title)))
        self.list.setMinimumHeight(self.list.fontMetrics().height() * 5)
        hdr = self.list.header()
        hdr.setStretchLastSection(False)
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        em = self.list.fontMetrics().horizontalAdvance("M")
        for col, width in ((1, 11), (2, 6), (3, 9)):
            hdr.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            self.list.setColumnWidth(col, em * width)
        self.list.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.list.currentItemChanged.connect(self._show_preview)
        self.list.itemActivated.connect(lambda *_a: self.open_selected())
        self.list.dropped.connect(self.attach_files)
        row.addWidget(self.list, 1)
        self.preview = QLabel()
        self.preview.setFixedSize(QSize(PREVIEW_PX, PREVIEW_PX))
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setWordWrap(True)
        self.preview.setFrameShape(QLabel.Shape.StyledPanel)
        self.preview.setAccessibleName(_("Preview"))
        row.addWidget(self.preview)
        lay.addLayout(row)

        buttons = QHBoxLayout()
        self.attach_btn = QPushButton(_("Attach files…"))
        self.attach_btn.setAccessibleName(_("Attach files to {requirement}", requirement=text_in(requirement.title)))
        self.attach_btn.clicked.connect(self.choose_files)
        self.kind = QComboBox()
        self.kind.setAccessibleName(_("Kind of the files to attach"))
        self.kind.addItem(_("Kind: decide from the file"), None)
        fw = ctx.kit.framework
        for e in requirement.evidence:
            k = fw.evidence_kinds.get(e.kind)
            self.kind.addItem(text_in(k.name) if k else e.kind, e.kind)
        self.open_btn = QPushButton(_("Open"))
        self.open_btn.setAccessibleName(_("Open the selected file"))
        self.open_btn.clicked.connect(self.open_selected)
        self.remove_btn = QPushButton(_("Remove"))
        self.remove_btn.setAccessibleName(_("Remove the selected file"))
        self.remove_btn.clicked.connect(self.remove_selected)
        for w in (self.attach_btn, self.kind, self.open_btn, self.remove_btn):
            buttons.addWidget(w)
        buttons.addStretch(1)
        lay.addLayout(buttons)
        hint = lead(QLabel(_("You can also drag files onto the list.")))
        tint(hint, HINT)
        lay.addWidget(hint)
        self.message = lead(QLabel())
        self.message.setWordWrap(True)
        tint(self.message, ERROR)
        self.message.setVisible(False)
        lay.addWidget(self.message)
        self.files: list[Any] = []
        self.task: Any = None
        self.reload()

    # -- drag and drop on the whole panel --------------------------------------------------
    def dragEnterEvent(self, ev: Any) -> None:  # noqa: N802
        self.list.dragEnterEvent(ev)

    def dropEvent(self, ev: Any) -> None:  # noqa: N802
        self.list.dropEvent(ev)

    # -- content ---------------------------------------------------------------------------
    def reload(self, fresh: bool = False) -> None:
        kit = self.ctx.kit
        fw = kit.framework
        if fresh:
            self.ctx.forget_evidence(self.stage)
        self.files = self.ctx.evidence_of(self.stage, self.req.id)
        counts: dict[str, int] = {}
        for e in self.files:
            counts[e.kind] = counts.get(e.kind, 0) + 1
        lines = []
        for e in self.req.evidence:
            k = fw.evidence_kinds.get(e.kind)
            name = text_in(k.name) if k else e.kind
            have = counts.get(e.kind, 0)
            need = _("at least {min}", min=e.min) if e.min else _("optional")
            mark = "✓" if have >= e.min and have else ("•" if not e.min else "✗")
            lines.append(_("{mark} {kind} ({need}, {count} attached): {description}", mark=mark, kind=name,
                           need=need, count=have, description=text_in(e.description)))
        self.expect.setText("\n".join(lines) if lines else _("No files are expected here, but you may attach some."))
        current = self.list.currentItem()
        keep = current.data(0, Qt.ItemDataRole.UserRole) if current else None
        self.list.clear()
        for e in self.files:
            k = fw.evidence_kinds.get(e.kind)
            it = QTreeWidgetItem([e.name, text_in(k.name) if k else e.kind, fmt_size(e.size), fmt_datetime(e.added_at)])
            it.setData(0, Qt.ItemDataRole.UserRole, e.id)
            it.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.list.addTopLevelItem(it)
            if e.id == keep:
                self.list.setCurrentItem(it)
        self._show_preview()

    def selected(self) -> Any | None:
        it = self.list.currentItem()
        if it is None:
            return None
        lid = it.data(0, Qt.ItemDataRole.UserRole)
        return next((e for e in self.files if e.id == lid), None)

    def _show_preview(self, *_a: Any) -> None:
        e = self.selected()
        self.open_btn.setEnabled(e is not None)
        self.remove_btn.setEnabled(e is not None)
        self.preview.setPixmap(QPixmap())
        if e is None:
            self.preview.setText(_("Select a file to see it here."))
            return
        show_file_preview(self.preview, Path(e.path), e.mime, e.size)

    def _file_card(self, *lines: str) -> QPixmap:
        return file_card(self, *lines)

    # -- actions ---------------------------------------------------------------------------
    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def choose_files(self) -> None:
        paths, _filter = QFileDialog.getOpenFileNames(self, _("Attach files"))
        if paths:
            self.attach_files(paths)

    def attach_files(self, paths: list[str], kind: str | None = None) -> Any:
        """Attach ``paths`` (the Attach dialog and a drop both call this) in a worker; returns the task."""
        if self.ctx.guard.busy:
            return None
        self.ctx.flush()
        kit, stage, req = self.ctx.kit, self.stage, self.req
        kind = kind or self.kind.currentData()
        counts: dict[str, int] = {}
        for e in self.files:
            counts[e.kind] = counts.get(e.kind, 0) + 1
        fw = kit.framework

        def work(progress: Any, cancel: Any) -> tuple[list[Any], list[str]]:
            done, problems = [], []
            for i, p in enumerate(paths):
                cancel.check()
                progress(i, len(paths), "")
                k = kind or choose_evidence_kind(fw, req, p, counts) or (req.evidence[0].kind if req.evidence
                                                                          else None)
                try:
                    info = kit.attach_evidence(stage, req.id, p, kind=k)
                except KitError as exc:
                    problems.append(_("{file}: {reason}", file=Path(p).name, reason=exc.message()))
                    continue
                counts[info.kind] = counts.get(info.kind, 0) + 1
                done.append(info)
            progress(len(paths), len(paths), "")
            return done, problems

        def finished(result: tuple[list[Any], list[str]]) -> None:
            self.reload(fresh=True)
            self.show_message("\n".join(result[1]))
            if result[0]:
                last = result[0][-1].id
                for i in range(self.list.topLevelItemCount()):
                    if self.list.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == last:
                        self.list.setCurrentItem(self.list.topLevelItem(i))
            self.changed.emit()

        def failed(exc: BaseException) -> None:
            from app.ui.tasks import error_text

            self.reload(fresh=True)
            self.show_message(error_text(exc))
            self.changed.emit()

        self.task = self.ctx.run_task(work, title=_("Attaching files"),
                                      label=_("Copying and checking {count} file(s)…", count=len(paths)),
                                      on_done=finished, on_error=failed)
        return self.task

    def open_selected(self) -> None:
        e = self.selected()
        if e is None:
            return
        target = self.ctx.kit.layout.tmp / "open" / str(e.id) / e.name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                shutil.copyfile(e.path, target)
        except OSError as exc:
            self.show_message(_("The file cannot be opened: {detail}", detail=exc.strerror or str(exc)))
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(target))):
            self.show_message(_("No program on this computer opens {name}.", name=e.name))

    def remove_selected(self) -> None:
        e = self.selected()
        if e is None:
            return
        if not dialogs.confirm(self, _("Remove {name} from this requirement?", name=e.name),
                               _("The kit keeps a record that it was attached and removed.")):
            return
        try:
            self.ctx.kit.remove_evidence(e.id)
        except KitError as exc:
            self.show_message(exc.message())
            return
        self.show_message("")
        self.reload(fresh=True)
        self.changed.emit()
