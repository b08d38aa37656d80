"""The sync client: signed requests over httpx, with everything a bad link needs.

* timeouts on connect, read and write (a stalled link fails instead of hanging);
* exponential back-off with jitter between attempts (``Retry-After`` is honoured), capped;
* tus uploads in bounded PATCH requests whose size adapts to the link (256 KiB to 8 MiB): it
  grows towards what the link carries in :attr:`SyncPolicy.target_seconds` and halves after a cut;
* resume from the server's offset (HEAD) after any failure, so a cut costs at most the chunk in
  flight; the upload URL and offset are saved through a callback (the outbox) after every step,
  so a restarted client goes on where the last one stopped;
* an optional bandwidth cap (a token bucket on the request bodies);
* cancellation through :class:`~app.progress.CancelToken`, checked between pieces and during waits.

Nothing here touches the outbox or the UI: :mod:`app.sync.officer` drives it.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from app import __version__
from app.bundle import bundle as bmod
from app.bundle.minisign import SigningKey
from app.errors import Cancelled, IntegrityError
from app.i18n import N_
from app.progress import CancelToken, NEVER
from app.sync import protocol as proto

KiB = 1024
MiB = 1024 * 1024
PIECE = 64 * KiB
TRANSIENT_STATUS = {408, 423, 425, 429, 500, 502, 503, 504}


@dataclass
class SyncPolicy:
    connect_timeout: float = 15.0
    read_timeout: float = 60.0
    write_timeout: float = 60.0
    backoff_base: float = 1.0
    backoff_cap: float = 600.0
    max_failures: int = 12  # consecutive failures without progress before this run gives up (all is kept)
    min_chunk: int = 256 * KiB
    max_chunk: int = 8 * MiB
    initial_chunk: int = 1 * MiB
    target_seconds: float = 8.0
    bandwidth_bps: int | None = None  # bytes per second on request bodies; None: no cap
    seed: int | None = None


@dataclass
class Cut:
    """One failed PATCH: what was in flight and what the server had kept."""

    object_id: str
    chunk: int
    sent: int
    offset_before: int
    offset_after: int | None = None

    @property
    def resent(self) -> int:
        """Bytes that must go again because the server did not keep them."""
        if self.offset_after is None:
            return 0
        return max(0, self.offset_before + self.sent - self.offset_after)


@dataclass
class TransferStats:
    requests: int = 0
    failures: int = 0
    body_bytes: int = 0  # PATCH body bytes handed to the network
    confirmed_bytes: int = 0  # of those, bytes the server confirmed
    cuts: list[Cut] = field(default_factory=list)
    chunk_sizes: list[int] = field(default_factory=list)

    @property
    def resent_bytes(self) -> int:
        return sum(c.resent for c in self.cuts)


class Transient(Exception):
    """A failure worth another try after a pause."""

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class UploadGone(Exception):
    """The upload expired or was removed: create a new one."""


class OffsetMismatch(Exception):
    def __init__(self, offset: int | None) -> None:
        super().__init__(offset)
        self.offset = offset


class ChunkSizer:
    """Chunk size adapted to the link: grows towards ``target_seconds`` worth of data, halves on a cut."""

    def __init__(self, policy: SyncPolicy) -> None:
        self.policy = policy
        self.size = self._clamp(policy.initial_chunk)

    def _clamp(self, n: float) -> int:
        n = int(n) // PIECE * PIECE
        return max(self.policy.min_chunk, min(self.policy.max_chunk, n))

    def next(self, remaining: int) -> int:
        return min(self.size, remaining)

    def success(self, nbytes: int, seconds: float) -> None:
        if nbytes < self.size // 2:
            return  # the short last piece of an object says little about the link
        ideal = nbytes / max(seconds, 1e-3) * self.policy.target_seconds
        self.size = self._clamp(min(ideal, self.size * 2))

    def failure(self) -> None:
        self.size = self._clamp(self.size // 2)


class RateLimiter:
    def __init__(self, rate: int | None, cancel: CancelToken) -> None:
        self.rate = rate
        self.cancel = cancel
        self.allowance = float(PIECE)
        self.last = time.monotonic()

    def take(self, n: int) -> None:
        if not self.rate:
            return
        now = time.monotonic()
        self.allowance = min(float(PIECE), self.allowance + (now - self.last) * self.rate)
        self.last = now
        if self.allowance < n:
            _wait(self.cancel, (n - self.allowance) / self.rate)
            self.allowance = 0.0
            self.last = time.monotonic()
        else:
            self.allowance -= n


def _wait(cancel: CancelToken, seconds: float) -> None:
    """Sleep, waking at once when cancelled."""
    event = getattr(cancel, "_event", None)
    if event is not None:
        event.wait(max(0.0, seconds))
    else:  # pragma: no cover - a foreign token
        time.sleep(max(0.0, seconds))
    cancel.check()


def read_range(segments: Sequence[Path], offset: int, length: int) -> bytes:
    """``length`` bytes of the concatenation of ``segments``, from ``offset``."""
    out = bytearray()
    pos = 0
    for seg in segments:
        size = seg.stat().st_size
        if offset + len(out) < pos + size and len(out) < length:
            with open(seg, "rb") as fh:
                fh.seek(offset + len(out) - pos)
                out += fh.read(length - len(out))
        pos += size
        if len(out) >= length:
            break
    if len(out) != length:
        raise IntegrityError(N_("Object {object} in the bundle has the wrong size: it was truncated or padded."),
                             object="?")
    return bytes(out)


def bundle_small_files(folder: Path) -> dict[str, bytes]:
    """What negotiate sends: every file of the bundle except its objects (a few kilobytes)."""
    sums = (folder / bmod.SUMS).read_bytes()
    files = {bmod.SUMS: sums, bmod.SUMS_SIG: (folder / bmod.SUMS_SIG).read_bytes()}
    for line in sums.decode("utf-8").splitlines():
        name = line.split("  ", 1)[1]
        if not name.startswith(bmod.OBJECTS_DIR + "/"):
            files[name] = (folder / name).read_bytes()
    return files


class PlatformClient:
    """One platform, one key. Not thread-safe: one client per worker."""

    def __init__(self, base_url: str, signing_key: SigningKey, *, policy: SyncPolicy | None = None,
                 cancel: CancelToken | None = None, transport: Any = None,
                 stats: TransferStats | None = None) -> None:
        import httpx

        self.base = base_url.rstrip("/")
        self.key = signing_key
        self.policy = policy or SyncPolicy()
        self.cancel = cancel or NEVER
        self.stats = stats or TransferStats()
        self.rng = random.Random(self.policy.seed)
        self.sizer = ChunkSizer(self.policy)
        self.limiter = RateLimiter(self.policy.bandwidth_bps, self.cancel)
        p = self.policy
        self.http = httpx.Client(timeout=httpx.Timeout(connect=p.connect_timeout, read=p.read_timeout,
                                                       write=p.write_timeout, pool=p.connect_timeout),
                                 transport=transport, headers={"User-Agent": f"sdgkit/{__version__}"})
        self._httpx = httpx

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "PlatformClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request -----------------------------------------------------------------------
    def _send(self, method: str, path: str, *, body: bytes | None = None, stream: Iterator[bytes] | None = None,
              length: int = 0, body_sha256: str | None = None, headers: dict[str, str] | None = None) -> Any:
        httpx = self._httpx
        self.cancel.check()
        url = httpx.URL(self.base + path)
        hdrs = dict(headers or {})
        if stream is not None:
            sha = body_sha256 or proto.EMPTY_SHA256
            hdrs["Content-Length"] = str(length)
        else:
            sha = proto.sha256_hex(body or b"")
        hdrs.update(proto.sign_request(self.key, method, url.raw_path.decode("ascii"), hdrs, sha))
        self.stats.requests += 1
        try:
            return self.http.request(method, url, content=stream if stream is not None else body, headers=hdrs)
        except httpx.TransportError as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from None

    @staticmethod
    def _error(resp: Any) -> tuple[str, str, dict[str, Any]]:
        try:
            doc = resp.json()
            return str(doc.get("error", "")), str(doc.get("message", "")), doc
        except ValueError:
            return "", resp.text[:200], {}

    def _check(self, resp: Any, ok: tuple[int, ...] = (200,)) -> Any:
        if resp.status_code in ok:
            return resp
        code, message, doc = self._error(resp)
        if resp.status_code in TRANSIENT_STATUS:
            ra = resp.headers.get("retry-after")
            raise Transient(f"HTTP {resp.status_code} {code}", float(ra) if ra and ra.isdigit() else None)
        raise refusal(resp.status_code, code, message, doc)

    def backoff(self, failures: int, retry_after: float | None = None) -> None:
        d = min(self.policy.backoff_cap, self.policy.backoff_base * 2 ** (failures - 1))
        delay = d / 2 + self.rng.uniform(0, d / 2)  # "equal jitter": never zero, never in step with others
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.policy.backoff_cap))
        _wait(self.cancel, delay)

    def call(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` until it succeeds, with back-off between passing failures."""
        failures = 0
        while True:
            try:
                return fn()
            except Transient as exc:
                failures += 1
                self.stats.failures += 1
                if failures >= self.policy.max_failures:
                    raise proto.SyncError(N_("The platform could not be reached ({detail}). Everything is kept in "
                                             "the outbox; sync again later."), detail=str(exc)) from None
                self.backoff(failures, exc.retry_after)

    def _json(self, method: str, path: str, body: bytes | None = None, ok: tuple[int, ...] = (200,)) -> Any:
        return self._check(self._send(method, path, body=body, headers={"Content-Type": "application/json"}
                                      if body is not None else None), ok).json()

    # -- the API -------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self.call(lambda: self._check(self.http.get(self.base + f"{proto.API}/health")).json())

    def negotiate(self, folder: Path, bundle_id: str) -> dict[str, Any]:
        files = bundle_small_files(folder)
        body = json.dumps({"files": {n: proto.b64(d) for n, d in sorted(files.items())}}).encode("utf-8")
        return self.call(lambda: self._json("POST", f"{proto.API}/bundles/{bundle_id}/negotiate", body))

    def commit(self, bundle_id: str) -> dict[str, Any]:
        return self.call(lambda: self._json("POST", f"{proto.API}/bundles/{bundle_id}/commit", b"{}"))

    def bundle_info(self, bundle_id: str) -> dict[str, Any]:
        return self.call(lambda: self._json("GET", f"{proto.API}/bundles/{bundle_id}"))

    def mailbox(self, city_id: str | None = None) -> list[dict[str, Any]]:
        q = f"?city={city_id}" if city_id else ""
        return self.call(lambda: self._json("GET", f"{proto.API}/mailbox{q}"))["items"]

    def fetch_item(self, item: dict[str, Any]) -> bytes:
        data = self.call(lambda: self._check(self._send("GET", f"{proto.API}/mailbox/{item['item_id']}")).content)
        if proto.sha256_hex(data) != item["sha256"]:
            raise IntegrityError(N_("A review result from the platform arrived damaged. Sync again."))
        return data

    def trust_file(self, name: str) -> bytes:
        return self.call(lambda: self._check(self._send("GET", f"{proto.API}/trust/{name}")).content)

    def panel_bundles(self) -> list[dict[str, Any]]:
        return self.call(lambda: self._json("GET", f"{proto.API}/panel/bundles"))["bundles"]

    def post_result(self, bundle_id: str, data: bytes, *, kind: str = "result", name: str = "result") -> dict[str, Any]:
        from urllib.parse import quote

        path = f"{proto.API}/bundles/{bundle_id}/results?kind={kind}&name={quote(name, safe='')}"
        return self.call(lambda: self._check(self._send("POST", path, body=data,
                                                        headers={"Content-Type": "application/octet-stream"}),
                                             (201,)).json())

    # -- tus -------------------------------------------------------------------------------------
    def _create(self, bundle_id: str, object_id: str, size: int) -> tuple[str, int]:
        meta = f"bundle_id {proto.b64(bundle_id.encode())},object_id {proto.b64(object_id.encode())}"
        resp = self._check(self._send("POST", f"{proto.API}/uploads", headers={
            "Tus-Resumable": proto.TUS_VERSION, "Upload-Length": str(size), "Upload-Metadata": meta}), (201,))
        location = resp.headers["location"]
        path = self._httpx.URL(location).raw_path.decode("ascii") if location.startswith("http") else location
        return path, int(resp.headers.get("upload-offset", "0"))

    def _head(self, path: str) -> int:
        resp = self._send("HEAD", path, headers={"Tus-Resumable": proto.TUS_VERSION})
        if resp.status_code in (404, 410):
            raise UploadGone()
        return int(self._check(resp).headers["upload-offset"])

    def _patch(self, path: str, offset: int, data: bytes, sent: list[int]) -> int:
        def body() -> Iterator[bytes]:
            view = memoryview(data)
            for i in range(0, len(view), PIECE):
                part = bytes(view[i:i + PIECE])
                self.limiter.take(len(part))
                self.cancel.check()
                sent[0] += len(part)
                self.stats.body_bytes += len(part)
                yield part

        resp = self._send("PATCH", path, stream=body(), length=len(data), body_sha256=proto.sha256_hex(data),
                          headers={"Tus-Resumable": proto.TUS_VERSION, "Upload-Offset": str(offset),
                                   "Content-Type": proto.TUS_CONTENT_TYPE})
        if resp.status_code in (404, 410):
            raise UploadGone()
        if resp.status_code == 409:
            _, _, doc = self._error(resp)
            raise OffsetMismatch(doc.get("offset") if isinstance(doc.get("offset"), int) else None)
        if resp.status_code == 400 and self._error(resp)[0] == "body_hash":
            raise Transient("the chunk arrived damaged")
        if resp.status_code == 460:
            raise UploadGone()
        return int(self._check(resp, (204,)).headers["upload-offset"])

    def upload_object(self, bundle_id: str, object_id: str, size: int, segments: Sequence[Path], *,
                      url: str | None = None, save: Callable[[str | None, int], None] | None = None,
                      progress: Callable[[int], None] | None = None) -> None:
        """Send one object, resuming ``url`` (a saved upload) if given. ``save(url, offset)`` after
        each step; ``progress(n)`` for every ``n`` bytes the server confirmed."""
        save = save or (lambda u, o: None)
        progress = progress or (lambda n: None)
        offset: int | None = None
        failures = 0
        gone = 0
        pending_cut: Cut | None = None
        while True:
            self.cancel.check()
            try:
                if url is None:
                    url, offset = self._create(bundle_id, object_id, size)
                    save(url, offset)
                    if offset:
                        progress(offset)
                if offset is None:
                    offset = self._head(url)
                    if pending_cut is not None:
                        pending_cut.offset_after = offset
                        if offset > pending_cut.offset_before:
                            failures = 0  # the server kept part of the cut chunk: that is progress
                        pending_cut = None
                    save(url, offset)
                if offset >= size:
                    return
                n = self.sizer.next(size - offset)
                data = read_range(segments, offset, n)
                self.stats.chunk_sizes.append(n)
                sent = [0]
                started = time.monotonic()
                try:
                    new = self._patch(url, offset, data, sent)
                except Transient:
                    pending_cut = Cut(object_id, n, sent[0], offset)
                    self.stats.cuts.append(pending_cut)
                    self.sizer.failure()
                    offset = None
                    raise
                self.sizer.success(new - offset, time.monotonic() - started)
                self.stats.confirmed_bytes += new - offset
                progress(new - offset)
                offset = new
                save(url, offset)
                failures = 0
            except UploadGone:
                gone += 1
                if gone > 3:
                    raise proto.PlatformRefused(N_("The platform keeps refusing object {object}: the bundle on "
                                                   "this stick may be damaged. Check it with 'sdgkit bundle "
                                                   "verify'."), object=object_id[:12], error="object_mismatch")
                url, offset = None, None
                save(None, 0)
            except OffsetMismatch as exc:
                offset = exc.offset
            except Transient as exc:
                failures += 1
                self.stats.failures += 1
                if failures >= self.policy.max_failures:
                    raise proto.SyncError(N_("The platform could not be reached ({detail}). Everything is kept in "
                                             "the outbox; sync again later."), detail=str(exc)) from None
                self.backoff(failures, exc.retry_after)

    # -- downloads (panels) ---------------------------------------------------------------------
    def download_file(self, bundle_id: str, name: str, dest: Path, *, sha256: str, size: int) -> None:
        """One file of a committed bundle, resumed with ``Range`` after a cut and checked by hash."""
        part = dest.with_name(dest.name + ".partial")
        part.parent.mkdir(parents=True, exist_ok=True)

        def attempt() -> None:
            have = part.stat().st_size if part.exists() else 0
            if have > size:
                part.unlink()
                have = 0
            if have == size:
                return
            headers = {"Range": f"bytes={have}-"} if have else {}
            httpx = self._httpx
            url = httpx.URL(self.base + f"{proto.API}/bundles/{bundle_id}/files/{name}")
            headers.update(proto.sign_request(self.key, "GET", url.raw_path.decode("ascii"), headers,
                                              proto.EMPTY_SHA256))
            self.stats.requests += 1
            try:
                with self.http.stream("GET", url, headers=headers) as resp:
                    if resp.status_code not in (200, 206):
                        resp.read()
                        self._check(resp)
                    if have and resp.status_code == 200:
                        have_mode = "wb"  # the server ignored the range: start over
                    else:
                        have_mode = "ab"
                    with open(part, have_mode) as fh:
                        for block in resp.iter_bytes(256 * KiB):
                            self.cancel.check()
                            fh.write(block)
            except httpx.TransportError as exc:
                raise Transient(str(exc)) from None
            if part.stat().st_size < size:
                raise Transient("short read")

        self.call(attempt)
        h = hashlib.sha256()
        with open(part, "rb") as fh:
            for block in iter(lambda: fh.read(MiB), b""):
                h.update(block)
        if h.hexdigest() != sha256 or part.stat().st_size != size:
            part.unlink()
            raise IntegrityError(N_("The file {file} of the bundle arrived damaged. Download it again."), file=name)
        part.replace(dest)

    def download_bundle(self, info: dict[str, Any], out: Path) -> Path:
        """A committed bundle (an entry of :meth:`panel_bundles`) into the folder ``out``, verified."""
        out.mkdir(parents=True, exist_ok=True)
        for f in info["files"]:
            dest = out / f["name"]
            if dest.is_file() and dest.stat().st_size == f["size"]:
                continue
            self.download_file(info["bundle_id"], f["name"], dest, sha256=f["sha256"], size=f["size"])
        bmod.verify_folder(out)
        return out


