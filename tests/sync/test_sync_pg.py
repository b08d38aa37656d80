"""The platform on a real PostgreSQL server (the deployment database).

Runs when ``SDGKIT_TEST_PG_URL`` names a throwaway database (``scripts/ci-postgres.sh`` starts one
and prints its URL); skipped only when that variable is absent. The tables are dropped and made
again at the start of each test.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from sync_support import FaultProxy, ServiceProcess

from app.bundle.bundle import verify_folder
from app.sync import protocol as proto
from app.sync.client import PlatformClient, SyncPolicy, TransferStats
from app.sync.officer import collect, outbox_overview, sync
from app.sync.outbox import Outbox
from app.sync.platform import Platform, PlatformSettings, ServerThread

PG = os.environ.get("SDGKIT_TEST_PG_URL")
pytestmark = pytest.mark.skipif(not PG, reason="SDGKIT_TEST_PG_URL is not set (scripts/ci-postgres.sh prints one)")

POLICY = SyncPolicy(connect_timeout=0.5, read_timeout=1.0, write_timeout=1.0, backoff_base=0.01, backoff_cap=0.2,
                    max_failures=10_000, seed=21)


def _fresh_schema() -> None:
    from sqlalchemy import create_engine

    from app.sync.platform_db import PBase

    engine = create_engine(PG)
    PBase.metadata.drop_all(engine)
    with engine.begin() as conn:  # and the migration history: the next Platform builds it all again
        conn.exec_driver_sql("DROP TABLE IF EXISTS p_alembic_version")
    engine.dispose()


def _stick(world, tmp: Path, *names: str) -> Path:
    stick = tmp / ("stick-" + "-".join(names))
    stick.mkdir(parents=True)
    for n in names:
        shutil.copytree(world.bundles[n], stick / world.bundles[n].name)
    return stick


def test_faults_duplicates_conflicts_and_races_on_postgresql(world, tmp_path):
    _fresh_schema()
    plat = Platform(world.platform, db_url=PG, settings=PlatformSettings(idle_timeout_seconds=2.0))
    assert plat.engine.dialect.name == "postgresql"
    srv = ServerThread(plat).start()
    proxy = FaultProxy(srv.port, seed=77, mean_up=600_000, max_down=600, stall_seconds=1.2)
    try:
        collect(world.officer, _stick(world, tmp_path, "A1", "B1", "B2"))
        stats = TransferStats()
        for _ in range(10):
            sync(world.officer, world.officer_key, url=proxy.url, policy=POLICY, stats=stats, pull=False)
            if all(r["status"] == "received" for r in outbox_overview(world.officer)):
                break
        assert [r["status"] for r in outbox_overview(world.officer)] == ["received"] * 3
        assert proxy.total_faults >= 10 and all(c.resent <= c.chunk for c in stats.cuts)
        # two clients commit the same bundle at once: one commit, one receipt
        ids = {n: verify_folder(world.bundles[n]).bundle_id for n in ("A1", "B1", "B2", "B2x")}
        receipts: list[str] = []

        def again() -> None:
            with PlatformClient(srv.url, world.officer_key.signing_key, policy=POLICY) as c:
                c.negotiate(world.bundles["A1"], ids["A1"])
                receipts.append(c.commit(ids["A1"])["receipt"])

        threads = [threading.Thread(target=again) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with Outbox(world.officer) as ob:
            assert set(receipts) == {ob.get(ids["A1"]).receipt}
        for n in ("A1", "B1", "B2"):
            assert plat.commits(ids[n]) == 1
        # the conflicting revision is quarantined on PostgreSQL as on SQLite
        collect(world.officer, _stick(world, tmp_path / "x", "B2x"))
        rep = sync(world.officer, world.officer_key, url=srv.url, policy=POLICY, pull=False)
        assert rep.failed[0]["state"] == "conflict" and plat.commits(ids["B2x"]) == 0
    finally:
        proxy.stop()
        srv.stop()
        plat.close()


def test_serve_with_a_postgresql_url_survives_a_crash_mid_upload(world, tmp_path):
    _fresh_schema()
    collect(world.officer, _stick(world, tmp_path, "A1"))
    total = sum(o["size"] for o in verify_folder(world.bundles["A1"]).manifest["objects"])
    services = [ServiceProcess(world.platform, db_url=PG)]
    port = services[0].port

    def crash_and_restart() -> None:
        services[0].kill()
        services.append(ServiceProcess(world.platform, port=port, db_url=PG))

    proxy = FaultProxy(port, rate=0.0, on_up_bytes=(total // 2, crash_and_restart))
    policy = SyncPolicy(connect_timeout=2, read_timeout=5, write_timeout=5, backoff_base=0.02, backoff_cap=0.3,
                        max_failures=200, max_chunk=1 << 20)
    stats = TransferStats()
    try:
        rep = sync(world.officer, world.officer_key, url=proxy.url, policy=policy, stats=stats, pull=False)
    finally:
        proxy.stop()
        for s in services:
            s.stop()
    assert len(services) == 2 and len(rep.sent) == 1
    assert stats.body_bytes - total <= policy.max_chunk
    plat = Platform(world.platform, db_url=PG)
    try:
        b = verify_folder(world.bundles["A1"]).bundle_id
        assert plat.commits(b) == 1
        with Outbox(world.officer) as ob:
            proto.verify_receipt(ob.get(b).receipt, root=world.root_key.public_key, bundle_id=b)
    finally:
        plat.close()
