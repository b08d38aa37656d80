"""Sync on the wire: overhead for a new bundle and a resubmission, loopback throughput against a
plain HTTP upload, and the bytes re-sent per cut.

Usage: python bench/bench_sync.py [--files 100] [--size-kib 1100] [--cuts 100] [--out bench/results/sync.md]

Everything runs on loopback. The platform runs as ``sdgkit platform serve`` in a process of its
own; the officer's client runs here. Bytes on the wire are counted by a TCP proxy between the two
(request and response bytes, HTTP headers included; TCP/IP headers excluded).

1. **New bundle**: a demo city with ``--files`` evidence files of ``--size-kib`` each in stage A,
   sealed and synced: wire bytes / bundle size (goal <= 1.02).
2. **Resubmission**: one of those files replaced by another of the same size, sealed again (the
   other objects are reused) and synced: wire bytes / changed bytes (goal <= 1.05 plus the
   manifests: the small files and the inner manifest object, which change with every revision).
3. **Throughput**: the same bundle synced straight to the service (no proxy), against a plain
   HTTP upload of the same object files (one streaming PUT each, written to disk and fsynced, to a
   bare Starlette endpoint on the same uvicorn stack, in a process of its own): ratio of the two.
   The sync figure is end to end: the client's check of the bundle, negotiate, tus uploads, commit
   (with the service's full verification) and the receipt check.
4. **Re-sent bytes per cut**: the bundle synced again through a proxy that cuts or resets every
   connection at an exponentially distributed byte offset: bytes re-sent per cut (the client's
   count of body bytes sent but not kept by the service), with the chunk size at each cut.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform as pyplatform
import random
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSPHRASE = "demo river lamp cloud stone"


# ---------------------------------------------------------------------------------------------
# a counting (and optionally cutting) TCP proxy


class Proxy:
    def __init__(self, target: int, *, cut_mean: int | None = None, seed: int = 1) -> None:
        self.target, self.cut_mean = target, cut_mean
        self.rng = random.Random(seed)
        self.up = self.down = self.cuts = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            for s in (c, u):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            limit = int(self.rng.expovariate(1 / self.cut_mean)) if self.cut_mean else None
            state = {"done": False}
            threading.Thread(target=self._pump, args=(c, u, True, limit, state), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, False, None, state), daemon=True).start()

    def _close(self, a: socket.socket, b: socket.socket, reset: bool) -> None:
        for s in (a, b):
            try:
                if reset:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    s.shutdown(socket.SHUT_RD)
                else:
                    s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _pump(self, src: socket.socket, dst: socket.socket, up: bool, limit: int | None, state: dict) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) >= limit:
                    data = data[: limit - sent]
                    dst.sendall(data)
                    with self.lock:
                        self.up += len(data)
                        self.cuts += 1
                    state["done"] = True
                    self._close(src, dst, reset=self.rng.random() < 0.5)
                    return
                dst.sendall(data)
                sent += len(data)
                with self.lock:
                    if up:
                        self.up += len(data)
                    else:
                        self.down += len(data)
        except OSError:
            pass
        if not state["done"]:
            state["done"] = True
            self._close(src, dst, reset=False)

    def stop(self) -> None:
        self.stopped = True
        self.sock.close()


# ---------------------------------------------------------------------------------------------
# processes


def start_service(folder: Path) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    p = subprocess.Popen([sys.executable, "-m", "app.cli.main", "--data", str(folder), "platform", "serve",
                          "--port", "0"], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    line = p.stdout.readline()  # type: ignore[union-attr]
    if not line.startswith("Listening on "):
        raise RuntimeError(line)
    return p, int(line.strip().rsplit(":", 1)[1])


def plain_server(folder: str, port_file: str) -> None:
    """A bare upload endpoint on the same stack: PUT /put/<name> streams the body to disk, fsyncs."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def put(request):  # type: ignore[no-untyped-def]
        path = Path(folder) / request.path_params["name"]
        with open(path, "wb") as fh:
            async for part in request.stream():
                fh.write(part)
            fh.flush()
            os.fsync(fh.fileno())
        return Response(status_code=204)

    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    Path(port_file).write_text(str(sock.getsockname()[1]))
    app = Starlette(routes=[Route("/put/{name}", put, methods=["PUT"])])
    uvicorn.Server(uvicorn.Config(app, log_level="warning", http="h11", access_log=False)).run(sockets=[sock])


