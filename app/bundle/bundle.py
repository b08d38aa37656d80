"""Submission bundles, format v1: seal, verify (no secret key), open (panel identity).

See ``docs/bundle-format.md`` for the specification; this module is its reference
implementation. In short: a bundle is a folder ::

    SDGKIT-<city>-<stage>-r<revision>-<id8>/
      README.txt            how to check it with stock tools
      bundle.json           public manifest: ids, revision, submitter key, objects (no answers, no file names)
      city.pub              the submitter's minisign public key
      trust/enrolment.json  (+ .minisig; and mechanism.json for a national mechanism)
      objects/ab/<sha256 of ciphertext>.age[.000 ...]   age v1 files (X25519, ChaCha20-Poly1305 STREAM)
      SHA256SUMS            sha256sum lines for every file above, sorted
      SHA256SUMS.minisig    minisign prehashed Ed25519 signature, written last (the commit marker)

Inside the encryption an inner manifest, signed by the same key, binds the answers, every
plaintext hash, the full recipient list and every object id: sign -> encrypt -> sign.

Core functions take ``progress(done, total, label)`` and a :class:`~app.progress.CancelToken`
and never touch Qt.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Sequence

from app import __version__
from app.bundle import age
from app.bundle.minisign import BadSignatureError, PublicKey, SigningKey
from app.bundle.pathrules import check_member_path, check_no_duplicates
from app.bundle.strict_json import document_bytes, loads_strict
from app.bundle.utctime import format_utc, now_utc
from app.errors import BundleError, CryptoError, IntegrityError, KitError, UserInputError
from app.fsutil import TEMP_MARK, fsync_dir, raise_if_disk_full, replace_with_retry, require_free_space
from app.i18n import N_
from app.progress import CancelToken, ProgressCallback, checker

FORMAT = "sdgkit-bundle"
INNER_FORMAT = "sdgkit-inner-manifest"
ENVELOPE_FORMAT = "sdgkit-inner-envelope"
FORMAT_VERSION = 1
INNER_SIGNATURE_CONTEXT = b"sdgkit-bundle-inner-v1\x00"
COMMENT_PREFIX = "sdgkit-bundle"

MANIFEST = "bundle.json"
SUMS = "SHA256SUMS"
SUMS_SIG = "SHA256SUMS.minisig"
README = "README.txt"
CITY_PUB = "city.pub"
TRUST_DIR = "trust"
OBJECTS_DIR = "objects"
PARTIAL_SUFFIX = ".partial"

DEFAULT_SEGMENT_SIZE = 1 << 30
MAX_SEGMENT_SIZE = (1 << 31) - 1  # a hard cap, whatever is configured: below FAT32's and old tools' limits
MIN_SEGMENT_SIZE = 64 * 1024
PACK_THRESHOLD = 256 << 10  # files below this size travel in pack objects
PACK_TARGET = 8 << 20  # a changed small file re-sends at most about this much
_COPY_BLOCK = 1 << 20


@dataclass(frozen=True)
class ReadLimits:
    """What a reader accepts before it trusts anything (a foreign or hostile folder)."""

    max_manifest_bytes: int = 4 << 20
    max_sums_bytes: int = 16 << 20
    max_inner_bytes: int = 64 << 20
    max_objects: int = 100_000
    max_total_bytes: int = 256 << 30
    age: age.Limits = age.DEFAULT_LIMITS


DEFAULT_READ_LIMITS = ReadLimits()

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_SEGMENT_NAME = re.compile(r"^objects/([0-9a-f]{2})/([0-9a-f]{64})\.age(?:\.([0-9]{3}))?$")
_SUMS_LINE = re.compile(r"^([0-9a-f]{64})  ([^\n]+)$")


# ---------------------------------------------------------------------------------------------
# what a seal needs (gathered from the store by app.bundle.submit)


@dataclass(frozen=True)
class SourceFile:
    """One evidence file to carry: where it is now and what the reader will see."""

    path: str  # relative path inside the opened bundle, e.g. evidence/A/A.a.1/01-plan.pdf
    source: Path
    sha256: str
    size: int
    mime: str
    meta: dict[str, Any] = field(default_factory=dict)  # stage, requirement, kind, original name ...


@dataclass(frozen=True)
class SealRequest:
    city_id: str
    stage: str
    submission_id: str
    revision: int
    supersedes: str | None
    content: dict[str, Any]  # answers, indicator values, profile, framework: goes into the inner manifest
    files: tuple[SourceFile, ...]
    recipients: tuple[str, ...]  # age1... strings
    panel_id: str
    trust_files: dict[str, bytes]  # name -> bytes, copied under trust/
    demo: bool = False
    segment_size: int = DEFAULT_SEGMENT_SIZE
    city_label: str = ""  # readable name for the folder (the city's name); city_id if empty
    kind: str = "submission"  # or "review": a panel's results, readable by the city


@dataclass(frozen=True)
class ReusableObject:
    """An object sealed earlier to the same recipients, whose ciphertext can be copied as is."""

    object_id: str
    segments: tuple[Path, ...]


@dataclass
class SealedObjectInfo:
    object_id: str
    content_key: str
    size: int
    reused: bool


@dataclass
class SealResult:
    path: Path
    bundle_id: str
    submission_id: str
    revision: int
    sums_sha256: str
    size: int
    objects: list[SealedObjectInfo]
    recipients_sha256: str
    encrypted_bytes: int
    reused_bytes: int


def recipients_sha256(recipients: Iterable[str]) -> str:
    """SHA-256 over the sorted, distinct recipient strings, each followed by a newline."""
    return hashlib.sha256("".join(r + "\n" for r in sorted(set(recipients))).encode("ascii")).hexdigest()


def bundle_folder_name(city: str, stage: str, revision: int, bundle_id: str) -> str:
    """``SDGKIT-<city>-<stage>-r<revision>-<id8>``: ASCII only, so every file system and tool takes it."""
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", city).encode("ascii", "ignore").decode("ascii")
    city = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-")[:40] or "city"
    return f"SDGKIT-{city}-{stage}-r{revision}-{bundle_id[:8]}"


KINDS = ("submission", "review")


def trusted_comment(bundle_id: str, submission_id: str, revision: int, stage: str, city_id: str,
                    kind: str = "submission") -> str:
    text = (f"{COMMENT_PREFIX} fmt={FORMAT_VERSION} bundle={bundle_id} submission={submission_id} "
            f"rev={revision} stage={stage} city={re.sub(r'[^A-Za-z0-9._-]', '_', city_id)}")
    return text if kind == "submission" else text + f" kind={kind}"


# ---------------------------------------------------------------------------------------------
# writing objects: age ciphertext, hashed as written, cut into segments


class _SegmentSink(io.RawIOBase):
    """A write-only stream that cuts what it gets into segment files and hashes all of it."""

    def __init__(self, folder: Path, segment_size: int) -> None:
        super().__init__()
        self.folder = folder
        self.segment_size = segment_size
        self.hash = hashlib.sha256()
        self.size = 0
        self.paths: list[Path] = []
        self._fh: BinaryIO | None = None
        self._in_segment = 0

    def writable(self) -> bool:
        return True

    def _roll(self) -> None:
        self._close_current()
        p = self.folder / f"obj{TEMP_MARK}{secrets.token_hex(6)}.{len(self.paths):03d}"
        self._fh = open(p, "xb")
        self.paths.append(p)
        self._in_segment = 0

    def _close_current(self) -> None:
        if self._fh is not None:
            fh, self._fh = self._fh, None
            try:
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fh.close()

    def write(self, data: Any) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        total = len(view)
        while len(view):
            if self._fh is None or self._in_segment >= self.segment_size:
                self._roll()
            n = min(len(view), self.segment_size - self._in_segment)
            part = view[:n]
            assert self._fh is not None
            self._fh.write(part)
            self.hash.update(part)
            self._in_segment += n
            self.size += n
            view = view[n:]
        return total

    def finish(self) -> list[Path]:
        if self._fh is None and not self.paths:
            self._roll()
        self._close_current()
        return self.paths

    def discard(self) -> None:
        try:
            if self._fh is not None:
                self._fh.close()
        except OSError:
            pass
        self._fh = None
        for p in self.paths:
            try:
                p.unlink()
            except OSError:
                pass


def _segment_names(object_id: str, count: int) -> list[str]:
    base = f"{OBJECTS_DIR}/{object_id[:2]}/{object_id}.age"
    return [base] if count == 1 else [f"{base}.{i:03d}" for i in range(count)]


def _place_object(root: Path, sink: _SegmentSink) -> tuple[str, list[tuple[str, int]]]:
    """Rename the sink's segment files to their content address; returns (id, [(name, size)])."""
    temps = sink.finish()
    object_id = sink.hash.hexdigest()
    names = _segment_names(object_id, len(temps))
    out = []
    for tmp, name in zip(temps, names):
        dst = root / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        size = tmp.stat().st_size
        if dst.exists():  # the same ciphertext twice in one bundle: keep one
            tmp.unlink()
        else:
            replace_with_retry(tmp, dst)
        out.append((name, size))
    return object_id, out


