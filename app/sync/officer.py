"""The field officer's work, and the city's own sync: collect, sync, deliver.

* :func:`collect` -- bundles on a city's stick are verified (outer signature, every hash, the
  city's enrolment and the revocation list; nothing is decrypted) and copied into the outbox,
  read back, and recorded. What the outbox already has is skipped.
* :func:`sync` -- every bundle waiting in the outbox goes to the platform (negotiate, tus uploads
  of the missing objects, commit); it counts as received only when the platform's signed receipt
  verifies. Then review results for the outbox's cities and a newer revocation list come back.
  Run from a city's own data folder, it first puts the city's sealed bundles in the outbox.
* :func:`deliver` -- receipts and review results go into the city stick's ``mailbox/`` folder,
  and, when the stick holds the city's data folder, the bundles' status moves on (received, in
  review, feedback) so the city's home screen shows it.
* :func:`outbox_overview` -- what the officer screen lists: one row per bundle, by city.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from app.bundle import bundle as bmod
from app.bundle.keys import KeySet
from app.bundle.strict_json import loads_strict
from app.errors import Cancelled, KitError, StoreError, UserInputError
from app.fsutil import atomic_write_bytes, fsync_dir, replace_with_retry, require_free_space
from app.i18n import N_
from app.model.paths import PORTABLE_MARKER
from app.progress import CancelToken, ProgressCallback, checker
from app.sync import protocol as proto
from app.sync.outbox import Outbox, utcnow

RECEIPTS = "receipts"
RESULTS = "results"
RECEIPT_SUFFIX = ".receipt.json"
URL_SETTING = "platform_url"
OWN_FINAL = ("received", "in_review", "feedback")


# ---------------------------------------------------------------------------------------------
# sticks


@dataclass
class Stick:
    root: Path
    data_dir: Path
    is_kit: bool
    bundles: list[Path]

    @property
    def mailbox(self) -> Path:
        return self.data_dir / "mailbox"


def resolve_stick(path: Path | str) -> Stick:
    """A city's stick (its root with ``data/``), a kit data folder, or any folder holding bundles."""
    root = Path(path).resolve()
    if not root.is_dir():
        raise UserInputError(N_("No such file or folder: {path}"), path=str(root))
    data = root
    if (root / "data" / "kit.db").is_file() or (root / PORTABLE_MARKER).is_file():
        data = root / "data"
    seen: dict[Path, None] = {}
    for folder in (data / "bundles", data, root / "bundles", root):
        for b in bmod.find_bundles(folder):
            seen.setdefault(b.resolve(), None)
    return Stick(root=root, data_dir=data, is_kit=(data / "kit.db").is_file(), bundles=list(seen))


def _manifest(folder: Path) -> tuple[dict[str, Any], str]:
    raw = (folder / bmod.MANIFEST).read_bytes()
    m = loads_strict(raw, what=bmod.MANIFEST)
    return m, proto.sha256_hex((folder / bmod.SUMS).read_bytes())


@contextmanager
def _kit_of(data_dir: Path, kit: Any = None) -> Iterator[Any]:
    """The kit of a data folder (the one given, or opened now); None when it is in use elsewhere."""
    if kit is not None:
        yield kit
        return
    if not (data_dir / "kit.db").is_file():
        yield None
        return
    from app.model.service import Kit

    try:
        k = Kit(data_dir).open()
    except StoreError:
        yield None
        return
    try:
        yield k
    finally:
        k.close()


def _mark(kit: Any, bundle_id: str, status: str, receipt: str | None = None) -> bool:
    from app.bundle.submit import mark_status

    if kit is None:
        return False
    try:
        mark_status(kit, bundle_id, status, receipt=receipt)
    except UserInputError:
        return False  # not one of this city's bundles
    return True


# ---------------------------------------------------------------------------------------------
# collect