# ---------------------------------------------------------------------------------------------
# the parties


def make_world(base: Path, files: int, size: int, large: int, large_size: int) -> dict:
    from app.bundle import trust as trustmod
    from app.bundle.demo_trust import DEMO_KDF
    from app.bundle.keys import KeySet, Role, load_keyfile, write_new_keyfile
    from app.bundle.submit import seal_stage
    from app.bundle.utctime import now_utc
    from app.cli.main import main
    from app.model.service import Kit
    from app.sync import protocol as proto
    from app.sync.platform import init_platform, register_documents

    city = base / "city"
    with open(os.devnull, "w") as null:
        old, sys.stdout = sys.stdout, null
        try:
            assert main(["--data", str(city), "demo"]) == 0
        finally:
            sys.stdout = old
    city_key = load_keyfile(city / "keys" / "city.key", PASSPHRASE)
    root_key = load_keyfile(city / "demo" / "secretariat" / "platform_root.key", PASSPHRASE)
    src = base / "src"
    src.mkdir()
    rng = random.Random(42)
    with Kit(city, actor="bench") as kit:
        req = next(iter(kit.framework.stage("A").requirements()))
        for i in range(files):
            p = src / f"evidence-{i:03d}.pdf"
            p.write_bytes(b"%PDF-1.4\n" + rng.randbytes(size - 9))
            kit.attach_evidence("A", req.id, p, kind="document")
        r1 = seal_stage(kit, "A", city_key, base / "r1")
        victim = next(e for e in kit.list_evidence("A") if e.name == "evidence-000.pdf")
        kit.remove_evidence(victim.id)
        newfile = src / "evidence-replaced.pdf"
        newfile.write_bytes(b"%PDF-1.4\n" + rng.randbytes(size - 9))
        kit.attach_evidence("A", req.id, newfile, kind="document")
        r2 = seal_stage(kit, "A", city_key, base / "r2")
        req_b = next(iter(kit.framework.stage("B").requirements()))
        for i in range(large):
            p = src / f"video-{i}.pdf"
            p.write_bytes(b"%PDF-1.4\n" + rng.randbytes(large_size - 9))
            kit.attach_evidence("B", req_b.id, p, kind="document")
        big = seal_stage(kit, "B", city_key, base / "big")
    plat = base / "platform"
    init_platform(plat, city / "demo" / "trust-pack", root_key, demo=True, name="Bench platform")
    officer = base / "officer"
    trustmod.import_trust_pack(city / "demo" / "trust-pack", officer, trustmod.RootPolicy.installed(demo=True))
    okey = KeySet.generate(Role.OFFICER, "Bench officer")
    write_new_keyfile(officer / "keys" / "officer.key", okey, PASSPHRASE, kdf=DEMO_KDF)
    doc = proto.courier_document(name="Bench officer", key=okey.public_key, age_recipient=okey.age_recipient,
                                 countries=["KE"], city_ids=[], expires=now_utc() + datetime.timedelta(days=7))
    data, sig = proto.sign_document(proto.COURIER_FORMAT, doc, root_key.signing_key)
    (base / "grant").mkdir()
    (base / "grant" / "courier.json").write_bytes(data)
    (base / "grant" / "courier.json.minisig").write_text(sig)
    register_documents(plat, [base / "grant" / "courier.json"])
    return {"city": city, "platform": plat, "officer": officer, "key": okey, "r1": r1, "r2": r2, "big": big,
            "changed": newfile.stat().st_size}