def refusal(status: int, code: str, message: str, doc: dict[str, Any]) -> proto.PlatformRefused:
    """A translated error for a definite refusal by the platform."""
    msg = {
        "conflict": N_("The platform already has revision {revision} of this submission with other content. This "
                       "bundle was kept aside for the secretariat (quarantine {quarantine})."),
        "revoked": N_("The platform refused this kit's key: it was revoked. Ask the secretariat."),
        "unknown_key": N_("This key is not enrolled with the platform. Ask the secretariat to register it."),
        "clock_skew": N_("This computer's clock is too far from the platform's. Set the date and time, then sync "
                         "again."),
        "forbidden": N_("The platform refused: {detail}"),
        "revoked_signer": N_("The platform refused the bundle: the key that sealed it was revoked."),
        "untrusted_signer": N_("The platform refused the bundle: {detail}"),
        "quota_exceeded": N_("The platform refused the bundle: this key's storage quota is used up."),
        "too_large": N_("The platform refused the bundle: {detail}"),
        "demo_bundle": N_("This is a DEMO bundle, sealed with training trust files. It cannot be submitted."),
    }.get(code, N_("The platform refused the request ({code}): {detail}"))
    return proto.PlatformRefused(msg, status=status, error=code, code=code or str(status), detail=message,
                                 revision=doc.get("revision", "?"), quarantine=doc.get("quarantine_id", "?"))


def open_segments(folder: Path, manifest: dict[str, Any]) -> dict[str, tuple[int, list[Path]]]:
    """Object id -> (size, segment paths) of a bundle folder."""
    return {o["id"]: (o["size"], [folder / s["name"] for s in o["segments"]]) for o in manifest["objects"]}


__all__ = ["PlatformClient", "SyncPolicy", "TransferStats", "Cut", "ChunkSizer", "Cancelled", "refusal"]