class _ConcatReader(io.RawIOBase):
    """Reads a sequence of byte sources (bytes, or callables returning a readable) one after another."""

    def __init__(self, parts: Iterable[bytes | Callable[[], BinaryIO]]) -> None:
        super().__init__()
        self._parts: Iterator[bytes | Callable[[], BinaryIO]] = iter(parts)
        self._cur: BinaryIO | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:  # type: ignore[override]
        view = memoryview(buf).cast("B")
        while True:
            if self._cur is None:
                nxt = next(self._parts, None)
                if nxt is None:
                    return 0
                self._cur = io.BytesIO(nxt) if isinstance(nxt, bytes) else nxt()
            n = self._cur.readinto(view)  # type: ignore[attr-defined]
            if n:
                return n
            self._cur.close()
            self._cur = None

    def close(self) -> None:
        if self._cur is not None:
            self._cur.close()
            self._cur = None
        super().close()


class _HashingReader(io.RawIOBase):
    """Passes reads through and hashes (and counts) the plaintext on the way."""

    def __init__(self, src: BinaryIO) -> None:
        super().__init__()
        self.src = src
        self.hash = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:  # type: ignore[override]
        n = self.src.readinto(buf)  # type: ignore[attr-defined]
        if n:
            self.hash.update(memoryview(buf)[:n])
            self.size += n
        return n or 0


def _tar_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = 0
    info.uname = info.gname = ""
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def _pack_stream(members: Sequence[SourceFile]) -> _ConcatReader:
    """A deterministic ustar archive of ``members`` (named by their SHA-256), streamed from disk."""
    def parts() -> Iterator[bytes | Callable[[], BinaryIO]]:
        for m in members:
            yield _tar_header(m.sha256, m.size)
            yield (lambda p=m.source: open(p, "rb"))  # type: ignore[misc]
            pad = (-m.size) % tarfile.BLOCKSIZE
            if pad:
                yield bytes(pad)
        yield bytes(2 * tarfile.BLOCKSIZE)
    return _ConcatReader(parts())


def pack_size(members: Sequence[SourceFile]) -> int:
    return sum(tarfile.BLOCKSIZE + m.size + (-m.size) % tarfile.BLOCKSIZE for m in members) + 2 * tarfile.BLOCKSIZE


@dataclass
class _PlannedObject:
    kind: str  # file | pack
    content_key: str
    members: list[SourceFile]
    plaintext_size: int