@dataclass
class CollectReport:
    stick: str
    cities: dict[str, dict[str, Any]] = field(default_factory=dict)

    def city(self, city_id: str, name: str = "") -> dict[str, Any]:
        c = self.cities.setdefault(city_id, {"city_id": city_id, "city_name": name, "collected": [], "skipped": [],
                                             "refused": []})
        if name and not c["city_name"]:
            c["city_name"] = name
        return c

    def as_dict(self) -> dict[str, Any]:
        return {"stick": self.stick, "cities": sorted(self.cities.values(), key=lambda c: c["city_id"])}


def collect(officer_data: Path | str, stick_path: Path | str, *, kit: Any = None,
            progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> CollectReport:
    from app.bundle.submit import verify_trusted

    check = checker(cancel)
    officer_data = Path(officer_data).resolve()
    stick = resolve_stick(stick_path)
    report = CollectReport(stick=str(stick.root))
    with Outbox(officer_data) as ob, _kit_of(stick.data_dir, kit) if stick.is_kit else _none() as city_kit:
        ob.bundles_dir.mkdir(parents=True, exist_ok=True)
        for i, path in enumerate(stick.bundles):
            check()
            if progress:
                progress(i, len(stick.bundles), N_("Checking bundles"))
            try:
                m, sums = _manifest(path)
                bundle_id, city_id = str(m["bundle_id"]), str(m["city_id"])
            except (KitError, OSError, KeyError):
                report.city("?")["refused"].append({"path": str(path), "error": N_("Not a readable bundle.")})
                continue
            have = ob.get(bundle_id)
            if have is not None and have.sums_sha256 == sums and have.state == "damaged":
                shutil.rmtree(ob.abs(have.path), ignore_errors=True)  # collect it again from the stick
                with ob.session() as s:
                    s.delete(s.get(type(have), bundle_id))
                have = None
            if have is not None and have.sums_sha256 == sums:
                report.city(city_id, have.city_name)["skipped"].append(
                    {"bundle_id": bundle_id, "stage": have.stage, "revision": have.revision})
                continue
            if have is not None:
                report.city(city_id)["refused"].append({"path": str(path), "bundle_id": bundle_id, "error": N_(
                    "The outbox already holds other bytes under this bundle id: not copied.")})
                continue
            try:
                tb = verify_trusted(path, data_dir=officer_data, cancel=cancel)
            except Cancelled:
                raise
            except KitError as exc:
                report.city(city_id)["refused"].append({"path": str(path), "bundle_id": bundle_id,
                                                        "error": exc.message()})
                continue
            summary = tb.summary()
            dest = _copy_bundle(ob, path, tb.verified.size, cancel)
            ob.add(bundle_id=bundle_id, submission_id=summary["submission_id"], revision=summary["revision"],
                   city_id=city_id, city_name=summary["city_name"], country=summary["country"],
                   stage=summary["stage"], sums_sha256=tb.verified.sums_sha256, size=tb.verified.size,
                   path=ob.rel(dest), source="collected", state="queued")
            if city_kit is not None:
                _mark(city_kit, bundle_id, "collected")
            report.city(city_id, summary["city_name"])["collected"].append(
                {"bundle_id": bundle_id, "stage": summary["stage"], "revision": summary["revision"],
                 "size": tb.verified.size})
        if progress:
            progress(len(stick.bundles), len(stick.bundles), N_("Checking bundles"))
    return report


@contextmanager
def _none() -> Iterator[None]:
    yield None


def _copy_bundle(ob: Outbox, src: Path, size: int, cancel: CancelToken | None) -> Path:
    """Copy a verified bundle into the outbox under a temporary name, read it back, then rename."""
    dest = ob.bundles_dir / src.name
    if dest.exists():
        dest = ob.bundles_dir / f"{src.name}-{secrets.token_hex(3)}"
    require_free_space(ob.bundles_dir, size + (1 << 20))
    tmp = ob.bundles_dir / f".{dest.name}.tmp-{secrets.token_hex(4)}"
    try:
        shutil.copytree(src, tmp)
        for p in tmp.rglob("*"):
            if p.is_file():
                with open(p, "rb+") as fh:
                    os.fsync(fh.fileno())
        bmod.verify_folder(tmp, cancel=cancel)  # read back what was written
        replace_with_retry(tmp, dest)
        fsync_dir(ob.bundles_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


# ---------------------------------------------------------------------------------------------
# sync


@dataclass
class SyncReport:
    url: str
    sent: list[dict[str, Any]] = field(default_factory=list)  # received now
    already: list[dict[str, Any]] = field(default_factory=list)  # the platform had them
    failed: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    revocations: int | None = None
    stopped: str | None = None  # why the run stopped early (no link ...)
    bytes_sent: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "sent": self.sent, "already": self.already, "failed": self.failed,
                "results": self.results, "revocations": self.revocations, "stopped": self.stopped,
                "bytes_sent": self.bytes_sent}


def platform_url(data_dir: Path | str, given: str | None = None) -> str:
    """The platform's address: given now (and remembered), else the remembered one, else SDGKIT_PLATFORM_URL."""
    with Outbox(data_dir) as ob:
        if given:
            ob.set_setting(URL_SETTING, given.rstrip("/"))
            return given.rstrip("/")
        url = ob.setting(URL_SETTING) or os.environ.get("SDGKIT_PLATFORM_URL")
    if not url:
        raise UserInputError(N_("Which platform? Give its address once with --url (it is remembered)."))
    return url.rstrip("/")


def _enqueue_own(ob: Outbox, kit: Any) -> None:
    """A city's own sealed bundles go into its outbox (in place: they are not copied)."""
    from app.bundle.submit import sealed_bundles

    for b in sealed_bundles(kit):
        if b["status"] in OWN_FINAL or ob.get(b["bundle_id"]) is not None:
            continue
        folder = Path(b["path"])
        if not (folder / bmod.MANIFEST).is_file():
            continue
        m, sums = _manifest(folder)
        ob.add(bundle_id=b["bundle_id"], submission_id=b["submission_id"], revision=b["revision"],
               city_id=str(m["city_id"]), city_name=kit.require_profile().name, country=kit.require_profile().country,
               stage=b["stage"], sums_sha256=sums, size=b["size"], path=ob.rel(folder), source="own", state="queued")


def _write_receipt(folder: Path, bundle_id: str, text: str) -> Path:
    path = folder / RECEIPTS / f"{bundle_id}{RECEIPT_SUFFIX}"
    if not (path.is_file() and path.read_text(encoding="utf-8") == text):
        atomic_write_bytes(path, text.encode("utf-8"))
    return path


def _trust(data_dir: Path) -> tuple[Any, Any]:
    from app.bundle.submit import trust_root_for

    root, _demo, revocations = trust_root_for(data_dir, None, False)
    return root, revocations


def sync(data_dir: Path | str, signing_key: Any, *, url: str, policy: Any = None, kit: Any = None,
         pull: bool = True, progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
         transport: Any = None, stats: Any = None) -> SyncReport:
    """Push the outbox of ``data_dir`` to the platform at ``url``, then pull results and revocations."""
    from app.sync.client import PlatformClient

    data_dir = Path(data_dir).resolve()
    key = signing_key.signing_key if isinstance(signing_key, KeySet) else signing_key
    report = SyncReport(url=url)
    root, revocations = _trust(data_dir)
    is_kit = (data_dir / "kit.db").is_file()
    with Outbox(data_dir) as ob, _kit_of(data_dir, kit) if is_kit else _none() as own_kit, \
            PlatformClient(url, key, policy=policy, cancel=cancel, transport=transport, stats=stats) as client:
        if own_kit is not None:
            _enqueue_own(ob, own_kit)
        for b in ob.bundles(states=("queued", "sending", "refused")):
            entry = {"bundle_id": b.bundle_id, "city_id": b.city_id, "stage": b.stage, "revision": b.revision}
            try:
                outcome = _send_one(ob, client, b, root, revocations, progress)
            except Cancelled:
                raise
            except proto.PlatformRefused as exc:
                state = "conflict" if exc.error == "conflict" else "refused"
                ob.update(b.bundle_id, state=state, error=exc.message())
                report.failed.append({**entry, "state": state, "error": exc.message()})
                continue
            except proto.SyncError as exc:  # no link: stop here, everything stays queued
                ob.update(b.bundle_id, error=exc.message())
                report.failed.append({**entry, "state": b.state, "error": exc.message()})
                report.stopped = exc.message()
                break
            except KitError as exc:
                ob.update(b.bundle_id, state="damaged", error=exc.message())
                report.failed.append({**entry, "state": "damaged", "error": exc.message()})
                continue
            receipt = outcome["receipt"]
            ob.update(b.bundle_id, state="received", receipt=receipt.text, received_at=receipt.received_at,
                      current=int(receipt.current), error=None)
            _write_receipt(ob.root, b.bundle_id, receipt.text)
            if own_kit is not None:
                _write_receipt(data_dir / "mailbox", b.bundle_id, receipt.text)
                _mark(own_kit, b.bundle_id, "received", receipt.text)
            (report.already if outcome["already"] else report.sent).append(
                {**entry, "received_at": receipt.received_at, "current": receipt.current})
        if pull and report.stopped is None:
            try:
                _pull(ob, client, data_dir, own_kit, report)
            except proto.SyncError as exc:
                report.stopped = exc.message()
        report.bytes_sent = client.stats.body_bytes
    return report


def _send_one(ob: Outbox, client: Any, b: Any, root: Any, revocations: Any,
              progress: ProgressCallback | None) -> dict[str, Any]:
    from app.sync.client import open_segments

    folder = ob.abs(b.path)
    vb = bmod.verify_folder(folder)  # the stick may have decayed since collection
    if vb.sums_sha256 != b.sums_sha256:
        raise proto.SyncError(N_("The bundle {path} changed since it was collected."), path=str(folder))
    ob.update(b.bundle_id, state="sending")
    segments = open_segments(folder, vb.manifest)
    already = True
    for _round in range(3):
        neg = client.negotiate(folder, b.bundle_id)
        if neg["state"] != "committed":
            already = False
            missing = {o["id"]: int(o["size"]) for o in neg["missing"]}
            ob.want_objects(b.bundle_id, missing, {k: v[0] for k, v in segments.items()})
            rows = {o.object_id: o for o in ob.objects(b.bundle_id)}
            total = sum(missing.values()) or 1
            done = [0]

            def step(n: int) -> None:
                done[0] += n
                if progress:
                    progress(min(done[0], total), total, N_("Sending bundles"))

            for oid in sorted(missing):
                row = rows[oid]
                size, paths = segments[oid]
                client.upload_object(b.bundle_id, oid, size, paths, url=row.upload_url,
                                     save=lambda u, o, oid=oid: ob.save_upload(b.bundle_id, oid, u, o),
                                     progress=step)
                ob.object_done(b.bundle_id, oid)
            try:
                neg = client.commit(b.bundle_id)
            except proto.PlatformRefused as exc:
                if exc.error in ("missing_objects", "renegotiate"):
                    continue  # e.g. an upload expired meanwhile: ask again what is missing
                raise
        receipt = proto.verify_receipt(neg["receipt"], root=root, revocations=revocations, bundle_id=b.bundle_id,
                                       sums_sha256=b.sums_sha256)
        return {"receipt": receipt, "already": already}
    raise proto.SyncError(N_("The platform keeps asking for objects it was sent. Sync again later."))


def _pull(ob: Outbox, client: Any, data_dir: Path, own_kit: Any, report: SyncReport) -> None:
    cities = sorted({b.city_id for b in ob.bundles()})
    for city in cities:
        for item in client.mailbox(city):
            if ob.has_item(item["item_id"]):
                continue
            data = client.fetch_item(item)
            name = f"{item['item_id']}-{item['name']}"
            path = ob.mailbox_dir / city / name
            atomic_write_bytes(path, data)
            ob.add_item(item_id=item["item_id"], city_id=city, bundle_id=item["bundle_id"], kind=item["kind"],
                        name=item["name"], size=item["size"], sha256=item["sha256"], path=ob.rel(path))
            if own_kit is not None:
                atomic_write_bytes(data_dir / "mailbox" / RESULTS / name, data)
                _mark(own_kit, item["bundle_id"], _status_of(item["kind"], data))
                ob.item_delivered(item["item_id"])
            report.results.append({"item_id": item["item_id"], "city_id": city, "bundle_id": item["bundle_id"],
                                   "kind": item["kind"], "name": item["name"]})
    report.revocations = _pull_revocations(client, data_dir)


def _status_of(kind: str, data: bytes) -> str:
    if kind == "status":
        try:
            status = json.loads(data).get("status")
        except (ValueError, AttributeError):
            status = None
        return status if status in ("in_review", "feedback") else "in_review"
    return "feedback"


def _pull_revocations(client: Any, data_dir: Path) -> int | None:
    """Install the platform's revocation list if it is newer than ours (it is signed by the root)."""
    from app.bundle import trust as trustmod
    from app.bundle.submit import is_demo_installed

    installed = data_dir / "trust"
    if not (installed / trustmod.ROOT_PUB).is_file():
        return None
    try:
        data = client.trust_file(trustmod.REVOCATIONS)
        sig = client.trust_file(trustmod.REVOCATIONS + trustmod.SIG_SUFFIX)
    except proto.PlatformRefused:
        return None
    policy = trustmod.RootPolicy.installed(demo=is_demo_installed(data_dir))
    root, _ = policy.choose(trustmod.PublicKey.from_file(installed / trustmod.ROOT_PUB), installed)
    new = trustmod.check_revocations(data, sig.decode("utf-8"), root=root)
    old_path = installed / trustmod.REVOCATIONS
    if old_path.is_file():
        old_sig = installed / (trustmod.REVOCATIONS + trustmod.SIG_SUFFIX)
        old = trustmod.check_revocations(old_path.read_bytes(), old_sig.read_text(encoding="utf-8")
                                         if old_sig.is_file() else None, root=root)
        if old.sequence >= new.sequence:
            return old.sequence
    pack = data_dir / "tmp" / f"revocations-{secrets.token_hex(4)}"
    try:
        atomic_write_bytes(pack / trustmod.REVOCATIONS, data)
        atomic_write_bytes(pack / (trustmod.REVOCATIONS + trustmod.SIG_SUFFIX), sig)
        shutil.copyfile(installed / trustmod.ROOT_PUB, pack / trustmod.ROOT_PUB)
        trustmod.import_trust_pack(pack, data_dir, policy)
    finally:
        shutil.rmtree(pack, ignore_errors=True)
    return new.sequence


# ---------------------------------------------------------------------------------------------
# deliver


@dataclass
class DeliverReport:
    stick: str
    cities: list[str]
    receipts: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    waiting: list[dict[str, Any]] = field(default_factory=list)
    status_updated: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"stick": self.stick, "cities": self.cities, "receipts": self.receipts, "results": self.results,
                "waiting": self.waiting, "status_updated": self.status_updated}


