"""Helpers for the sync tests: a fault-injecting TCP proxy, a world of parties, the service in a
thread or in a process of its own."""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------------
# the fault-injecting proxy


@dataclass
class Plan:
    kind: str | None  # cut | reset | stall | None (no fault)
    direction: str  # up (client -> server) | down
    offset: int


@dataclass
class FaultProxy:
    """A TCP proxy on 127.0.0.1 in front of ``target_port``.

    Each new connection draws a plan from a seeded generator: with probability ``rate`` a fault
    at a random byte offset of the upstream (request) or downstream (response) stream:

    * ``cut``: both sockets closed (FIN) after exactly ``offset`` bytes went through;
    * ``reset``: both sockets closed with SO_LINGER 0, so the peers get a TCP RST;
    * ``stall``: nothing more is forwarded for ``stall_seconds`` (longer than the client's
      timeouts), then both sockets are closed.

    Upstream offsets are exponential with mean ``mean_up`` bytes, downstream ones uniform in
    ``[0, max_down]`` (responses are short). ``faults`` counts the faults that really happened.
    """

    target_port: int
    seed: int = 1
    rate: float = 1.0
    mean_up: int = 150_000
    max_down: int = 2_000
    kinds: tuple[tuple[str, float], ...] = (("cut", 0.45), ("reset", 0.45), ("stall", 0.10))
    down_share: float = 0.25
    stall_seconds: float = 1.5
    faults: Counter = field(default_factory=Counter)
    # one-shot triggers: reset the connection carrying the answer to the first request whose bytes
    # contain ``cut_answer_to``; call ``on_up_bytes[1]()`` once ``on_up_bytes[0]`` request bytes went through
    cut_answer_to: bytes | None = None
    on_up_bytes: tuple[int, Any] | None = None
    up_bytes: int = 0
    down_bytes: int = 0
    connections: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.lock = threading.Lock()
        self.enabled = True
        self.open: list[_Conn] = []
        self.closing = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def total_faults(self) -> int:
        return sum(self.faults.values())

    def _plan(self) -> Plan:
        with self.lock:
            if not self.enabled or self.rng.random() >= self.rate:
                return Plan(None, "up", 0)
            r, acc, kind = self.rng.random(), 0.0, self.kinds[-1][0]
            for k, w in self.kinds:
                acc += w
                if r < acc:
                    kind = k
                    break
            if self.rng.random() < self.down_share:
                return Plan(kind, "down", self.rng.randint(0, self.max_down))
            return Plan(kind, "up", int(self.rng.expovariate(1.0 / self.mean_up)))

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connections += 1
            conn = _Conn(self, client, upstream, self._plan())
            self.open.append(conn)
            conn.start()

    def stop(self) -> None:
        self.closing.set()
        self.sock.close()
        for conn in self.open:
            if not conn.done.is_set():
                conn._close(reset=False)


class _Conn:
    def __init__(self, proxy: FaultProxy, client: socket.socket, upstream: socket.socket, plan: Plan) -> None:
        self.proxy, self.client, self.upstream, self.plan = proxy, client, upstream, plan
        self.done = threading.Event()
        self.armed = False
        self.fired = False
        self.flock = threading.Lock()

    def start(self) -> None:
        for src, dst, direction in ((self.client, self.upstream, "up"), (self.upstream, self.client, "down")):
            threading.Thread(target=self._pump, args=(src, dst, direction), daemon=True).start()

    def _close(self, reset: bool) -> None:
        for s in (self.client, self.upstream):
            try:
                if reset:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    s.shutdown(socket.SHUT_RD)  # wakes the other pump's recv; the close then sends RST
                else:
                    s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass
        self.done.set()

    def _fire(self) -> None:
        with self.flock:
            if self.fired or self.done.is_set():
                return
            self.fired = True
        kind = self.plan.kind
        self.proxy.faults[kind] += 1
        if kind == "stall":
            self.proxy.closing.wait(self.proxy.stall_seconds)  # the fault itself: a link that stops
        self._close(reset=kind == "reset")

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str) -> None:
        sent = 0
        faulty = self.plan.kind is not None and self.plan.direction == direction
        try:
            while not self.done.is_set():
                if faulty and sent >= self.plan.offset:
                    self._fire()
                    return
                data = src.recv(65536)
                if not data:
                    break
                if faulty and sent + len(data) > self.plan.offset:
                    data = data[: self.plan.offset - sent]
                if self.fired:
                    return  # a stall is in progress: forward nothing more
                if direction == "up" and self.proxy.cut_answer_to and self.proxy.cut_answer_to in data:
                    self.proxy.cut_answer_to = None
                    self.armed = True
                if direction == "down" and self.armed:
                    self.proxy.faults["answer_reset"] += 1
                    self.fired = True
                    self._close(reset=True)
                    return
                dst.sendall(data)
                sent += len(data)
                hook = None
                with self.proxy.lock:
                    if direction == "up":
                        self.proxy.up_bytes += len(data)
                        if self.proxy.on_up_bytes and self.proxy.up_bytes >= self.proxy.on_up_bytes[0]:
                            hook, self.proxy.on_up_bytes = self.proxy.on_up_bytes[1], None
                    else:
                        self.proxy.down_bytes += len(data)
                if hook is not None:
                    hook()
        except OSError:
            pass
        if not self.fired:
            self._close(reset=False)