def plan_objects(files: Sequence[SourceFile]) -> list[_PlannedObject]:
    """Which object each file travels in. Large files alone; small ones in packs chosen by hash,
    so that one changed file changes one pack and the other packs can be reused as they are."""
    unique: dict[str, SourceFile] = {}
    for f in files:
        unique.setdefault(f.sha256, f)
    large = [f for f in unique.values() if f.size >= PACK_THRESHOLD]
    small = sorted((f for f in unique.values() if f.size < PACK_THRESHOLD), key=lambda f: f.sha256)
    planned = [_PlannedObject("file", f.sha256, [f], f.size) for f in sorted(large, key=lambda f: f.sha256)]
    if small:
        n_packs = max(1, -(-sum(f.size for f in small) // PACK_TARGET))
        buckets: dict[int, list[SourceFile]] = {}
        for f in small:
            buckets.setdefault(int(f.sha256[:8], 16) % n_packs, []).append(f)
        for _, members in sorted(buckets.items()):
            key = hashlib.sha256(("pack-v1\n" + "".join(m.sha256 + "\n" for m in members)).encode()).hexdigest()
            planned.append(_PlannedObject("pack", key, members, pack_size(members)))
    return planned


# ---------------------------------------------------------------------------------------------
# sealing


README_TEXT = """\
SDG Cities Kit - submission bundle
==================================

This folder is a sealed submission of a city's self-assessment for the SDG Cities
certification. Its content is encrypted: only the technical panel it was sealed for can read
it. Anyone can check that it is complete, unaltered, and signed by the city's key.

Keep the folder whole. Do not rename, add or remove files inside it.

Check it with the SDG Cities Kit:
    sdgkit bundle verify "<this folder>"

Check it with standard tools (no SDG Cities Kit needed):
  1. The signature (minisign, https://jedisct1.github.io/minisign/):
         minisign -V -p city.pub -m SHA256SUMS
     It must print "Signature and comment signature verified", and the trusted comment must
     name this bundle: {comment}
  2. Every file against the signed list:
         Linux, macOS:  sha256sum -c SHA256SUMS        (macOS: shasum -a 256 -c SHA256SUMS)
         Windows PowerShell, in this folder:
           Get-Content SHA256SUMS | ForEach-Object {{ $h,$f = $_ -split '  ',2;
             if ((Get-FileHash -Algorithm SHA256 $f).Hash -ne $h) {{ "BAD  $f" }} else {{ "OK   $f" }} }}
  3. Who signed: the fingerprint of city.pub must match the city's enrolment certificate in
     trust/enrolment.json (field "fingerprint"), which its mechanism signed
     (minisign -V -p <mechanism or platform root key> -m trust/enrolment.json).

Bundle {bundle_id}, submission {submission_id}, revision {revision}, stage {stage}.
Signed by the key with fingerprint {fingerprint}.
Format: sdgkit-bundle v1 (age v1 encryption, minisign signatures); see docs/bundle-format.md.
"""


def _write_file(root: Path, name: str, data: bytes) -> None:
    p = root / name
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def sums_text(entries: dict[str, str]) -> bytes:
    """GNU coreutils ``sha256sum`` lines, sorted by path (byte order), ``/`` separators."""
    return "".join(f"{entries[name]}  {name}\n" for name in sorted(entries, key=lambda n: n.encode())).encode()


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(_COPY_BLOCK)
            if not block:
                return h.hexdigest()
            h.update(block)


def estimate_size(request: SealRequest, planned: Sequence[_PlannedObject]) -> int:
    n = len(set(request.recipients))
    total = sum(age.encrypted_size(p.plaintext_size, n) for p in planned)
    return total + (2 << 20) + sum(len(v) for v in request.trust_files.values())


def seal(request: SealRequest, out_parent: Path | str, signing_key: SigningKey, *,
         reuse: Callable[[str], ReusableObject | None] | None = None,
         progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> SealResult:
    """Write a new bundle folder under ``out_parent``; returns what was written.

    Everything is written inside ``<name>.partial`` first; the folder gets its final name only
    after the signature (the commit marker) is on disk and the whole folder reads back intact.
    On any failure or cancellation the partial folder is removed: nothing half-written remains.
    """
    check = checker(cancel)
    report = progress or (lambda done, total, label: None)
    seg = min(max(int(request.segment_size), MIN_SEGMENT_SIZE), MAX_SEGMENT_SIZE)
    if not request.recipients:
        raise BundleError(N_("There is no recipient to seal the bundle for."))
    recipients = [age.X25519Recipient.from_string(r) for r in sorted(set(request.recipients))]
    rsha = recipients_sha256(request.recipients)
    out_parent = Path(out_parent)
    for f in request.files:
        check_member_path(f.path)
    check_no_duplicates(f.path for f in request.files)
    planned = plan_objects(request.files)
    reusable = {p.content_key: reuse(p.content_key) for p in planned} if reuse else {}
    needed = estimate_size(request, planned)
    try:
        out_parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise_if_disk_full(exc, out_parent)
        raise UserInputError(N_("Cannot write to {path}: {detail}"), path=str(out_parent), detail=exc.strerror or exc) from None
    require_free_space(out_parent, needed)

    bundle_id = secrets.token_hex(16)
    if request.kind not in KINDS:
        raise ValueError(request.kind)
    name = bundle_folder_name(request.city_label or request.city_id, request.stage, request.revision, bundle_id)
    if request.kind != "submission":
        name = name.replace("SDGKIT-", f"SDGKIT-{request.kind.upper()}-", 1)
    final = out_parent / name
    work = out_parent / (name + PARTIAL_SUFFIX)
    work.mkdir()
    total_work = sum(p.plaintext_size for p in planned) or 1
    done = 0

    def sub_progress(base: int) -> ProgressCallback:
        return lambda d, _t, _l: report(min(base + d, total_work), total_work, N_("Encrypting evidence"))

    try:
        (work / OBJECTS_DIR).mkdir()
        objects: list[dict[str, Any]] = []
        infos: list[SealedObjectInfo] = []
        inner_objects: list[dict[str, Any]] = []
        file_object: dict[str, tuple[str, str | None]] = {}
        encrypted = reused_bytes = 0
        for p in planned:
            check()
            sink = _SegmentSink(work / OBJECTS_DIR, seg)
            prior = reusable.get(p.content_key)
            try:
                plain_sha = None
                if prior is not None and _copy_object(prior, sink, check):
                    reused = True
                else:
                    sink.discard()
                    sink = _SegmentSink(work / OBJECTS_DIR, seg)
                    src = open(p.members[0].source, "rb") if p.kind == "file" else _pack_stream(p.members)
                    hashing = _HashingReader(src)  # type: ignore[arg-type]
                    try:
                        age.encrypt_stream(hashing, sink, recipients, cancel=cancel, progress=sub_progress(done),  # type: ignore[arg-type]
                                           total=p.plaintext_size)
                    finally:
                        src.close()
                    plain_sha = hashing.hash.hexdigest()
                    if hashing.size != p.plaintext_size or (p.kind == "file" and plain_sha != p.members[0].sha256):
                        raise IntegrityError(N_("The evidence file {path} changed while it was being sealed. Seal again."),
                                             path=str(p.members[0].source))
                    reused = False
                object_id, segments = _place_object(work, sink)
            except BaseException:
                sink.discard()
                raise
            size = sum(s for _, s in segments)
            if reused:
                reused_bytes += size
            else:
                encrypted += size
            done += p.plaintext_size
            report(min(done, total_work), total_work, N_("Encrypting evidence"))
            objects.append({"id": object_id, "size": size, "segments": [{"name": n, "size": s} for n, s in segments]})
            infos.append(SealedObjectInfo(object_id, p.content_key, size, reused))
            inner_objects.append({"id": object_id, "kind": p.kind, "content_key": p.content_key,
                                  "plaintext_size": p.plaintext_size,
                                  **({"plaintext_sha256": plain_sha} if plain_sha and p.kind == "pack" else {}),
                                  "members": [m.sha256 for m in p.members]})
            for m in p.members:
                file_object[m.sha256] = (object_id, m.sha256 if p.kind == "pack" else None)

        pub = signing_key.public_key()
        files = []
        for f in sorted(request.files, key=lambda f: f.path):
            obj, member = file_object[f.sha256]
            files.append({"path": f.path, "size": f.size, "sha256": f.sha256, "mime": f.mime, "object": obj,
                          **({"member": member} if member else {}), **f.meta})
        created = format_utc(now_utc())
        inner = {
            "format": INNER_FORMAT, "format_version": FORMAT_VERSION, "bundle_id": bundle_id,
            "submission_id": request.submission_id, "revision": request.revision, "supersedes": request.supersedes,
            "city_id": request.city_id, "stage": request.stage, "created": created, "demo": request.demo,
            "kind": request.kind,
            "submitter": {"ed25519": pub.to_base64(), "fingerprint": pub.fingerprint()},
            "panel_id": request.panel_id, "recipients": [r.to_string() for r in recipients],
            "recipients_sha256": rsha,
            "objects": sorted(inner_objects, key=lambda o: o["id"]), "files": files,
            "content": request.content, "app_version": __version__,
        }
        inner_bytes = json.dumps(inner, sort_keys=True, ensure_ascii=False, allow_nan=False,
                                 separators=(",", ":")).encode("utf-8")
        envelope = json.dumps({"format": ENVELOPE_FORMAT, "format_version": FORMAT_VERSION,
                               "signature": base64.b64encode(signing_key.sign_detached(
                                   INNER_SIGNATURE_CONTEXT + inner_bytes)).decode("ascii"),
                               "manifest": base64.b64encode(inner_bytes).decode("ascii")}).encode("utf-8")
        check()
        sink = _SegmentSink(work / OBJECTS_DIR, seg)
        try:
            age.encrypt_stream(io.BytesIO(envelope), sink, recipients)  # type: ignore[arg-type]
            inner_id, inner_segments = _place_object(work, sink)
        except BaseException:
            sink.discard()
            raise
        objects.append({"id": inner_id, "size": sum(s for _, s in inner_segments),
                        "segments": [{"name": n, "size": s} for n, s in inner_segments]})
        objects.sort(key=lambda o: o["id"])

        comment = trusted_comment(bundle_id, request.submission_id, request.revision, request.stage, request.city_id,
                                  request.kind)
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "bundle_id": bundle_id,
            "submission_id": request.submission_id, "revision": request.revision, "supersedes": request.supersedes,
            "city_id": request.city_id, "stage": request.stage, "created": created, "demo": request.demo,
            "kind": request.kind,
            "submitter": {"ed25519": pub.to_base64(), "fingerprint": pub.fingerprint(), "key_id": pub.key_id_hex},
            "trust": sorted(f"{TRUST_DIR}/{n}" for n in request.trust_files),
            "panel_id": request.panel_id, "recipients_sha256": rsha, "recipient_count": len(recipients),
            "inner_manifest": inner_id, "segment_size": seg, "objects": objects, "app_version": __version__,
        }
        for tname, data in request.trust_files.items():
            _write_file(work, f"{TRUST_DIR}/{tname}", data)
        _write_file(work, CITY_PUB, pub.to_string(f"SDG Cities Kit signing key {pub.fingerprint()}").encode("ascii"))
        _write_file(work, README, README_TEXT.format(
            comment=comment, bundle_id=bundle_id, submission_id=request.submission_id, revision=request.revision,
            stage=request.stage, fingerprint=pub.fingerprint()).replace("\n", os.linesep if os.name == "nt" else "\n")
            .encode("utf-8"))
        _write_file(work, MANIFEST, document_bytes(manifest))
        entries = {}
        for p in sorted(work.rglob("*")):
            if p.is_file():
                rel = p.relative_to(work).as_posix()
                check()
                entries[rel] = _hash_file(p)
        sums = sums_text(entries)
        _write_file(work, SUMS, sums)
        check()
        sig = signing_key.sign_bytes(sums, comment, untrusted_comment=f"signature from SDG Cities Kit key {pub.key_id_hex}")
        _write_file(work, SUMS_SIG, sig.encode("ascii"))  # the commit marker: written last
        for d in [work, *(p for p in work.rglob("*") if p.is_dir())]:
            fsync_dir(d)
        report(total_work, total_work, N_("Checking what was written"))
        verify_folder(work, expected_key=pub, cancel=cancel)  # read back before calling it sealed
        replace_with_retry(work, final)
        fsync_dir(out_parent)
    except OSError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise_if_disk_full(exc, out_parent)
        raise BundleError(N_("Cannot write the bundle to {path}: {detail}"), path=str(out_parent),
                          detail=exc.strerror or str(exc)) from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    total_size = sum(p.stat().st_size for p in final.rglob("*") if p.is_file())
    return SealResult(path=final, bundle_id=bundle_id, submission_id=request.submission_id, revision=request.revision,
                      sums_sha256=hashlib.sha256(sums).hexdigest(), size=total_size, objects=infos,
                      recipients_sha256=rsha, encrypted_bytes=encrypted, reused_bytes=reused_bytes)


def _copy_object(prior: ReusableObject, sink: _SegmentSink, check: Callable[[], None]) -> bool:
    """Copy an earlier object's ciphertext; False (nothing kept) if it is missing or damaged."""
    try:
        for seg in prior.segments:
            with open(seg, "rb") as fh:
                while True:
                    check()
                    block = fh.read(_COPY_BLOCK)
                    if not block:
                        break
                    sink.write(block)
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno in (28,):
            raise
        return False
    return sink.hash.hexdigest() == prior.object_id


# ---------------------------------------------------------------------------------------------
# verifying (no secret key)


@dataclass
class VerifiedBundle:
    path: Path
    manifest: dict[str, Any]
    submitter: PublicKey
    sums_sha256: str
    size: int
    trust_files: dict[str, bytes]
    segments: dict[str, list[Path]]  # object id -> segment paths in order
    sums: dict[str, str] = field(default_factory=dict)  # segment name -> SHA-256 from the signed list
    objects_checked: bool = True  # False: open_bundle hashes the objects as it decrypts them

    @property
    def bundle_id(self) -> str:
        return self.manifest["bundle_id"]

    @property
    def submission_id(self) -> str:
        return self.manifest["submission_id"]

    @property
    def revision(self) -> int:
        return self.manifest["revision"]


def _read_limited(path: Path, limit: int, what: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise BundleError(N_("{file} in the bundle is larger than any real one ({size} bytes): refused."),
                              file=what, size=size)
        with open(path, "rb") as fh:
            return fh.read(limit + 1)
    except FileNotFoundError:
        raise BundleError(N_("The bundle is incomplete: {file} is missing. It may still be copying, or the copy "
                             "was interrupted."), file=what) from None
    except IsADirectoryError:
        raise BundleError(N_("{file} in the bundle is not a file."), file=what) from None
    except OSError as exc:
        raise BundleError(N_("Cannot read {file} from the bundle: {detail}"), file=what,
                          detail=exc.strerror or str(exc)) from None


def _parse_sums(data: bytes) -> dict[str, str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError(N_("SHA256SUMS in the bundle is not a checksum list.")) from None
    if not text.endswith("\n"):
        raise BundleError(N_("SHA256SUMS in the bundle is not a checksum list."))
    entries: dict[str, str] = {}
    names: list[str] = []
    for line in text[:-1].split("\n"):
        m = _SUMS_LINE.match(line)
        if not m:
            raise BundleError(N_("SHA256SUMS in the bundle is not a checksum list."))
        name = check_member_path(m.group(2))
        if name in entries:
            raise BundleError(N_("SHA256SUMS in the bundle lists {file} twice."), file=name)
        entries[name] = m.group(1)
        names.append(name)
    if names != sorted(names, key=lambda n: n.encode()):
        raise BundleError(N_("SHA256SUMS in the bundle is not in canonical order: it was edited by hand or by "
                             "another tool."))
    check_no_duplicates(names)
    return entries


def _manifest_int(doc: dict[str, Any], key: str, minimum: int = 0) -> int:
    v = doc.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
        raise BundleError(N_("bundle.json is damaged: the field {field} is missing or wrong."), field=key)
    return v


def _manifest_str(doc: dict[str, Any], key: str, pattern: re.Pattern[str] | None = None) -> str:
    v = doc.get(key)
    if not isinstance(v, str) or (pattern is not None and not pattern.match(v)):
        raise BundleError(N_("bundle.json is damaged: the field {field} is missing or wrong."), field=key)
    return v


def _is_os_litter(name: str) -> bool:
    """Files that Finder, Explorer and thumbnailers drop into any folder on a stick."""
    return name in (".DS_Store", "Thumbs.db", "desktop.ini", "Desktop.ini") or name.startswith("._")


def verify_folder(path: Path | str, *, expected_key: PublicKey | None = None, limits: ReadLimits = DEFAULT_READ_LIMITS,
                  progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
                  hash_objects: bool = True) -> VerifiedBundle:
    """Structure, every hash, the outer signature and the manifest's consistency.

    With ``hash_objects=False`` (an import that decrypts right after) the objects' bytes are not
    read here; :func:`open_bundle` hashes them while decrypting and refuses the bundle, leaving
    nothing behind, if any differs. Everything else is checked in full.

    Trust (who the key belongs to: enrolment, revocation) is checked by :func:`app.bundle.submit`
    helpers on top of this, since it depends on the verifier's trust pack.
    """
    check = checker(cancel)
    root = Path(path)
    if not root.exists():
        raise UserInputError(N_("No such file or folder: {path}"), path=str(root))
    if not root.is_dir():
        raise BundleError(N_("{path} is not a submission bundle: a bundle is a folder with bundle.json and "
                             "SHA256SUMS inside."), path=str(root))
    if not (root / MANIFEST).is_file() and not (root / SUMS).is_file():
        raise BundleError(N_("{path} is not a submission bundle: a bundle is a folder with bundle.json and "
                             "SHA256SUMS inside."), path=str(root))
    if not (root / SUMS_SIG).is_file():
        raise BundleError(N_("The bundle {path} is incomplete: its signature file SHA256SUMS.minisig is missing. "
                             "It may still be copying, or sealing was interrupted."), path=root.name)
    # 1. the signature, with the key stock tools use (city.pub), before anything is parsed
    try:
        key = PublicKey.from_string(_read_limited(root / CITY_PUB, 4096, CITY_PUB).decode("utf-8"))
    except (KitError, UnicodeDecodeError) as exc:
        if isinstance(exc, BundleError):
            raise
        raise CryptoError(N_("The bundle's public key file city.pub is damaged.")) from None
    if expected_key is not None and key != expected_key:
        raise CryptoError(N_("The bundle was signed by the key {found}, not by {expected}."), found=key.fingerprint(),
                          expected=expected_key.fingerprint())
    sums = _read_limited(root / SUMS, limits.max_sums_bytes, SUMS)
    sig_text = _read_limited(root / SUMS_SIG, 8192, SUMS_SIG).decode("utf-8", "replace")
    try:
        comment = key.verify_bytes(sums, sig_text)
    except BadSignatureError:
        raise CryptoError(N_("The bundle's signature does not match: SHA256SUMS was altered, or the bundle was "
                             "re-signed by a key other than the one in city.pub.")) from None
    except KitError:
        raise CryptoError(N_("The bundle's signature file SHA256SUMS.minisig is damaged.")) from None
    # 2. the signed list, then the manifest against it
    entries = _parse_sums(sums)
    raw_manifest = _read_limited(root / MANIFEST, limits.max_manifest_bytes, MANIFEST)
    if entries.get(MANIFEST) != hashlib.sha256(raw_manifest).hexdigest():
        raise IntegrityError(N_("The file {file} in the bundle was altered or damaged: its SHA-256 does not match."),
                             file=MANIFEST)
    manifest = loads_strict(raw_manifest, what=MANIFEST)
    if manifest.get("format") != FORMAT:
        raise BundleError(N_("{path} is not a submission bundle: a bundle is a folder with bundle.json and "
                             "SHA256SUMS inside."), path=str(root))
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(N_("The bundle was made by a newer version of the kit (format {version}). Update the kit "
                             "to read it."), version=str(manifest.get("format_version"))[:20])
    submitter = manifest.get("submitter")
    if not isinstance(submitter, dict) or submitter.get("ed25519") != key.to_base64():
        raise CryptoError(N_("bundle.json names another signer than city.pub: the bundle was re-signed."))
    bundle_id = _manifest_str(manifest, "bundle_id", _HEX32)
    submission_id = _manifest_str(manifest, "submission_id", _HEX32)
    revision = _manifest_int(manifest, "revision", 1)
    stage = _manifest_str(manifest, "stage", re.compile(r"^[A-Z]$"))
    city_id = _manifest_str(manifest, "city_id")
    kind = manifest.get("kind", "submission")
    if kind not in KINDS:
        raise BundleError(N_("bundle.json is damaged: the field {field} is missing or wrong."), field="kind")
    if comment != trusted_comment(bundle_id, submission_id, revision, stage, city_id, kind):
        raise CryptoError(N_("The bundle's signature was made for another bundle or revision: bundle.json was "
                             "swapped or edited."))
    # everything on disk must be listed, and everything listed must be on disk
    on_disk = set()
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        if p.is_dir():
            continue
        if rel in (SUMS, SUMS_SIG) or _is_os_litter(p.name):
            continue
        on_disk.add(rel)
    extra = sorted(on_disk - entries.keys())
    if extra:
        raise BundleError(N_("The bundle contains {file}, which its signed checksum list does not cover. Someone "
                             "added it after sealing."), file=extra[0][:120])
    objects = manifest.get("objects")
    if not isinstance(objects, list) or not objects or len(objects) > limits.max_objects:
        raise BundleError(N_("bundle.json is damaged: the field {field} is missing or wrong."), field="objects")
    segments: dict[str, list[Path]] = {}
    listed_segments: set[str] = set()
    total = 0
    for obj in objects:
        if not isinstance(obj, dict):
            raise BundleError(N_("bundle.json is damaged: the field {field} is missing or wrong."), field="objects")
        oid = _manifest_str(obj, "id", _HEX64)
        size = _manifest_int(obj, "size", 1)
        segs = obj.get("segments")
        if not isinstance(segs, list) or not segs or oid in segments:
            raise BundleError(N_("bundle.json is damaged: the field {field} is missing or wrong."), field="objects")
        expected_names = _segment_names(oid, len(segs))
        seg_paths, seg_total = [], 0
        for want, seg in zip(expected_names, segs):
            if not isinstance(seg, dict) or seg.get("name") != want:
                raise BundleError(N_("The segments of object {object} are out of order or renamed."), object=oid[:12])
            seg_size = _manifest_int(seg, "size", 1)
            if seg_size > MAX_SEGMENT_SIZE:
                raise BundleError(N_("bundle.json is damaged: the field {field} is missing or wrong."), field="segments")
            if want not in entries:
                raise BundleError(N_("bundle.json names {file}, which the signed checksum list does not cover."),
                                  file=want)
            listed_segments.add(want)
            seg_paths.append(root / want)
            seg_total += seg_size
        if seg_total != size:
            raise BundleError(N_("bundle.json is damaged: the field {field} is missing or wrong."), field="size")
        total += size
        segments[oid] = seg_paths
    if total > limits.max_total_bytes:
        raise BundleError(N_("The bundle is larger than this kit accepts ({size} bytes)."), size=total)
    inner_id = _manifest_str(manifest, "inner_manifest", _HEX64)
    if inner_id not in segments:
        raise BundleError(N_("bundle.json is damaged: the field {field} is missing or wrong."), field="inner_manifest")
    stray = sorted(n for n in entries if n.startswith(OBJECTS_DIR + "/") and n not in listed_segments)
    if stray:
        raise BundleError(N_("The checksum list covers {file}, which bundle.json does not list."), file=stray[0])
    trust_names = manifest.get("trust", [])
    if not isinstance(trust_names, list) or any(not isinstance(t, str) or t not in entries for t in trust_names):
        raise BundleError(N_("bundle.json is damaged: the field {field} is missing or wrong."), field="trust")

    # every byte, against the signed list (and objects against their own content address)
    object_segments = {seg["name"] for obj in objects for seg in obj["segments"]}
    grand = sum(p.stat().st_size for n in entries for p in [root / n] if p.is_file()) or 1
    done = 0

    def hash_into(p: Path, *hashes: Any) -> None:
        nonlocal done
        with open(p, "rb") as fh:
            while True:
                check()
                block = fh.read(_COPY_BLOCK)
                if not block:
                    return
                for h in hashes:
                    h.update(block)
                done += len(block)
                if progress:
                    progress(done, grand, N_("Checking the bundle"))

    for name in sorted(entries):
        p = root / name
        if not p.is_file():
            raise BundleError(N_("The bundle is incomplete: {file} is missing. It may still be copying, or the copy "
                                 "was interrupted."), file=name)
        if name in object_segments:
            continue
        h = hashlib.sha256()
        hash_into(p, h)
        if h.hexdigest() != entries[name]:
            raise IntegrityError(N_("The file {file} in the bundle was altered or damaged: its SHA-256 does not "
                                    "match."), file=name)
    for obj in objects:
        check()
        sizes = [s["size"] for s in obj["segments"]]
        paths = segments[obj["id"]]
        if [p.stat().st_size for p in paths] != sizes:
            raise IntegrityError(N_("Object {object} in the bundle has the wrong size: it was truncated or "
                                    "padded."), object=obj["id"][:12])
        if not hash_objects:
            continue  # the reader hashes them while decrypting (see open_bundle)
        whole = hashlib.sha256()
        for seg, p in zip(obj["segments"], paths):
            h = hashlib.sha256()
            hash_into(p, h, whole) if len(paths) > 1 else hash_into(p, h)
            if h.hexdigest() != entries[seg["name"]]:
                raise IntegrityError(N_("The file {file} in the bundle was altered or damaged: its SHA-256 does not "
                                        "match."), file=seg["name"])
        actual = whole.hexdigest() if len(paths) > 1 else entries[obj["segments"][0]["name"]]
        if actual != obj["id"]:
            raise IntegrityError(N_("Object {object} in the bundle does not match its name: its segments were "
                                    "swapped or altered."), object=obj["id"][:12])
    trust_files = {t.split("/", 1)[1]: (root / t).read_bytes() for t in trust_names}
    return VerifiedBundle(path=root, manifest=manifest, submitter=key,
                          sums_sha256=hashlib.sha256(sums).hexdigest(), size=total, trust_files=trust_files,
                          segments=segments, sums={n: entries[n] for n in object_segments},
                          objects_checked=hash_objects)


# ---------------------------------------------------------------------------------------------
# opening (a recipient's identity)


class _HashThread:
    """Feeds SHA-256 objects on a second thread: hashlib releases the GIL, so a panel's import
    hashes on one core while it decrypts on the other.

    Data is gathered per stream (one or more hash objects fed the same bytes) into blocks of
    :data:`HASH_BATCH` bytes before it crosses to the thread: one hand-over per MiB rather than per
    64 KiB chunk keeps the two threads from trading the GIL at every chunk. The queue is bounded,
    so memory stays flat (at most ``maxsize`` blocks in flight)."""

    def __init__(self) -> None:
        import queue
        import threading

        self._q: Any = queue.Queue(maxsize=8)
        self._threading = threading
        self._pending: dict[tuple[int, ...], tuple[tuple[Any, ...], bytearray]] = {}
        self._t = threading.Thread(target=self._run, name="sdgkit-hash", daemon=True)
        self._t.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            hashes, data = item
            if hashes is None:
                data.set()
            else:
                for h in hashes:
                    h.update(data)

    def update(self, *args: Any) -> None:
        """``update(h1, [h2, ...], data)``: feed ``data`` to every hash object given."""
        *hashes, data = args
        key = tuple(map(id, hashes))
        entry = self._pending.get(key)
        if entry is None:
            entry = self._pending[key] = (tuple(hashes), bytearray())
        buf = entry[1]
        buf += data
        if len(buf) >= HASH_BATCH:
            self._q.put((entry[0], bytes(buf)))
            buf.clear()

    def sync(self) -> None:
        """Return once every byte fed so far has been hashed."""
        for hashes, buf in self._pending.values():
            if buf:
                self._q.put((hashes, bytes(buf)))
        self._pending.clear()
        done = self._threading.Event()
        self._q.put((None, done))
        done.wait()

    def close(self) -> None:
        self._pending.clear()
        self._q.put(None)
        self._t.join()


HASH_BATCH = 1 << 20


class _SegmentReader(io.RawIOBase):
    """An object's segments as one stream; with ``expected`` it also checks each segment's SHA-256
    against the signed list and the whole against the object id, failing at the end of the data."""

    def __init__(self, paths: Sequence[Path], expected: list[str] | None = None, object_id: str | None = None,
                 hasher: "_HashThread | None" = None) -> None:
        super().__init__()
        self._hasher = hasher
        self._paths = list(paths)
        self._expected = expected
        self._object_id = object_id
        self._i = -1
        self._fh: BinaryIO | None = None
        self._seg = hashlib.sha256()
        self._whole = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def _next(self) -> bool:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            if self._hasher is not None:
                self._hasher.sync()
            if (self._expected is not None and len(self._paths) > 1
                    and self._seg.hexdigest() != self._expected[self._i]):
                raise IntegrityError(N_("The file {file} in the bundle was altered or damaged: its SHA-256 does not "
                                        "match."), file=self._paths[self._i].name)
        self._i += 1
        if self._i >= len(self._paths):
            if self._hasher is not None:
                self._hasher.sync()
            if self._expected is not None and self._whole.hexdigest() != self._object_id:
                raise IntegrityError(N_("Object {object} in the bundle does not match its name: its segments were "
                                        "swapped or altered."), object=str(self._object_id)[:12])
            return False
        self._fh = open(self._paths[self._i], "rb")
        self._seg = hashlib.sha256()
        return True

    def _feed(self, data: Any) -> None:
        if self._expected is None:
            return
        if self._hasher is not None:
            if len(self._paths) > 1:
                self._hasher.update(self._seg, self._whole, data)
            else:
                self._hasher.update(self._whole, data)
        else:
            if len(self._paths) > 1:
                self._seg.update(data)
            self._whole.update(data)

    def readinto(self, buf: Any) -> int:  # type: ignore[override]
        view = memoryview(buf).cast("B")
        while True:
            if self._fh is None and not self._next():
                return 0
            assert self._fh is not None
            n = self._fh.readinto(view)  # type: ignore[attr-defined]
            if n:
                self._feed(view[:n])
                return n
            if not self._next():
                return 0

    def readline(self, size: int | None = -1) -> bytes:
        """A line from the buffered segment (io.RawIOBase's own reads one byte per call: the
        age header is read line by line). A line may run on into the next segment."""
        limit = -1 if size is None or size < 0 else size
        out = bytearray()
        while limit < 0 or len(out) < limit:
            if self._fh is None and not self._next():
                break
            assert self._fh is not None
            part = self._fh.readline(-1 if limit < 0 else limit - len(out))
            if not part:
                if not self._next():
                    break
                continue
            self._feed(part)
            out += part
            if part.endswith(b"\n"):
                break
        return bytes(out)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        super().close()


@dataclass
class OpenedBundle:
    verified: VerifiedBundle
    inner: dict[str, Any]
    out: Path
    files: list[dict[str, Any]]


def _decrypt_object(vb: "VerifiedBundle", oid: str, dst: BinaryIO, identities: Sequence[age.Identity],
                    limits: ReadLimits, cancel: CancelToken | None, progress: ProgressCallback | None = None,
                    hasher: _HashThread | None = None) -> int:
    paths = vb.segments[oid]
    if vb.objects_checked:
        src = _SegmentReader(paths)
    else:
        names = _segment_names(oid, len(paths))
        src = _SegmentReader(paths, [vb.sums[n] for n in names], oid, hasher)
    try:
        return age.decrypt_stream(src, dst, identities, cancel=cancel, progress=progress, limits=limits.age)  # type: ignore[arg-type]
    finally:
        src.close()


def read_inner_manifest(vb: VerifiedBundle, identity: age.X25519Identity,
                        limits: ReadLimits = DEFAULT_READ_LIMITS) -> dict[str, Any]:
    """Decrypt the inner manifest, check its signature and that it agrees with the outer one."""
    m = vb.manifest
    inner_paths = vb.segments[m["inner_manifest"]]
    if sum(p.stat().st_size for p in inner_paths) > limits.max_inner_bytes:
        raise BundleError(N_("The inner manifest is larger than any real one: refused."))
    buf = io.BytesIO()
    try:
        _decrypt_object(vb, m["inner_manifest"], buf, [identity], limits, None)  # type: ignore[arg-type]
    except age.NoIdentityMatchError:
        raise CryptoError(N_("This bundle was not sealed for your key: it is for panel {panel}."),
                          panel=str(m.get("panel_id"))[:64]) from None
    try:
        env = json.loads(buf.getvalue().decode("utf-8"))
        if env.get("format") != ENVELOPE_FORMAT or env.get("format_version") != FORMAT_VERSION:
            raise ValueError("envelope")
        inner_bytes = base64.b64decode(env["manifest"], validate=True)
        signature = base64.b64decode(env["signature"], validate=True)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, AttributeError):
        raise BundleError(N_("The inner manifest of the bundle is damaged.")) from None
    try:
        vb.submitter.verify_detached(INNER_SIGNATURE_CONTEXT + inner_bytes, signature)
    except BadSignatureError:
        raise CryptoError(N_("The inner signature is not by the key that signed the outside: the bundle was "
                             "re-signed by someone else.")) from None
    inner = _loads_inner(inner_bytes)
    checks = {
        "format": inner.get("format") == INNER_FORMAT and inner.get("format_version") == FORMAT_VERSION,
        "bundle_id": inner.get("bundle_id") == m["bundle_id"],
        "submission_id": inner.get("submission_id") == m["submission_id"],
        "revision": inner.get("revision") == m["revision"],
        "supersedes": inner.get("supersedes") == m.get("supersedes"),
        "stage": inner.get("stage") == m["stage"] and inner.get("city_id") == m["city_id"],
        "kind": inner.get("kind", "submission") == m.get("kind", "submission"),
        "submitter": isinstance(inner.get("submitter"), dict) and inner["submitter"].get("ed25519") == m["submitter"]["ed25519"],
    }
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise CryptoError(N_("The inside of the bundle does not agree with its outside ({field}): parts of two "
                             "bundles were mixed."), field=bad[0])
    recipients = inner.get("recipients")
    if (not isinstance(recipients, list) or recipients_sha256(recipients) != m.get("recipients_sha256")
            or inner.get("recipients_sha256") != m.get("recipients_sha256")):
        raise CryptoError(N_("The recipients inside the bundle differ from those outside: it was re-encrypted."))
    if identity.recipient().to_string() not in recipients:
        raise CryptoError(N_("Your key opens this bundle but is not among its signed recipients: it was "
                             "re-encrypted by someone else."))
    inner_ids = sorted(o.get("id") for o in inner.get("objects", []) if isinstance(o, dict))
    outer_ids = sorted(o["id"] for o in m["objects"] if o["id"] != m["inner_manifest"])
    if inner_ids != outer_ids:
        raise CryptoError(N_("The objects inside the bundle differ from those outside: objects were swapped "
                             "between bundles."))
    return inner


def _loads_inner(data: bytes) -> dict[str, Any]:
    def no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise ValueError("duplicate key")
            out[k] = v
        return out

    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=no_dupes,
                           parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except (ValueError, UnicodeDecodeError):
        raise BundleError(N_("The inner manifest of the bundle is damaged.")) from None
    if not isinstance(value, dict):
        raise BundleError(N_("The inner manifest of the bundle is damaged."))
    return value


def open_bundle(vb: VerifiedBundle, identity: age.X25519Identity, out: Path | str, *,
                limits: ReadLimits = DEFAULT_READ_LIMITS, progress: ProgressCallback | None = None,
                cancel: CancelToken | None = None) -> OpenedBundle:
    """Decrypt a verified bundle into the new folder ``out``: ``submission.json`` (answers and the
    inner manifest) and the evidence files at their paths. Written in a hidden staging folder
    that is removed on any failure, so no partial plaintext is ever left behind."""
    check = checker(cancel)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserInputError(N_("The folder {path} is not empty. Choose a new or empty folder."), path=str(out))
    inner = read_inner_manifest(vb, identity, limits)
    files = inner.get("files")
    if not isinstance(files, list):
        raise BundleError(N_("The inner manifest of the bundle is damaged."))
    paths = []
    for f in files:
        if not isinstance(f, dict) or not isinstance(f.get("sha256"), str) or not isinstance(f.get("size"), int):
            raise BundleError(N_("The inner manifest of the bundle is damaged."))
        paths.append(check_member_path(f.get("path")))
        if f["path"].split("/")[0] != "evidence":
            raise BundleError(N_("The bundle names a file {path} that is not allowed ({why}). Nothing was written."),
                              path=f["path"][:120], why="outside evidence/")
    check_no_duplicates(paths)
    objs = {o["id"]: o for o in inner["objects"]}
    out.parent.mkdir(parents=True, exist_ok=True)
    stage_dir = out.parent / f".{out.name}{TEMP_MARK}{secrets.token_hex(4)}"
    stage_dir.mkdir()
    total = sum(o.get("plaintext_size", 0) for o in objs.values()) or 1
    done = 0
    hasher = _HashThread()
    try:
        plain_dir = stage_dir / ".objects"
        plain_dir.mkdir()
        by_member: dict[str, Path] = {}
        for oid, o in sorted(objs.items()):
            check()
            tmp = plain_dir / oid
            with open(tmp, "xb") as fh:
                # a file object's plaintext is checked against its SHA-256 here; a pack's members are
                # each checked as they are unpacked, so the pack as a whole is not hashed at all
                h = _HashingWriter(fh, hasher, hashing=o.get("kind") == "file")
                base = done
                _decrypt_object(vb, oid, h, [identity], limits, cancel,  # type: ignore[arg-type]
                                progress=(lambda d, _t, _l, b=base: progress(min(b + d, total), total, N_("Decrypting evidence")))
                                if progress else None, hasher=hasher)
            hasher.sync()
            done += o.get("plaintext_size", 0)
            if h.size != o.get("plaintext_size"):
                raise IntegrityError(N_("Object {object} decrypted to a different size than its manifest says."),
                                     object=oid[:12])
            if o.get("kind") == "file":
                if h.hash.hexdigest() != o["members"][0]:
                    raise IntegrityError(N_("The evidence file {path} in the bundle does not match its recorded "
                                            "SHA-256."), path=o["members"][0][:12])
                by_member[o["members"][0]] = tmp
            elif o.get("kind") == "pack":
                _unpack(tmp, plain_dir, o["members"], by_member)
                tmp.unlink()
            else:
                raise BundleError(N_("The inner manifest of the bundle is damaged."))
        written = []
        placed: dict[str, Path] = {}
        for f in files:
            check()
            src = placed.get(f["sha256"]) or by_member.get(f["sha256"])
            if src is None or src.stat().st_size != f["size"]:
                raise BundleError(N_("The inner manifest of the bundle is damaged."))
            dst = stage_dir / f["path"]
            dst.parent.mkdir(parents=True, exist_ok=True)
            if f["sha256"] in placed:
                shutil.copyfile(src, dst)  # the same content under a second name
            else:
                os.replace(src, dst)  # its hash was checked as it was decrypted
                placed[f["sha256"]] = dst
            written.append(f)
        shutil.rmtree(plain_dir)
        doc = {"bundle": {**{k: vb.manifest[k] for k in ("bundle_id", "submission_id", "revision", "supersedes",
                                                            "city_id", "stage", "created", "demo", "panel_id")},
                          "kind": vb.manifest.get("kind", "submission")},
               "sums_sha256": vb.sums_sha256, "submitter": inner["submitter"], "content": inner.get("content", {}),
               "files": files}
        with open(stage_dir / "submission.json", "xb") as fh:
            fh.write(json.dumps(doc, ensure_ascii=False, sort_keys=True).encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        if out.exists():
            out.rmdir()
        replace_with_retry(stage_dir, out)
    except OSError as exc:
        shutil.rmtree(stage_dir, ignore_errors=True)
        raise_if_disk_full(exc, out)
        raise BundleError(N_("Cannot write to {path}: {detail}"), path=str(out), detail=exc.strerror or str(exc)) from None
    except BaseException:
        shutil.rmtree(stage_dir, ignore_errors=True)
        raise
    finally:
        hasher.close()
    return OpenedBundle(verified=vb, inner=inner, out=out, files=written)


class _HashingWriter(io.RawIOBase):
    """Writes to ``dst`` and counts; with ``hashing`` also feeds ``self.hash`` (on the hash thread
    when one is given)."""

    def __init__(self, dst: BinaryIO, hasher: _HashThread | None = None, *, hashing: bool = True) -> None:
        super().__init__()
        self.dst = dst
        self.size = 0
        self.hash = hashlib.sha256()
        self._hasher = hasher
        self._hashing = hashing

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:  # type: ignore[override]
        n = self.dst.write(data)
        if not self._hashing:
            pass
        elif self._hasher is not None:
            self._hasher.update(self.hash, memoryview(data)[:n])
        else:
            self.hash.update(memoryview(data)[:n])
        self.size += n
        return n

    def flush(self) -> None:
        self.dst.flush()


def _unpack(tar_path: Path, folder: Path, members: list[str], by_member: dict[str, Path]) -> None:
    """Extract a pack's members (named by their SHA-256) as plain files; nothing else is accepted."""
    wanted = set(members)
    try:
        with tarfile.open(tar_path, mode="r:") as tf:
            for info in tf:
                if not info.isfile() or info.name not in wanted or info.name in by_member:
                    raise BundleError(N_("A pack inside the bundle holds something its manifest does not list."))
                dst = folder / f"m-{info.name}"
                src = tf.extractfile(info)
                assert src is not None
                h = hashlib.sha256()
                with open(dst, "xb") as fh:
                    for block in iter(lambda: src.read(_COPY_BLOCK), b""):
                        h.update(block)
                        fh.write(block)
                if h.hexdigest() != info.name:
                    raise IntegrityError(N_("A file inside a pack does not match its SHA-256."))
                by_member[info.name] = dst
    except tarfile.TarError:
        raise BundleError(N_("A pack inside the bundle is damaged.")) from None
    missing = wanted - by_member.keys()
    if missing:
        raise BundleError(N_("A pack inside the bundle lacks a file its manifest lists."))


# ---------------------------------------------------------------------------------------------
# finding bundles


def find_bundles(folder: Path | str) -> list[Path]:
    """Bundle folders in ``folder`` (itself, or its children), partial ones excluded."""
    folder = Path(folder)
    if (folder / MANIFEST).is_file():
        return [folder]
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.is_dir() and (p / MANIFEST).is_file() and not p.name.endswith(PARTIAL_SUFFIX))


__all__ = ["SealRequest", "SourceFile", "ReusableObject", "SealResult", "seal", "verify_folder", "open_bundle",
           "read_inner_manifest", "VerifiedBundle", "OpenedBundle", "find_bundles", "recipients_sha256"]
