"""The whole path, as people run it: the demo city seals, the officer collects from its stick,
syncs to the service, brings the receipt back, and the city's home shows "received"."""

from __future__ import annotations

import json
import shutil

from sync_support import ServiceProcess

from app.bundle.demo_trust import DEMO_PASSPHRASE
from app.bundle.submit import sealed_bundles, trust_root_for
from app.cli.main import main
from app.model.paths import PORTABLE_MARKER
from app.model.service import Kit
from app.sync import protocol as proto


def sdgkit(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, (args, out, err)
    return code, out


def test_demo_city_to_platform_and_back_to_the_citys_home_screen(demo_template, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SDGKIT_PASSPHRASE", DEMO_PASSPHRASE)
    stick = tmp_path / "stick"  # a folder standing in for the city's USB stick
    (stick / PORTABLE_MARKER).parent.mkdir(parents=True)
    (stick / PORTABLE_MARKER).write_text("portable\n")
    city = stick / "data"
    shutil.copytree(demo_template, city, ignore=shutil.ignore_patterns("kit.lock"))
    secretariat = city / "demo" / "secretariat"
    platform, officer, grant = tmp_path / "platform", tmp_path / "officer", tmp_path / "grant"

    # the city seals stage A
    _, out = sdgkit(capsys, "--data", str(city), "bundle", "seal", "--stage", "A", "--json")
    bundle_id = json.loads(out)["bundle_id"]
    # the secretariat sets up the platform and grants the officer's key
    sdgkit(capsys, "--data", str(platform), "platform", "init", "--trust-pack", str(city / "demo" / "trust-pack"),
           "--root-key", str(secretariat / "platform_root.key"), "--demo")
    sdgkit(capsys, "--data", str(officer), "keys", "trust-import", str(city / "demo" / "trust-pack"), "--demo")
    sdgkit(capsys, "--data", str(officer), "keys", "create", "--role", "officer", "--name", "Field officer Juma")
    sdgkit(capsys, "--data", str(secretariat), "platform", "grant-courier", str(officer / "keys" / "officer.card.json"),
           "--country", "KE", "--expires", "2099-12-31", "--key-file", str(secretariat / "platform_root.key"),
           "--out", str(grant))
    sdgkit(capsys, "--data", str(platform), "platform", "register", str(grant / "courier.json"))
    service = ServiceProcess(platform)
    try:
        # the officer visits the city
        _, out = sdgkit(capsys, "--data", str(officer), "officer", "collect", str(stick), "--json")
        (city_report,) = json.loads(out)["cities"]
        assert [c["bundle_id"] for c in city_report["collected"]] == [bundle_id]
        with Kit(city) as kit:
            assert {b["bundle_id"]: b["status"] for b in sealed_bundles(kit)}[bundle_id] == "collected"
        # ... finds a link, and syncs
        _, out = sdgkit(capsys, "--data", str(officer), "sync", "--url", service.url, "--json")
        report = json.loads(out)
        assert [s["bundle_id"] for s in report["sent"]] == [bundle_id] and report["failed"] == []
        _, out = sdgkit(capsys, "--data", str(officer), "officer", "status", "--json")
        assert [(r["bundle_id"], r["status"]) for r in json.loads(out)] == [(bundle_id, "received")]
        # ... and brings the receipt back on the next visit
        _, out = sdgkit(capsys, "--data", str(officer), "officer", "deliver", str(stick), "--json")
        delivered = json.loads(out)
        assert [r["bundle_id"] for r in delivered["receipts"]] == [bundle_id] and delivered["status_updated"]
    finally:
        service.stop()
    # the platform's housekeeping, run by hand: a committed bundle is never cleaned away
    _, out = sdgkit(capsys, "--data", str(platform), "platform", "cleanup", "--json")
    assert json.loads(out) == {"expired_uploads": 0, "nonces": json.loads(out)["nonces"], "abandoned_bundles": 0,
                               "unused_objects": 0}
    _, out = sdgkit(capsys, "--data", str(platform), "platform", "cleanup")
    assert out.startswith("Housekeeping: 0 expired upload(s), 0 abandoned negotiation(s)")
    _, out = sdgkit(capsys, "--data", str(city), "bundle", "verify", str(platform / "bundles" / bundle_id), "--json")
    assert json.loads(out)["ok"]
    # the city's home screen reads its bundles' status: "received", with a receipt the city can check
    _, out = sdgkit(capsys, "--data", str(city), "bundle", "list", "--json")
    (row,) = [r for r in json.loads(out) if r["bundle_id"] == bundle_id]
    assert row["status"] == "received"
    receipt_file = city / "mailbox" / "receipts" / f"{bundle_id}.receipt.json"
    root, _demo, revocations = trust_root_for(city, None, False)
    receipt = proto.verify_receipt(receipt_file.read_text(), root=root, revocations=revocations, bundle_id=bundle_id,
                                   sums_sha256=row["sums_sha256"])
    assert receipt.doc["city_id"] and receipt.current
    with Kit(city) as kit:
        from app.model.models import SealedBundle

        with kit.store.session() as s:
            stored = s.query(SealedBundle).filter_by(bundle_id=bundle_id).one().receipt
    assert stored == receipt.text


def test_a_city_with_a_link_syncs_itself_and_gets_its_review_back(world, service, capsys, monkeypatch):
    from app.sync.client import PlatformClient

    monkeypatch.setenv("SDGKIT_PASSPHRASE", DEMO_PASSPHRASE)
    city = world.city
    _, out = sdgkit(capsys, "--data", str(city), "bundle", "seal", "--stage", "A", "--json")
    bundle_id = json.loads(out)["bundle_id"]
    _, out = sdgkit(capsys, "--data", str(city), "sync", "--url", service.url, "--json")
    sent = {s["bundle_id"] for s in json.loads(out)["sent"]}
    with Kit(city) as kit:
        statuses = {b["bundle_id"]: b["status"] for b in sealed_bundles(kit)}
    assert bundle_id in sent and sent == set(statuses)  # everything the city sealed, the new one too
    assert set(statuses.values()) == {"received"}
    assert (city / "mailbox" / "receipts" / f"{bundle_id}.receipt.json").is_file()
    with PlatformClient(service.url, world.panel_key.signing_key) as panel:
        panel.post_result(bundle_id, b'{"status": "in_review"}', kind="status", name="status.json")
    _, out = sdgkit(capsys, "--data", str(city), "sync", "--json")  # the address was remembered
    assert [r["kind"] for r in json.loads(out)["results"]] == ["status"]
    with Kit(city) as kit:
        assert {b["bundle_id"]: b["status"] for b in sealed_bundles(kit)}[bundle_id] == "in_review"
    with PlatformClient(service.url, world.panel_key.signing_key) as panel:
        panel.post_result(bundle_id, b"the panel's findings", name="findings.json")
    sdgkit(capsys, "--data", str(city), "sync")
    with Kit(city) as kit:
        assert {b["bundle_id"]: b["status"] for b in sealed_bundles(kit)}[bundle_id] == "feedback"
    assert any(p.name.endswith("findings.json") for p in (city / "mailbox" / "results").iterdir())