# ---------------------------------------------------------------------------------------------
# parties


def pdf_bytes(seed: int, size: int) -> bytes:
    rng = random.Random(seed)
    return b"%PDF-1.4\n" + rng.randbytes(size - 9)


@dataclass
class World:
    base: Path
    city: Path  # the demo city's data folder (its stick)
    platform: Path  # an initialised platform folder
    officer: Path  # an officer data folder: trust installed, officer key, courier grant registered
    bundles: dict[str, Path]  # A1, B1, B2, B2x (conflicting r2)
    city2_key: Any  # another city's key set, enrolled on the platform
    stranger_key: Any  # a key the platform does not know
    root_key: Any
    officer_key: Any
    panel_key: Any
    city_key: Any


def build_world(base: Path, demo_template: Path, *, big_files: int = 6, big_size: int = 2 << 20) -> World:
    from app.bundle import trust as trustmod
    from app.bundle.demo_trust import DEMO_KDF, DEMO_PASSPHRASE
    from app.bundle.keys import KeySet, Role, card_path_for, load_keyfile, write_new_keyfile
    from app.bundle.submit import seal_stage
    from app.bundle.utctime import now_utc
    from app.fsutil import atomic_write_bytes
    from app.model.service import Kit
    from app.sync import protocol as proto
    from app.sync.platform import init_platform, register_documents

    city = base / "city"
    shutil.copytree(demo_template, city, ignore=shutil.ignore_patterns("kit.lock"))
    city_key = load_keyfile(city / "keys" / "city.key", DEMO_PASSPHRASE)
    root_key = load_keyfile(city / "demo" / "secretariat" / "platform_root.key", DEMO_PASSPHRASE)
    panel_key = load_keyfile(city / "demo" / "panel" / "reviewer-1.key", DEMO_PASSPHRASE)
    src = base / "evidence-src"
    src.mkdir()
    bundles: dict[str, Path] = {}
    with Kit(city, actor="tester") as kit:
        for stage in ("A", "B"):
            req = next(iter(kit.framework.stage(stage).requirements()))
            for i in range(big_files):
                p = src / f"{stage}-scan-{i}.pdf"
                p.write_bytes(pdf_bytes(ord(stage) * 100 + i, big_size + 4099 * i))
                kit.attach_evidence(stage, req.id, p, kind="document")
        bundles["A1"] = seal_stage(kit, "A", city_key, base / "out-A1").path
        bundles["B1"] = seal_stage(kit, "B", city_key, base / "out-B1").path
    snapshot = base / "city-snapshot"
    shutil.copytree(city, snapshot, ignore=shutil.ignore_patterns("kit.lock"))
    for folder, text, key in ((city, "Revised after the panel asked for the ward forum minutes.", "B2"),
                              (snapshot, "A different revision two, sealed on another copy of the stick.", "B2x")):
        with Kit(folder, actor="tester") as kit:
            req = next(iter(kit.framework.stage("B").requirements()))
            fld = next(f for f in req.fields if f.type == "text")
            kit.set_answer("B", req.id, fld.id, text)
            bundles[key] = seal_stage(kit, "B", city_key, base / f"out-{key}").path

    platform = base / "platform"
    init_platform(platform, city / "demo" / "trust-pack", root_key, demo=True, name="Test platform")

    officer = base / "officer"
    trustmod.import_trust_pack(city / "demo" / "trust-pack", officer, trustmod.RootPolicy.installed(demo=True))
    officer_key = KeySet.generate(Role.OFFICER, "Officer Test")
    write_new_keyfile(officer / "keys" / "officer.key", officer_key, DEMO_PASSPHRASE, kdf=DEMO_KDF)
    atomic_write_bytes(card_path_for(officer / "keys" / "officer.key"), officer_key.card().to_bytes())
    grants = base / "grants"
    doc = proto.courier_document(name="Officer Test", key=officer_key.public_key,
                                 age_recipient=officer_key.age_recipient, countries=["KE"], city_ids=[],
                                 expires=now_utc() + timedelta(days=30))
    data, sig = proto.sign_document(proto.COURIER_FORMAT, doc, root_key.signing_key)
    atomic_write_bytes(grants / "courier.json", data)
    atomic_write_bytes(grants / "courier.json.minisig", sig.encode())
    city2_key = KeySet.generate(Role.CITY, "Other city")
    edoc = trustmod.enrolment_document(card=city2_key.card(), city_id="ke-other", country="KE",
                                       mechanism_id=trustmod.GLOBAL_MECHANISM_ID,
                                       expires=now_utc() + timedelta(days=30), serial="other-1")
    trustmod.write_signed(grants / "other", trustmod.ENROLMENT, edoc, root_key.signing_key)
    register_documents(platform, [grants / "courier.json", grants / "other" / "enrolment.json"])
    return World(base=base, city=city, platform=platform, officer=officer, bundles=bundles, city2_key=city2_key,
                 stranger_key=KeySet.generate(Role.CITY, "Stranger"), root_key=root_key, officer_key=officer_key,
                 panel_key=panel_key, city_key=city_key)