def _stick_cities(stick: Stick) -> set[str]:
    cities = set()
    for b in stick.bundles:
        try:
            cities.add(str(_manifest(b)[0]["city_id"]))
        except (KitError, OSError, KeyError):
            continue
    enrolment = stick.data_dir / "trust" / "enrolment.json"
    if enrolment.is_file():
        try:
            cities.add(str(loads_strict(enrolment.read_bytes(), what="enrolment.json")["city_id"]))
        except (KitError, KeyError):
            pass
    return cities


def deliver(officer_data: Path | str, stick_path: Path | str, *, kit: Any = None) -> DeliverReport:
    officer_data = Path(officer_data).resolve()
    stick = resolve_stick(stick_path)
    cities = _stick_cities(stick)
    on_stick = set()
    for b in stick.bundles:
        try:
            on_stick.add(str(_manifest(b)[0]["bundle_id"]))
        except (KitError, OSError, KeyError):
            continue
    report = DeliverReport(stick=str(stick.root), cities=sorted(cities))
    root, revocations = _trust(officer_data)
    with Outbox(officer_data) as ob, _kit_of(stick.data_dir, kit) if stick.is_kit else _none() as city_kit:
        for b in ob.bundles():
            if b.city_id not in cities and b.bundle_id not in on_stick:
                continue
            entry = {"bundle_id": b.bundle_id, "city_id": b.city_id, "stage": b.stage, "revision": b.revision}
            if b.state != "received" or not b.receipt:
                report.waiting.append({**entry, "state": b.state, "error": b.error})
                continue
            receipt = proto.verify_receipt(b.receipt, root=root, revocations=revocations, bundle_id=b.bundle_id,
                                           sums_sha256=b.sums_sha256)
            path = _write_receipt(stick.mailbox, b.bundle_id, receipt.text)
            if _mark(city_kit, b.bundle_id, "received", receipt.text):
                report.status_updated = True
            ob.update(b.bundle_id, delivered_at=utcnow())
            report.receipts.append({**entry, "path": str(path), "received_at": receipt.received_at})
        for item in ob.mail_items():
            if item.city_id not in cities:
                continue
            src = ob.abs(item.path)
            data = src.read_bytes()
            if proto.sha256_hex(data) != item.sha256:
                continue
            dest = stick.mailbox / RESULTS / f"{item.item_id}-{item.name}"
            if not dest.is_file():
                atomic_write_bytes(dest, data)
            if _mark(city_kit, item.bundle_id, _status_of(item.kind, data)):
                report.status_updated = True
            ob.item_delivered(item.item_id)
            report.results.append({"item_id": item.item_id, "bundle_id": item.bundle_id, "kind": item.kind,
                                   "path": str(dest)})
    return report


