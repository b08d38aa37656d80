"""Sync through a link that cuts, resets and stalls: over 200 faults, every bundle committed once."""

from __future__ import annotations

import shutil
from pathlib import Path

from sync_support import FaultProxy, ServiceProcess, copy_world

from app.bundle.bundle import verify_folder
from app.sync import protocol as proto
from app.sync.client import SyncPolicy, TransferStats
from app.sync.officer import collect, outbox_overview, sync
from app.sync.outbox import Outbox
from app.sync.platform import Platform, PlatformSettings

NAMES = ("A1", "B1", "B2")


def _stick(world, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in NAMES:
        shutil.copytree(world.bundles[name], dest / world.bundles[name].name)
    return dest


def test_over_200_faults_every_bundle_is_committed_exactly_once_and_a_cut_costs_at_most_a_chunk(sync_world,
                                                                                                  tmp_path):
    faults, rounds, cuts = 0, 0, []
    kinds: dict[str, int] = {}
    while faults < 200:
        assert rounds < 6, f"only {faults} faults after {rounds} rounds"
        w = copy_world(sync_world, tmp_path / f"round{rounds}")
        PlatformSettings(name="Test platform", idle_timeout_seconds=2.0).save(w.platform)
        srv = ServiceProcess(w.platform)  # the real service, in a process of its own
        proxy = FaultProxy(srv.port, seed=5000 + rounds, mean_up=80_000, max_down=600, down_share=0.2,
                           stall_seconds=0.8)
        try:
            report = collect(w.officer, _stick(w, tmp_path / f"stick{rounds}"))
            assert sum(len(c["collected"]) for c in report.as_dict()["cities"]) == len(NAMES)
            stats = TransferStats()
            policy = SyncPolicy(connect_timeout=0.5, read_timeout=0.5, write_timeout=0.5, backoff_base=0.01,
                                backoff_cap=0.2, max_failures=10_000, seed=rounds)
            for _ in range(20):
                sync(w.officer, w.officer_key, url=proxy.url, policy=policy, stats=stats, pull=False)
                if all(r["status"] == "received" for r in outbox_overview(w.officer)):
                    break
            assert [r["status"] for r in outbox_overview(w.officer)] == ["received"] * len(NAMES)
        finally:
            proxy.stop()
            srv.stop()
        plat = Platform(w.platform)
        root = w.root_key.public_key
        with Outbox(w.officer) as ob:
            for name in NAMES:
                vb = verify_folder(w.bundles[name])
                row = ob.get(vb.bundle_id)
                assert plat.commits(vb.bundle_id) == 1  # exactly once, whatever was retried
                info = plat.bundle_info(plat.registry().principals[w.officer_key.fingerprint], vb.bundle_id)
                assert info["state"] == "committed" and info["receipt"] == row.receipt  # same receipt both sides
                receipt = proto.verify_receipt(row.receipt, root=root, bundle_id=vb.bundle_id,
                                               sums_sha256=vb.sums_sha256)
                assert receipt.doc["revision"] == vb.revision
                assert (w.officer / "outbox" / "receipts" / f"{vb.bundle_id}.receipt.json").read_text() == row.receipt
                stored = verify_folder(w.platform / "bundles" / vb.bundle_id)  # complete and intact there
                assert stored.sums_sha256 == vb.sums_sha256
        plat.close()
        for c in stats.cuts:
            assert c.offset_after is not None
            assert c.resent <= c.chunk, c  # never more than the chunk in flight
        uploaded = sum(c.offset_after - c.offset_before for c in stats.cuts) + stats.confirmed_bytes
        assert stats.body_bytes - uploaded <= sum(c.chunk for c in stats.cuts)
        cuts.extend(stats.cuts)
        faults += proxy.total_faults
        for k, v in proxy.faults.items():
            kinds[k] = kinds.get(k, 0) + v
        rounds += 1
    assert faults >= 200 and set(kinds) == {"cut", "reset", "stall"}, kinds
    print(f"\nfaults {faults} {kinds} in {rounds} round(s); cuts during PATCH {len(cuts)}; "
          f"max re-sent {max(c.resent for c in cuts)} B; mean {sum(c.resent for c in cuts) / max(1, len(cuts)):.0f} B")
