"""Evidence files on the stick, content-addressed by SHA-256.

A file attached to a requirement is copied (temp name, fsync, rename, read-back check) to
``evidence/<first two hex>/<sha256>``; the same bytes attached twice are stored once. The name
the person gave it, the requirement and the kind live in the store. Limits are checked before
anything is copied: the file must exist, be non-empty, be under the size limit, have an accepted
extension and look like what its extension says (a ``.pdf`` must start with ``%PDF``).
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path

from app.errors import UserInputError, ValidationError
from app.fsutil import copy_file_atomic, require_existing_file, require_free_space, sha256_file
from app.i18n import N_

DEFAULT_MAX_BYTES = 512 * 1024 * 1024  # one evidence file; bundles split larger objects anyway

ALLOWED_EXTENSIONS = {
    ".pdf", ".doc", ".docx", ".odt", ".rtf", ".txt", ".md", ".csv", ".xls", ".xlsx", ".ods", ".ppt", ".pptx",
    ".odp", ".jpg", ".jpeg", ".png", ".gif", ".tif", ".tiff", ".webp", ".svg", ".geojson", ".json", ".kml",
    ".kmz", ".shp", ".zip", ".gpkg", ".mp3", ".m4a", ".wav", ".ogg", ".mp4", ".m4v", ".webm", ".html", ".htm",
    ".warc", ".xml",
}

# Magic numbers for formats whose extension people rely on (reject foreign files early).
_MAGIC: dict[str, tuple[bytes, ...]] = {
    ".pdf": (b"%PDF",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".docx": (b"PK\x03\x04",),
    ".xlsx": (b"PK\x03\x04",),
    ".pptx": (b"PK\x03\x04",),
    ".odt": (b"PK\x03\x04",),
    ".ods": (b"PK\x03\x04",),
    ".zip": (b"PK\x03\x04", b"PK\x05\x06"),
    ".kmz": (b"PK\x03\x04",),
}

_EXTRA_TYPES = {".geojson": "application/geo+json", ".gpkg": "application/geopackage+sqlite3",
                ".md": "text/markdown", ".warc": "application/warc", ".kml": "application/vnd.google-earth.kml+xml"}


def guess_mime(name: str) -> str:
    ext = Path(name).suffix.lower()
    if ext in _EXTRA_TYPES:
        return _EXTRA_TYPES[ext]
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    mime: str
    path: Path


class EvidenceStore:
    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def check_candidate(self, src: Path, allowed: set[str] | None = None) -> int:
        """Validate a file a person wants to attach; returns its size. Raises before anything is copied."""
        src = require_existing_file(src)
        size = src.stat().st_size
        if size == 0:
            raise ValidationError(N_("The file {name} is empty."), name=src.name)
        if size > self.max_bytes:
            raise ValidationError(N_("The file {name} is too large ({size} MB; the limit is {limit} MB)."),
                                  name=src.name, size=round(size / 1e6, 1), limit=round(self.max_bytes / 1e6))
        ext = src.suffix.lower()
        accepted = allowed if allowed else ALLOWED_EXTENSIONS
        if ext not in accepted:
            raise ValidationError(N_("Files of type {ext} cannot be attached here. Accepted: {accepted}."),
                                  ext=ext or "(none)", accepted=" ".join(sorted(accepted)))
        magic = _MAGIC.get(ext)
        if magic:
            with open(src, "rb") as fh:
                head = fh.read(16)
            if not any(head.startswith(m) for m in magic):
                raise ValidationError(N_("The file {name} is not a real {ext} file; it may be damaged or renamed."),
                                      name=src.name, ext=ext)
        return size

    def put(self, src: Path, allowed: set[str] | None = None) -> StoredFile:
        size = self.check_candidate(src, allowed)
        digest = sha256_file(src)
        dst = self.path_for(digest)
        if dst.exists() and dst.stat().st_size == size:
            return StoredFile(digest, size, guess_mime(src.name), dst)
        require_free_space(self.root, size)
        try:
            copy_file_atomic(src, dst, expected_sha256=digest)
        except OSError as exc:
            from app.fsutil import raise_if_disk_full

            raise_if_disk_full(exc, dst)
            raise UserInputError(N_("Cannot copy {name}: {detail}"), name=src.name,
                                 detail=exc.strerror or str(exc)) from exc
        return StoredFile(digest, size, guess_mime(src.name), dst)

    def verify(self, sha256: str, size: int) -> str | None:
        """None if the stored file is intact, else a short reason."""
        p = self.path_for(sha256)
        if not p.exists():
            return "missing"
        if p.stat().st_size != size:
            return "size"
        if sha256_file(p) != sha256:
            return "hash"
        return None
