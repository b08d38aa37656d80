"""Restarts: the service killed mid-upload, the client killed mid-upload, a commit whose answer
is lost. Each time the upload resumes from the server's offset and the bundle is committed once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from sync_support import ROOT, FaultProxy, ServiceProcess

from app.bundle.bundle import verify_folder
from app.bundle.demo_trust import DEMO_PASSPHRASE
from app.sync import protocol as proto
from app.sync.client import SyncPolicy, TransferStats
from app.sync.officer import collect, outbox_overview, sync
from app.sync.outbox import Outbox
from app.sync.platform import Platform

POLICY = SyncPolicy(connect_timeout=2, read_timeout=5, write_timeout=5, backoff_base=0.02, backoff_cap=0.3,
                    max_failures=200, seed=11, max_chunk=1 << 20)


def _stick(world, tmp: Path, name: str) -> Path:
    stick = tmp / f"stick-{name}"
    stick.mkdir()
    shutil.copytree(world.bundles[name], stick / world.bundles[name].name)
    return stick


def _object_bytes(folder: Path) -> int:
    return sum(o["size"] for o in verify_folder(folder).manifest["objects"])


def test_the_service_killed_mid_upload_comes_back_and_the_upload_resumes(world, tmp_path):
    collect(world.officer, _stick(world, tmp_path, "A1"))
    total = _object_bytes(world.bundles["A1"])
    services = [ServiceProcess(world.platform)]
    port = services[0].port

    def crash_and_restart() -> None:
        services[0].kill()  # SIGKILL in the middle of a PATCH: no shutdown, no fsync of the last piece
        services.append(ServiceProcess(world.platform, port=port))

    proxy = FaultProxy(port, rate=0.0, on_up_bytes=(total // 2, crash_and_restart))
    stats = TransferStats()
    try:
        rep = sync(world.officer, world.officer_key, url=proxy.url, policy=POLICY, stats=stats, pull=False)
    finally:
        proxy.stop()
        for s in services:
            s.stop()
    assert len(services) == 2, "the crash did not happen"
    assert len(rep.sent) == 1, rep.as_dict()
    assert stats.cuts, "no request was cut by the crash"
    assert all(c.resent <= c.chunk for c in stats.cuts)
    assert stats.body_bytes - total <= POLICY.max_chunk  # at most the chunk in flight went twice
    plat = Platform(world.platform)
    try:
        b = verify_folder(world.bundles["A1"]).bundle_id
        assert plat.commits(b) == 1
        verify_folder(world.platform / "bundles" / b)
    finally:
        plat.close()


def test_the_client_killed_mid_upload_resumes_from_the_servers_offset_after_restart(world, service, tmp_path):
    collect(world.officer, _stick(world, tmp_path, "A1"))
    total = _object_bytes(world.bundles["A1"])
    env = dict(os.environ, PYTHONPATH=str(ROOT), SDGKIT_PASSPHRASE=DEMO_PASSPHRASE)
    cmd = [sys.executable, "-m", "app.cli.main", "--data", str(world.officer), "sync", "--json", "--no-pull"]
    procs: list[subprocess.Popen] = []
    proxy = FaultProxy(service.port, rate=0.0, on_up_bytes=(total // 2, lambda: procs[0].kill()))
    try:
        procs.append(subprocess.Popen(cmd + ["--url", proxy.url], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
        procs[0].communicate(timeout=120)
        assert procs[0].returncode == -9, "the client was not killed"
    finally:
        proxy.stop()
    # what was in flight when the client died reaches the server after the kill: measure after it has
    assert service.wait_idle(), "the service still had a request running"
    with Outbox(world.officer) as ob:
        b = verify_folder(world.bundles["A1"]).bundle_id
        saved = [o for o in ob.objects(b) if o.upload_url]
        assert saved, "the outbox did not keep the upload's address"
    held = sum(p.stat().st_size for p in (world.platform / "uploads").iterdir()) + \
        sum(p.stat().st_size for p in (world.platform / "objects").rglob("*") if p.is_file())
    assert 0 < held < total
    second = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    out = json.loads(second.stdout)
    assert len(out["sent"]) == 1
    # the restarted client sent what the server lacked, plus at most one chunk (8 MiB at most)
    assert total - held <= out["bytes_sent"] <= total - held + (8 << 20)
    assert out["bytes_sent"] < total
    assert outbox_overview(world.officer)[0]["status"] == "received"


def test_a_commit_whose_answer_is_lost_is_retried_and_gives_the_same_receipt(world, service, platform, tmp_path):
    collect(world.officer, _stick(world, tmp_path, "B1"))
    proxy = FaultProxy(service.port, rate=0.0, cut_answer_to=b"/commit ")
    try:
        rep = sync(world.officer, world.officer_key, url=proxy.url, policy=POLICY, pull=False)
    finally:
        proxy.stop()
    assert proxy.faults["answer_reset"] == 1
    assert len(rep.sent) == 1
    b = verify_folder(world.bundles["B1"]).bundle_id
    assert platform.commits(b) == 1
    with Outbox(world.officer) as ob:
        text = ob.get(b).receipt
    info = platform.bundle_info(platform.registry().principals[world.officer_key.fingerprint], b)
    assert info["receipt"] == text
    proto.verify_receipt(text, root=world.root_key.public_key, bundle_id=b)