def folder_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def fresh(world: dict, base: Path, name: str) -> tuple[Path, Path]:
    """A copy of the platform and officer folders, so each measurement starts from nothing."""
    plat, off = base / f"{name}-platform", base / f"{name}-officer"
    shutil.copytree(world["platform"], plat)
    shutil.copytree(world["officer"], off)
    return plat, off


def stick(paths: list[Path], dest: Path) -> Path:
    dest.mkdir()
    for p in paths:
        shutil.copytree(p, dest / p.name)
    return dest


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{model or pyplatform.processor()}, {os.cpu_count()} cores, {pyplatform.system()} "
            f"{pyplatform.release()}, Python {pyplatform.python_version()}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--size-kib", type=int, default=1100)
    ap.add_argument("--cuts", type=int, default=100)
    ap.add_argument("--large-files", type=int, default=4)
    ap.add_argument("--large-mib", type=int, default=24)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "sync.md"))
    ap.add_argument("--plain-server", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.plain_server:
        plain_server(*args.plain_server)
        return 0

    from app.sync.client import SyncPolicy, TransferStats
    from app.sync.officer import collect, sync

    base = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    procs: list[subprocess.Popen] = []
    try:
        t0 = time.monotonic()
        world = make_world(base, args.files, args.size_kib * 1024, args.large_files, args.large_mib << 20)
        r1, r2 = world["r1"], world["r2"]
        print(f"set up in {time.monotonic() - t0:.1f} s: r1 {r1.size} B, r2 {r2.size} B "
              f"({sum(o.reused for o in r2.objects)} of {len(r2.objects)} objects reused)", flush=True)
        results: dict = {"machine": machine(), "date": datetime.date.today().isoformat(),
                         "files": args.files, "file_bytes": args.size_kib * 1024,
                         "large_files": args.large_files, "large_mib": args.large_mib}

        # 1 + 2: wire overhead, through a counting proxy
        plat, off = fresh(world, base, "wire")
        svc, port = start_service(plat)
        procs.append(svc)
        proxy = Proxy(port)
        collect(off, stick([r1.path], base / "stick-r1"))
        rep = sync(off, world["key"], url=proxy.url, pull=False)
        assert len(rep.sent) == 1, rep.as_dict()
        size1 = folder_size(r1.path)
        wire1 = proxy.up + proxy.down
        results["new"] = {"bundle": size1, "wire": wire1, "up": proxy.up, "down": proxy.down, "ratio": wire1 / size1}
        up0, down0 = proxy.up, proxy.down
        collect(off, stick([r2.path], base / "stick-r2"))
        rep = sync(off, world["key"], url=proxy.url, pull=False)
        assert len(rep.sent) == 1, rep.as_dict()
        wire2 = proxy.up - up0 + proxy.down - down0
        m1 = {o["id"] for o in json.loads((r1.path / "bundle.json").read_text())["objects"]}
        m2 = json.loads((r2.path / "bundle.json").read_text())
        new_objects = [o for o in m2["objects"] if o["id"] not in m1]
        inner = next(o for o in new_objects if o["id"] == m2["inner_manifest"])
        changed_obj = sum(o["size"] for o in new_objects if o["id"] != m2["inner_manifest"])
        small = sum(f.stat().st_size for f in r2.path.rglob("*") if f.is_file() and "objects" not in f.parts)
        manifests = small + inner["size"]
        results["resub"] = {"bundle": r2.size, "changed": world["changed"], "changed_object": changed_obj,
                            "manifests": manifests, "wire": wire2, "ratio": wire2 / world["changed"],
                            "ratio_less_manifests": (wire2 - manifests) / world["changed"]}
        proxy.stop()
        svc.terminate()
        svc.wait()
        print("wire:", json.dumps({k: results[k] for k in ("new", "resub")}), flush=True)

        # 3: throughput against a plain upload, both straight to their server
        plain_dir = base / "plain"
        plain_dir.mkdir()
        port_file = base / "plain.port"
        plain = subprocess.Popen([sys.executable, __file__, "--plain-server", str(plain_dir), str(port_file)],
                                 env=dict(os.environ, PYTHONPATH=str(ROOT)))
        procs.append(plain)
        import httpx

        while not port_file.is_file() or not port_file.read_text():  # the child writes it once listening
            time.sleep(0.01)
        pport = int(port_file.read_text())
        results["throughput"] = {}
        for label, sealed in (("small", r1), ("large", world["big"])):
            objects = sorted(p for p in sealed.path.rglob("*.age*") if p.is_file())
            obj_bytes = sum(p.stat().st_size for p in objects)
            plain_t, sync_t = [], []
            for run in range(args.runs):
                with httpx.Client(timeout=60) as c:
                    start = time.monotonic()
                    for p in objects:
                        with open(p, "rb") as fh:
                            r = c.put(f"http://127.0.0.1:{pport}/put/{p.name}", content=fh,
                                      headers={"Content-Length": str(p.stat().st_size)})
                            assert r.status_code == 204
                    plain_t.append(time.monotonic() - start)
                plat, off = fresh(world, base, f"tp-{label}{run}")
                svc, port = start_service(plat)
                procs.append(svc)
                collect(off, stick([sealed.path], base / f"stick-tp-{label}{run}"))
                stats = TransferStats()
                start = time.monotonic()
                rep = sync(off, world["key"], url=f"http://127.0.0.1:{port}", pull=False, stats=stats)
                sync_t.append(time.monotonic() - start)
                assert len(rep.sent) == 1
                svc.terminate()
                svc.wait()
            results["throughput"][label] = {
                "objects": len(objects), "bytes": obj_bytes,
                "plain_mbs": obj_bytes / statistics.median(plain_t) / 1e6,
                "sync_mbs": obj_bytes / statistics.median(sync_t) / 1e6,
                "ratio": statistics.median(plain_t) / statistics.median(sync_t),
                "max_chunk": max(stats.chunk_sizes), "requests": stats.requests}
        plain.terminate()
        plain.wait()
        print("throughput:", json.dumps(results["throughput"]), flush=True)
        objects = sorted(p for p in r1.path.rglob("*.age*") if p.is_file())
        obj_bytes = sum(p.stat().st_size for p in objects)

        # 4: re-sent bytes per cut
        plat, off = fresh(world, base, "cuts")
        svc, port = start_service(plat)
        procs.append(svc)
        mean = max(64 * 1024, obj_bytes // max(1, args.cuts))
        proxy = Proxy(port, cut_mean=mean, seed=7)
        collect(off, stick([r1.path], base / "stick-cuts"))
        stats = TransferStats()
        policy = SyncPolicy(backoff_base=0.01, backoff_cap=0.1, max_failures=100_000, seed=3)
        for _ in range(10):
            rep = sync(off, world["key"], url=proxy.url, pull=False, policy=policy, stats=stats)
            if rep.sent:
                break
        assert rep.sent, rep.as_dict()
        cuts = [c for c in stats.cuts if c.offset_after is not None]
        resent = [c.resent for c in cuts]
        results["cuts"] = {"proxy_cuts": proxy.cuts, "patch_cuts": len(cuts),
                           "mean_resent": statistics.mean(resent) if resent else 0,
                           "max_resent": max(resent, default=0),
                           "max_ratio_to_chunk": max((c.resent / c.chunk for c in cuts), default=0),
                           "mean_chunk": statistics.mean(c.chunk for c in cuts) if cuts else 0,
                           "total_resent": sum(resent), "object_bytes": obj_bytes}
        proxy.stop()
        svc.terminate()
        svc.wait()
        print("cuts:", json.dumps(results["cuts"]), flush=True)
        write_results(Path(args.out), results)
        print(f"wrote {args.out}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        shutil.rmtree(base, ignore_errors=True)
    return 0


def write_results(path: Path, r: dict) -> None:
    n, c, s = r["new"], r["cuts"], r["resub"]
    ts, tl = r["throughput"]["small"], r["throughput"]["large"]
    mib = r["file_bytes"] / (1 << 20)
    text = f"""# Sync benchmark

`python bench/bench_sync.py` — {r['date']}, {r['machine']}. Loopback only; the service runs as
`sdgkit platform serve` in its own process (SQLite, WAL, synchronous=FULL). Wire bytes are TCP
payload bytes in both directions (HTTP headers included, TCP/IP headers not).

Bundle: the demo city's stage A with {r['files']} evidence files of {mib:.2f} MiB each (random bytes,
so each is its own object: files under 1 MiB travel in pack objects).

| measure | result | goal |
|---|---|---|
| new bundle: wire bytes / bundle size | {n['wire']:,} / {n['bundle']:,} = **{n['ratio']:.4f}** | ≤ 1.02 |
| resubmission, 1 of {r['files']} files changed: wire bytes / changed bytes | {s['wire']:,} / {s['changed']:,} = **{s['ratio']:.4f}** | ≤ 1.05 plus the manifests |
| … the same less the manifests ({s['manifests']:,} B: small files and inner manifest) | **{s['ratio_less_manifests']:.4f}** | ≤ 1.05 |
| loopback throughput, sync end to end vs plain HTTP PUT of the same objects: this bundle ({ts['objects']} objects, {ts['bytes']:,} B) | {ts['sync_mbs']:.0f} MB/s vs {ts['plain_mbs']:.0f} MB/s = **{ts['ratio']:.2f}** | |
| … a bundle of {tl['objects']} objects, {tl['bytes']:,} B (stage B with {r['large_files']} files of {r['large_mib']} MiB) | {tl['sync_mbs']:.0f} MB/s vs {tl['plain_mbs']:.0f} MB/s = **{tl['ratio']:.2f}** | |
| re-sent bytes per cut ({c['patch_cuts']} cuts of a PATCH, {c['proxy_cuts']} connections cut) | mean **{c['mean_resent']:,.0f} B**, max {c['max_resent']:,} B; max re-sent / chunk {c['max_ratio_to_chunk']:.2f}; mean chunk at a cut {c['mean_chunk']:,.0f} B | ≤ one chunk |

Notes:

* New bundle: the overhead is one negotiate (the small files, base64 in JSON) and one commit per
  bundle, a creation and its PATCH requests per object (no HEAD unless a request failed), each
  request with its signature headers (~0.6 kB), and the answers. Objects dominate, so the ratio
  tends to 1 as files grow.
* Resubmission: only the changed file's object ({s['changed_object']:,} B of ciphertext for
  {s['changed']:,} B of plaintext: age adds 16 B per 64 KiB chunk and a header), the new inner manifest
  and the small files travel; the other {r['files'] - 1} objects are reused by content address and
  negotiate does not ask for them. Files under 1 MiB travel in pack objects, so a changed small
  file costs its whole pack (up to about 32 MiB); that is the price of fewer files on FAT sticks.
* Throughput: the sync figure includes the client re-checking the whole bundle before sending,
  negotiate, commit with the service's full verification (every hash and signature) and the
  receipt check; the plain PUT does none of that. Per PATCH the service hashes the chunk, fsyncs
  the upload file and records the offset in the database (the object's own hash is kept running
  as bytes arrive; it is read again from disk only after a service restart).
  The cost is per object and per request (a creation and at least one PATCH, each with a few
  database commits), so it weighs on many small objects and fades with large ones: chunks grew to
  {tl['max_chunk']:,} B on loopback for the large bundle ({tl['requests']} requests). On a real link
  the round trip and the bandwidth dominate both figures.
* Re-sent bytes per cut: after a cut the client asks the service for its offset (HEAD) and goes
  on from there; the service keeps every byte it received, so what is re-sent is what was in
  flight (socket buffers), never more than the chunk. Total re-sent {c['total_resent']:,} B for
  {c['object_bytes']:,} B of objects.
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