# ---------------------------------------------------------------------------------------------
# the officer screen


def outbox_overview(officer_data_dir: Path | str) -> list[dict[str, Any]]:
    """One row per bundle in the outbox, by city: ``{city, bundle_id, stage, revision, status}`` and
    a few more keys (``city_name``, ``size``, ``error``, ``received_at``, ``delivered``). Read-only:
    safe to call while a sync runs."""
    data = Path(officer_data_dir).resolve()
    if not (data / "outbox" / "outbox.db").is_file():
        return []
    ob = Outbox(data, lock=False).open()
    try:
        rows = ob.bundles()
    finally:
        ob.close()
    return [{"city": b.city_id, "city_name": b.city_name, "bundle_id": b.bundle_id, "stage": b.stage,
             "revision": b.revision, "status": b.state, "size": b.size, "error": b.error,
             "received_at": b.received_at, "current": bool(b.current), "delivered": b.delivered_at is not None}
            for b in rows]


# ---------------------------------------------------------------------------------------------
# in the background


class BackgroundSync:
    """Runs :func:`sync` in a worker thread now and then (and at once on :meth:`sync_now`).

    The UI gives it a progress callback that posts to its own thread and reads
    :attr:`last_report` / :attr:`last_error` after ``on_done``; :meth:`stop` cancels a run in
    progress at its next piece (everything done so far is kept in the outbox).
    """

    def __init__(self, data_dir: Path | str, signing_key: Any, *, url: str, interval: float = 600.0,
                 policy: Any = None, progress: ProgressCallback | None = None, on_done: Any = None) -> None:
        self.data_dir = Path(data_dir)
        self.signing_key = signing_key
        self.url = url
        self.interval = interval
        self.policy = policy
        self.progress = progress
        self.on_done = on_done
        self.cancel = CancelToken()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_report: SyncReport | None = None
        self.last_error: KitError | None = None

    def start(self) -> "BackgroundSync":
        self._thread = threading.Thread(target=self._run, name="sdgkit-sync", daemon=True)
        self._thread.start()
        return self

    def sync_now(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self.cancel.cancel()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self.cancel.cancelled:
            try:
                self.last_report = sync(self.data_dir, self.signing_key, url=self.url, policy=self.policy,
                                        progress=self.progress, cancel=self.cancel)
                self.last_error = None
            except Cancelled:
                return
            except KitError as exc:
                self.last_error = exc
            if self.on_done:
                self.on_done(self)
            self._wake.wait(self.interval)
            self._wake.clear()
