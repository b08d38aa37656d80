"""The kit's own integrity on the stick: a signed list of every program file, and its check.

The release process writes ``SHA256SUMS`` (GNU coreutils format, ``/`` separators, paths relative
to the stick's root) over every file of the stick image except the city's ``data/`` folder, and
``SHA256SUMS.minisig``, a minisign signature by the platform's release key. Anyone can check it
with stock tools (``minisign -Vm SHA256SUMS -P <release key>`` then ``sha256sum -c SHA256SUMS``);
``sdgkit selfcheck`` does both and also reports program files that are not on the list.

The release public key is pinned in ``resources/trust/release.pub`` inside the program. A check
run by the program on itself cannot defeat someone who replaces the whole program; that is why the
release key's fingerprint is also printed, to compare with the one published by the platform.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from app.errors import IntegrityError, NotFoundError
from app.i18n import N_
from app.progress import CancelToken, ProgressCallback, checker, no_progress

SUMS = "SHA256SUMS"
SIG = "SHA256SUMS.minisig"
EXCLUDED_TOP = {"data", SUMS, SIG}


def image_files(root: Path) -> list[Path]:
    """Every regular file of the image that the signature must cover, sorted, relative to ``root``."""
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if rel.parts[0] in EXCLUDED_TOP or p.is_dir():
            continue
        out.append(rel)
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sums_text(root: Path, files: Iterable[Path], progress: ProgressCallback = no_progress,
              cancel: CancelToken | None = None) -> str:
    files = list(files)
    check = checker(cancel)
    lines = []
    for i, rel in enumerate(files):
        check()
        lines.append(f"{_sha256(root / rel)}  {rel.as_posix()}")
        progress(i + 1, len(files), "")
    return "\n".join(lines) + "\n"


def parse_sums(text: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or not name \
                or name.startswith("/") or ".." in name.split("/") or name in entries:
            raise IntegrityError(N_("The list of program files is damaged at line {line}."), line=n)
        entries[name] = digest
    return entries


@dataclass
class SelfCheckReport:
    root: Path
    signature_ok: bool = False
    key_fingerprint: str = ""
    checked: int = 0
    altered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    trusted_comment: str = ""

    @property
    def ok(self) -> bool:
        return self.signature_ok and not self.altered and not self.missing and not self.unlisted

    def as_dict(self) -> dict[str, object]:
        return {"root": str(self.root), "ok": self.ok, "signature_ok": self.signature_ok,
                "key_fingerprint": self.key_fingerprint, "checked": self.checked, "altered": self.altered,
                "missing": self.missing, "unlisted": self.unlisted, "trusted_comment": self.trusted_comment}


def pinned_release_key():  # type: ignore[no-untyped-def]
    from app.bundle.minisign import PublicKey
    from app.resources import resource

    path = resource("trust", "release.pub")
    if not path.exists():
        raise NotFoundError(N_("This kit has no pinned release key, so it cannot check itself."))
    return PublicKey.from_string(path.read_text(encoding="utf-8"))


def selfcheck(root: Path, public_key=None, progress: ProgressCallback = no_progress,  # type: ignore[no-untyped-def]
              cancel: CancelToken | None = None) -> SelfCheckReport:
    """Check the stick image at ``root`` against its signed file list."""
    root = Path(root)
    rep = SelfCheckReport(root)
    sums_path, sig_path = root / SUMS, root / SIG
    if not sums_path.exists() or not sig_path.exists():
        raise NotFoundError(N_("No signed list of program files was found in {path}: this is not a complete kit."),
                            path=str(root))
    key = public_key or pinned_release_key()
    rep.key_fingerprint = key.fingerprint()
    sums_bytes = sums_path.read_bytes()
    try:
        rep.trusted_comment = key.verify_bytes(sums_bytes, sig_path.read_text(encoding="utf-8"))
        rep.signature_ok = True
    except IntegrityError:
        rep.signature_ok = False
        return rep
    listed = parse_sums(sums_bytes.decode("utf-8"))
    check = checker(cancel)
    for i, (name, digest) in enumerate(sorted(listed.items())):
        check()
        p = root / name
        if not p.is_file():
            rep.missing.append(name)
        elif _sha256(p) != digest:
            rep.altered.append(name)
        rep.checked += 1
        progress(i + 1, len(listed), name)
    present = {rel.as_posix() for rel in image_files(root)}
    rep.unlisted = sorted(present - listed.keys())
    return rep


def sign_image(root: Path, signing_key, comment: str) -> Path:  # type: ignore[no-untyped-def]
    """Write ``SHA256SUMS`` and its minisign signature (written last) for the image at ``root``."""
    from app.fsutil import atomic_write_text

    text = sums_text(root, image_files(root))
    atomic_write_text(root / SUMS, text)
    atomic_write_text(root / SIG, signing_key.sign_bytes(text.encode("utf-8"), comment))
    return root / SUMS