def copy_world(w: World, dest: Path) -> World:
    """A private copy of the platform, officer and city folders (bundles are read-only, shared)."""
    ign = shutil.ignore_patterns("kit.lock", "outbox.lock")
    out = {}
    for name in ("platform", "officer", "city"):
        target = dest / name
        shutil.copytree(getattr(w, name), target, ignore=ign)
        out[name] = target
    return World(base=dest, city=out["city"], platform=out["platform"], officer=out["officer"], bundles=w.bundles,
                 city2_key=w.city2_key, stranger_key=w.stranger_key, root_key=w.root_key,
                 officer_key=w.officer_key, panel_key=w.panel_key, city_key=w.city_key)


# ---------------------------------------------------------------------------------------------
# the service in a process of its own (restart tests, the full path)


class ServiceProcess:
    """``sdgkit platform serve`` as a child process; ``url`` from the line it prints when listening."""

    def __init__(self, folder: Path, port: int = 0, db_url: str | None = None) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        cmd = [sys.executable, "-m", "app.cli.main", "--data", str(folder), "platform", "serve", "--port", str(port)]
        if db_url:
            cmd += ["--db", db_url]
        self.log = Path(folder).parent / "service.log"  # a file, not a pipe: a full pipe would block the service
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=ROOT)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until the socket listens (or the process died)
        found = re.search(r"http://[^\s]+:(\d+)", line)
        if not found:
            self.proc.kill()
            raise RuntimeError(f"service did not start: {line!r} {self.log.read_text(errors='replace')[-2000:]}")
        self.url = found.group(0)
        self.port = int(found.group(1))

    def kill(self) -> None:
        """A crash: SIGKILL, no shutdown of any kind."""
        self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def signed(url: str, key: Any, method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None,
           ts: float | None = None, nonce: str | None = None, body_sha256: str | None = None) -> Any:
    """One request signed by ``key`` (a KeySet), built by hand so a test can bend any part of it."""
    import httpx

    from app.sync import protocol as proto

    hdrs = dict(headers or {})
    hdrs.update(proto.sign_request(key.signing_key, method, path, hdrs, body_sha256 or proto.sha256_hex(body),
                                   now=ts, nonce=nonce))
    return httpx.request(method, url + path, content=body, headers=hdrs, timeout=30)


def negotiate_body(folder: Path) -> bytes:
    import json

    from app.sync import protocol as proto
    from app.sync.client import bundle_small_files

    return json.dumps({"files": {n: proto.b64(d) for n, d in bundle_small_files(folder).items()}}).encode()
