"""The platform's rules, each with the right answer and nothing lost: duplicates, replays, older
and conflicting revisions, unenrolled and revoked keys, other cities' bundles, tus, limits."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import pytest
from sync_support import negotiate_body, signed

from app.bundle import trust as trustmod
from app.bundle.bundle import open_bundle, verify_folder
from app.bundle.utctime import now_utc
from app.sync import protocol as proto
from app.sync.client import ChunkSizer, PlatformClient, SyncPolicy, TransferStats, bundle_small_files
from app.sync.officer import collect, deliver, outbox_overview, sync
from app.sync.outbox import Outbox

API = proto.API
FAST = SyncPolicy(connect_timeout=5, read_timeout=10, write_timeout=10, backoff_base=0.01, backoff_cap=0.05,
                  max_failures=5, seed=7)


def stick_with(world, tmp: Path, *names: str) -> Path:
    stick = tmp / ("stick-" + "-".join(names))
    stick.mkdir(parents=True)
    for n in names:
        shutil.copytree(world.bundles[n], stick / world.bundles[n].name)
    return stick


def send(world, service, tmp, *names):
    collect(world.officer, stick_with(world, tmp, *names))
    return sync(world.officer, world.officer_key, url=service.url, policy=FAST, pull=False)


def row(world, name):
    with Outbox(world.officer) as ob:
        return ob.get(verify_folder(world.bundles[name]).bundle_id)


def bid(world, name):
    return verify_folder(world.bundles[name]).bundle_id


# -- duplicates and replays ----------------------------------------------------------------------


def test_the_same_bytes_twice_give_the_same_receipt_by_any_path(world, service, platform, tmp_path):
    rep = send(world, service, tmp_path, "A1")
    assert len(rep.sent) == 1
    first = row(world, "A1").receipt
    b = bid(world, "A1")
    # the officer's client sends it again (a replay after a lost answer): nothing is uploaded
    stats = TransferStats()
    with PlatformClient(service.url, world.officer_key.signing_key, policy=FAST, stats=stats) as c:
        neg = c.negotiate(world.bundles["A1"], b)
        assert neg["state"] == "committed" and neg["missing"] == [] and neg["receipt"] == first
        assert c.commit(b)["receipt"] == first
    assert stats.body_bytes == 0
    # the city brings the same bundle itself (it travelled by USB and by network): same receipt
    with PlatformClient(service.url, world.city_key.signing_key, policy=FAST) as c:
        assert c.negotiate(world.bundles["A1"], b)["receipt"] == first
        assert c.commit(b)["receipt"] == first
    # collecting and syncing again changes nothing
    again = collect(world.officer, stick_with(world, tmp_path / "again", "A1"))
    assert again.as_dict()["cities"][0]["skipped"] and not again.as_dict()["cities"][0]["collected"]
    rep = sync(world.officer, world.officer_key, url=service.url, policy=FAST, pull=False)
    assert rep.sent == [] and rep.failed == []
    assert platform.commits(b) == 1


def test_a_resubmission_sends_only_the_objects_that_changed(world, service, tmp_path):
    send(world, service, tmp_path, "B1")
    m1, m2 = verify_folder(world.bundles["B1"]).manifest, verify_folder(world.bundles["B2"]).manifest
    new_ids = {o["id"] for o in m2["objects"]} - {o["id"] for o in m1["objects"]}
    with PlatformClient(service.url, world.officer_key.signing_key, policy=FAST) as c:
        neg = c.negotiate(world.bundles["B2"], m2["bundle_id"])
    assert {o["id"] for o in neg["missing"]} == new_ids and neg["current"] is True


def test_an_older_revision_after_a_newer_one_is_kept_and_marked_superseded(world, service, platform, tmp_path):
    send(world, service, tmp_path, "B2")
    rep = send(world, service, tmp_path / "later", "B1")
    assert len(rep.sent) == 1
    root = world.root_key.public_key
    r2 = proto.verify_receipt(row(world, "B2").receipt, root=root)
    r1 = proto.verify_receipt(row(world, "B1").receipt, root=root)
    assert r2.current and not r1.current and r1.doc["superseded_by"] == bid(world, "B2")
    assert platform.commits(bid(world, "B1")) == platform.commits(bid(world, "B2")) == 1
    panel = PlatformClient(service.url, world.panel_key.signing_key, policy=FAST)
    listed = {b["bundle_id"]: b["current"] for b in panel.panel_bundles()}
    panel.close()
    assert listed == {bid(world, "B2"): True, bid(world, "B1"): False}


def test_a_conflicting_revision_is_quarantined_and_nothing_is_lost(world, service, platform, tmp_path):
    send(world, service, tmp_path, "B2")
    rep = send(world, service, tmp_path / "x", "B2x")
    assert rep.failed and rep.failed[0]["state"] == "conflict"
    assert "quarantine" in rep.failed[0]["error"]
    r = row(world, "B2x")
    assert r.state == "conflict" and r.receipt is None
    verify_folder(Outbox(world.officer).abs(r.path))  # still whole in the outbox
    qs = list((world.platform / "quarantine").iterdir())
    assert len(qs) == 1 and (qs[0] / "SHA256SUMS.minisig").is_file()  # the signed evidence of the conflict
    assert platform.commits(bid(world, "B2x")) == 0 and platform.commits(bid(world, "B2")) == 1
    # a second attempt gives the same answer and the same quarantine entry
    with PlatformClient(service.url, world.officer_key.signing_key, policy=FAST) as c:
        with pytest.raises(proto.PlatformRefused) as exc:
            c.negotiate(world.bundles["B2x"], bid(world, "B2x"))
    assert exc.value.error == "conflict" and len(list((world.platform / "quarantine").iterdir())) == 1


def test_other_bytes_under_the_same_bundle_id_are_a_conflict(world, service, tmp_path):
    send(world, service, tmp_path, "A1")
    forged = tmp_path / "forged"
    shutil.copytree(world.bundles["A1"], forged)
    (forged / "README.txt").write_text("changed after sealing, and signed again by the city key\n")
    sums = (forged / "SHA256SUMS").read_text().splitlines()
    digest = hashlib.sha256((forged / "README.txt").read_bytes()).hexdigest()
    sums = [f"{digest}  README.txt" if line.endswith("  README.txt") else line for line in sums]
    data = ("\n".join(sums) + "\n").encode()
    (forged / "SHA256SUMS").write_bytes(data)
    comment = world.city_key.public_key.verify_bytes((world.bundles["A1"] / "SHA256SUMS").read_bytes(),
                                                     (world.bundles["A1"] / "SHA256SUMS.minisig").read_text())
    (forged / "SHA256SUMS.minisig").write_text(world.city_key.signing_key.sign_bytes(data, comment))
    assert verify_folder(forged).bundle_id == bid(world, "A1")
    r = signed(service.url, world.officer_key, "POST", f"{API}/bundles/{bid(world, 'A1')}/negotiate",
               body=negotiate_body(forged))
    assert r.status_code == 409 and r.json()["error"] == "conflict"


# -- keys ------------------------------------------------------------------------------------------


def test_an_unenrolled_key_is_refused_and_nothing_is_recorded(world, service, platform):
    b = bid(world, "A1")
    r = signed(service.url, world.stranger_key, "POST", f"{API}/bundles/{b}/negotiate",
               body=negotiate_body(world.bundles["A1"]))
    assert r.status_code == 401 and r.json()["error"] == "unknown_key"
    for method, path in (("GET", f"{API}/mailbox"), ("GET", f"{API}/trust/revocations.json"),
                         ("POST", f"{API}/bundles/{b}/commit")):
        assert signed(service.url, world.stranger_key, method, path).status_code == 401
    assert signed(service.url, world.stranger_key, "GET", f"{API}/health").status_code == 200
    with pytest.raises(proto.PlatformRefused) as exc:
        with PlatformClient(service.url, world.stranger_key.signing_key, policy=FAST) as c:
            c.negotiate(world.bundles["A1"], b)
    assert exc.value.error == "unknown_key" and "not enrolled" in exc.value.message()
    with platform.session() as s:
        from app.sync.platform_db import PBundle

        assert s.query(PBundle).count() == 0


def _revoke(world, sequence, *keys) -> None:
    """Publish revocation list number ``sequence`` (revoking ``keys``) and install it on the platform."""
    pack = world.base / f"rev-{sequence}"
    entries = [trustmod.Revocation(fingerprint=k.fingerprint, reason="compromised", date=now_utc(), name=k.name)
               for k in keys]
    trustmod.write_signed(pack, trustmod.REVOCATIONS, trustmod.revocations_document(sequence=sequence, entries=entries),
                          world.root_key.signing_key)
    shutil.copy(world.platform / "trust" / "root.pub", pack / "root.pub")
    trustmod.import_trust_pack(pack, world.platform, trustmod.RootPolicy.installed(demo=True))


def test_revoked_keys_are_refused_with_the_reason(world, service, platform, tmp_path):
    collect(world.officer, stick_with(world, tmp_path, "A1"))
    _revoke(world, 2, world.city_key)  # the key that sealed the bundle
    platform._registry_checked = 0  # noqa: SLF001 - do not wait for the 2 s reload check
    rep = sync(world.officer, world.officer_key, url=service.url, policy=FAST, pull=False)
    assert rep.failed and rep.failed[0]["state"] == "refused" and "revoked" in rep.failed[0]["error"]
    r = row(world, "A1")
    assert r.state == "refused" and r.receipt is None
    _revoke(world, 3, world.city_key, world.officer_key)  # now the courier too
    platform._registry_checked = 0  # noqa: SLF001
    r = signed(service.url, world.officer_key, "GET", f"{API}/mailbox")
    assert r.status_code == 403 and r.json()["error"] == "revoked"
    assert platform.commits(bid(world, "A1")) == 0


def test_request_signatures_cannot_be_replayed_altered_or_stale(world, service):
    path = f"{API}/mailbox"
    nonce = "ab" * 16
    assert signed(service.url, world.officer_key, "GET", path, nonce=nonce).status_code == 200
    r = signed(service.url, world.officer_key, "GET", path, nonce=nonce)
    assert r.status_code == 401 and r.json()["error"] == "replayed"
    r = signed(service.url, world.officer_key, "GET", path, ts=time.time() - 3600)
    assert r.status_code == 401 and r.json()["error"] == "clock_skew"
    import httpx

    hdrs = proto.sign_request(world.officer_key.signing_key, "GET", path, {}, proto.EMPTY_SHA256)
    r = httpx.get(service.url + f"{API}/mailbox?city=x", headers=hdrs)  # another path than the one signed
    assert r.status_code == 401 and r.json()["error"] == "bad_signature"
    assert httpx.get(service.url + path).status_code == 401
    body = negotiate_body(world.bundles["A1"])
    r = signed(service.url, world.officer_key, "POST", f"{API}/bundles/{bid(world, 'A1')}/negotiate", body=body,
               body_sha256=proto.sha256_hex(body + b" "))
    assert r.status_code == 400 and r.json()["error"] == "body_hash"


def test_another_citys_key_cannot_read_or_write_this_citys_bundles(world, service, tmp_path):
    send(world, service, tmp_path, "A1")
    b = bid(world, "A1")
    other = world.city2_key
    city = row(world, "A1").city_id
    checks = [
        signed(service.url, other, "GET", f"{API}/bundles/{b}"),
        signed(service.url, other, "POST", f"{API}/bundles/{b}/commit", body=b"{}"),
        signed(service.url, other, "POST", f"{API}/bundles/{b}/negotiate", body=negotiate_body(world.bundles["A1"])),
        signed(service.url, other, "GET", f"{API}/mailbox?city={city}"),
        signed(service.url, other, "GET", f"{API}/bundles/{b}/files/bundle.json"),
        signed(service.url, other, "GET", f"{API}/panel/bundles"),
    ]
    assert [r.status_code for r in checks] == [403] * len(checks), [r.text for r in checks]
    # and its own mailbox is empty, not someone else's
    r = signed(service.url, other, "GET", f"{API}/mailbox")
    assert r.status_code == 200 and r.json()["items"] == []
    # the panel member reads it; the city itself reads its receipt
    assert signed(service.url, world.panel_key, "GET", f"{API}/bundles/{b}/files/bundle.json").status_code == 200
    assert signed(service.url, world.city_key, "GET", f"{API}/bundles/{b}").json()["receipt"] == row(world, "A1").receipt
    # a panel member may not send bundles
    r = signed(service.url, world.panel_key, "POST", f"{API}/bundles/{bid(world, 'B1')}/negotiate",
               body=negotiate_body(world.bundles["B1"]))
    assert r.status_code == 403


# -- tus ---------------------------------------------------------------------------------------------


def test_tus_core_creation_termination_and_expiration(world, service, platform):
    import httpx

    r = httpx.options(service.url + f"{API}/uploads")
    assert r.status_code == 204 and r.headers["tus-version"] == "1.0.0"
    assert set(r.headers["tus-extension"].split(",")) == {"creation", "termination", "expiration"}
    folder = world.bundles["A1"]
    m = verify_folder(folder).manifest
    k = world.officer_key
    assert signed(service.url, k, "POST", f"{API}/bundles/{m['bundle_id']}/negotiate",
                  body=negotiate_body(folder)).status_code == 200
    obj = max(m["objects"], key=lambda o: o["size"])
    meta = f"bundle_id {proto.b64(m['bundle_id'].encode())},object_id {proto.b64(obj['id'].encode())}"
    tus = {"Tus-Resumable": "1.0.0"}
    assert signed(service.url, k, "POST", f"{API}/uploads",
                  headers={"Upload-Length": str(obj["size"]), "Upload-Metadata": meta}).status_code == 412
    r = signed(service.url, k, "POST", f"{API}/uploads",
               headers={**tus, "Upload-Length": str(obj["size"] + 1), "Upload-Metadata": meta})
    assert r.status_code == 400  # not the size bundle.json gives
    r = signed(service.url, k, "POST", f"{API}/uploads",
               headers={**tus, "Upload-Length": str(obj["size"]), "Upload-Metadata": meta})
    assert r.status_code == 201 and "upload-expires" in r.headers
    loc = r.headers["location"]
    data = (folder / obj["segments"][0]["name"]).read_bytes()
    chunk = data[:300_000]
    patch = {**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    assert signed(service.url, k, "PATCH", loc, body=chunk, headers={**patch, "Content-Type": "text/plain"}
                  ).status_code == 415
    assert signed(service.url, k, "PATCH", loc, body=chunk, headers={**patch, "Upload-Offset": "5"}).status_code == 409
    r = signed(service.url, k, "PATCH", loc, body=chunk, headers=patch)
    assert r.status_code == 204 and r.headers["upload-offset"] == "300000"
    r = signed(service.url, k, "HEAD", loc, headers=tus)
    assert r.headers["upload-offset"] == "300000" and r.headers["upload-length"] == str(obj["size"])
    assert r.headers["cache-control"] == "no-store"
    # the same creation again (its answer was lost) goes on with the same upload
    r = signed(service.url, k, "POST", f"{API}/uploads",
               headers={**tus, "Upload-Length": str(obj["size"]), "Upload-Metadata": meta})
    assert r.headers["location"] == loc and r.headers["upload-offset"] == "300000"
    # another key may not touch it
    assert signed(service.url, world.city_key, "HEAD", loc, headers=tus).status_code == 403
    # termination
    assert signed(service.url, k, "DELETE", loc, headers=tus).status_code == 204
    assert signed(service.url, k, "HEAD", loc, headers=tus).status_code == 404
    # expiration: a new upload, then the platform's clock moves past its Upload-Expires
    r = signed(service.url, k, "POST", f"{API}/uploads",
               headers={**tus, "Upload-Length": str(obj["size"]), "Upload-Metadata": meta})
    loc2 = r.headers["location"]
    assert signed(service.url, k, "PATCH", loc2, body=chunk, headers=patch).status_code == 204
    real = platform.clock
    platform.clock = lambda: real() + platform.settings.upload_expiry_seconds + 10
    try:
        r = signed(service.url, k, "HEAD", loc2, headers=tus, ts=platform.clock())
        assert r.status_code == 410
        assert platform.cleanup()["expired_uploads"] == 1
        assert not platform.upload_path(loc2.rsplit("/", 1)[1]).exists()
    finally:
        platform.clock = real


def test_bytes_that_do_not_match_the_object_are_thrown_away_and_asked_for_again(world, service):
    folder = world.bundles["A1"]
    m = verify_folder(folder).manifest
    k = world.officer_key
    signed(service.url, k, "POST", f"{API}/bundles/{m['bundle_id']}/negotiate", body=negotiate_body(folder))
    obj = min(m["objects"], key=lambda o: o["size"])
    meta = f"bundle_id {proto.b64(m['bundle_id'].encode())},object_id {proto.b64(obj['id'].encode())}"
    tus = {"Tus-Resumable": "1.0.0"}
    loc = signed(service.url, k, "POST", f"{API}/uploads", headers={
        **tus, "Upload-Length": str(obj["size"]), "Upload-Metadata": meta}).headers["location"]
    junk = bytes(obj["size"])
    r = signed(service.url, k, "PATCH", loc, body=junk, headers={
        **tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 460 and r.json()["error"] == "object_mismatch"
    neg = signed(service.url, k, "POST", f"{API}/bundles/{m['bundle_id']}/negotiate", body=negotiate_body(folder))
    assert obj["id"] in {o["id"] for o in neg.json()["missing"]}
    r = signed(service.url, k, "POST", f"{API}/bundles/{m['bundle_id']}/commit", body=b"{}")
    assert r.status_code == 409 and obj["id"] in r.json()["missing"]


def test_size_limits_and_quotas_per_key(world, service, platform, tmp_path):
    folder = world.bundles["A1"]
    b = bid(world, "A1")
    size = verify_folder(folder).size
    platform.settings.pending_quota_bytes = size - 1
    r = signed(service.url, world.officer_key, "POST", f"{API}/bundles/{b}/negotiate", body=negotiate_body(folder))
    assert r.status_code == 413 and r.json()["error"] == "quota_exceeded"
    platform.settings.pending_quota_bytes = 1 << 40
    platform.settings.max_bundle_bytes = size - 1
    r = signed(service.url, world.officer_key, "POST", f"{API}/bundles/{b}/negotiate", body=negotiate_body(folder))
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    platform.settings.max_bundle_bytes = 1 << 40
    platform.settings.max_negotiate_bytes = 1000
    r = signed(service.url, world.officer_key, "POST", f"{API}/bundles/{b}/negotiate", body=negotiate_body(folder))
    assert r.status_code == 413
    platform.settings.max_negotiate_bytes = 48 << 20
    platform.settings.max_chunk_bytes = 100_000  # the client's chunk is larger: refused, nothing written
    collect(world.officer, stick_with(world, tmp_path, "A1"))
    rep = sync(world.officer, world.officer_key, url=service.url, policy=FAST, pull=False)
    assert rep.failed and rep.failed[0]["state"] == "refused"
    platform.settings.max_chunk_bytes = 8 << 20
    rep = sync(world.officer, world.officer_key, url=service.url, policy=FAST, pull=False)
    assert len(rep.sent) == 1 and platform.commits(b) == 1


# -- panels, mailbox, trust lists --------------------------------------------------------------


def test_panel_downloads_with_range_and_results_reach_the_citys_stick(world, service, tmp_path):
    send(world, service, tmp_path, "A1")
    b = bid(world, "A1")
    panel = PlatformClient(service.url, world.panel_key.signing_key, policy=FAST)
    (info,) = panel.panel_bundles()
    assert info["bundle_id"] == b
    big = max(info["files"], key=lambda f: f["size"])
    r = signed(service.url, world.panel_key, "GET", f"{API}/bundles/{b}/files/{big['name']}",
               headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and len(r.content) == 100
    assert r.headers["content-range"] == f"bytes 100-199/{big['size']}"
    assert r.content == (world.bundles["A1"] / big["name"]).read_bytes()[100:200]
    r = signed(service.url, world.panel_key, "GET", f"{API}/bundles/{b}/files/{big['name']}",
               headers={"Range": f"bytes={big['size']}-"})
    assert r.status_code == 416
    # a download cut half-way resumes from where it stopped
    out = tmp_path / "review" / "A1"
    partial = out / (big["name"] + ".partial")
    partial.parent.mkdir(parents=True)
    partial.write_bytes((world.bundles["A1"] / big["name"]).read_bytes()[: big["size"] // 2])
    before = panel.stats.requests
    panel.download_bundle(info, out)
    assert verify_folder(out).sums_sha256 == info["sums_sha256"]
    assert panel.stats.requests - before == len(info["files"])
    opened = open_bundle(verify_folder(out), world.panel_key.age_identity, tmp_path / "opened")
    assert opened.files
    # the panel writes back; the officer fetches it and delivers it with the receipt
    panel.post_result(b, json.dumps({"status": "in_review"}).encode(), kind="status", name="status.json")
    panel.post_result(b, b"review results, signed by the panel", name="review-A.json")
    panel.close()
    rep = sync(world.officer, world.officer_key, url=service.url, policy=FAST)
    assert {r["kind"] for r in rep.results} == {"status", "result"}
    assert rep.revocations == 1
    d = deliver(world.officer, world.city).as_dict()
    assert [r["bundle_id"] for r in d["receipts"]] == [b]
    assert len(d["results"]) == 2
    assert (world.city / "mailbox" / "receipts" / f"{b}.receipt.json").read_text() == row(world, "A1").receipt
    assert any(p.name.endswith("review-A.json") for p in (world.city / "mailbox" / "results").iterdir())


def test_trust_and_revocation_lists_are_served_signed(world, service):
    r = signed(service.url, world.officer_key, "GET", f"{API}/trust")
    assert "revocations.json" in r.json()["files"] and "platform-key.json" in r.json()["files"]
    data = signed(service.url, world.officer_key, "GET", f"{API}/trust/revocations.json").content
    sig = signed(service.url, world.officer_key, "GET", f"{API}/trust/revocations.json.minisig").text
    assert trustmod.check_revocations(data, sig, root=world.root_key.public_key).sequence == 1
    data = signed(service.url, world.officer_key, "GET", f"{API}/trust/platform-key.json").content
    sig = signed(service.url, world.officer_key, "GET", f"{API}/trust/platform-key.json.minisig").text
    assert proto.check_platform_key(data, sig, root=world.root_key.public_key).purpose == "receipts"


def test_a_forged_receipt_does_not_count(world, service, tmp_path):
    send(world, service, tmp_path, "A1")
    text = row(world, "A1").receipt
    env = json.loads(text)
    doc = json.loads(proto.unb64(env["receipt"]))
    doc["revision"] = 9
    env["receipt"] = proto.b64(json.dumps(doc).encode())
    with pytest.raises(Exception, match="signature does not match|damaged"):
        proto.verify_receipt(json.dumps(env), root=world.root_key.public_key)
    with pytest.raises(Exception, match="another bundle"):
        proto.verify_receipt(text, root=world.root_key.public_key, bundle_id=bid(world, "B1"))
    other_root = world.stranger_key.public_key
    with pytest.raises(Exception):
        proto.verify_receipt(text, root=other_root)


# -- the client's own rules ----------------------------------------------------------------------


def test_chunk_size_adapts_to_the_link_between_256_kib_and_8_mib():
    s = ChunkSizer(SyncPolicy())
    assert s.size == 1 << 20
    for _ in range(10):
        s.success(s.size, 0.01)  # a fast link: grows (at most doubling) to the cap
    assert s.size == 8 << 20
    s.success(s.size, s.size / 32_000)  # 256 kbit/s = 32 kB/s: 8 s carry 256 kB
    assert s.size == 256 * 1024
    for _ in range(5):
        s.failure()
    assert s.size == 256 * 1024


def test_back_off_is_exponential_with_jitter_and_capped(monkeypatch):
    import app.sync.client as cl

    waits = []
    monkeypatch.setattr(cl, "_wait", lambda cancel, s: waits.append(s))
    c = PlatformClient("http://127.0.0.1:9", world_key(), policy=SyncPolicy(backoff_base=1, backoff_cap=60, seed=3))
    for n in range(1, 10):
        c.backoff(n)
    c.close()
    for n, w in enumerate(waits, start=1):
        d = min(60, 2 ** (n - 1))
        assert d / 2 <= w <= d
    assert len(set(waits)) == len(waits) and max(waits) <= 60


def world_key():
    from app.bundle.minisign import SigningKey

    return SigningKey.generate()


def test_the_bandwidth_cap_holds(world, service, tmp_path):
    collect(world.officer, stick_with(world, tmp_path, "A1"))
    size = verify_folder(world.bundles["A1"]).size
    cap = 8 << 20  # bytes per second
    started = time.monotonic()
    rep = sync(world.officer, world.officer_key, url=service.url, pull=False,
               policy=SyncPolicy(bandwidth_bps=cap, backoff_base=0.01))
    elapsed = time.monotonic() - started
    assert len(rep.sent) == 1
    assert elapsed >= 0.9 * (size - 64 * 1024) / cap, (elapsed, size / cap)


def test_background_sync_sends_in_a_worker_thread_and_reports_back(world, service, tmp_path):
    import threading

    from app.sync.officer import BackgroundSync

    collect(world.officer, stick_with(world, tmp_path, "A1"))
    done = threading.Event()
    seen: list[tuple[int, int]] = []
    bg = BackgroundSync(world.officer, world.officer_key, url=service.url, interval=3600, policy=FAST,
                        progress=lambda d, t, _l: seen.append((d, t)), on_done=lambda _bg: done.set())
    bg.start()
    try:
        assert done.wait(60)
    finally:
        bg.stop()
    assert bg.last_error is None and len(bg.last_report.sent) == 1
    assert seen and seen[-1][0] == seen[-1][1]  # progress reached the total
    assert outbox_overview(world.officer)[0]["status"] == "received"


def test_a_signed_bundle_naming_files_outside_itself_writes_nothing(world, service):
    """Even an enrolled city's key cannot make the platform write outside the bundle's folder."""
    src = world.bundles["A1"]
    files = bundle_small_files(src)
    files["../../escaped.txt"] = b"outside"
    lines = files["SHA256SUMS"].decode().splitlines()
    lines.append(f"{hashlib.sha256(b'outside').hexdigest()}  ../../escaped.txt")
    sums = ("\n".join(sorted(lines, key=lambda ln: ln.split('  ', 1)[1].encode())) + "\n").encode()
    comment = world.city_key.public_key.verify_bytes(files["SHA256SUMS"], files["SHA256SUMS.minisig"].decode())
    files["SHA256SUMS"] = sums
    files["SHA256SUMS.minisig"] = world.city_key.signing_key.sign_bytes(sums, comment).encode()
    body = json.dumps({"files": {n: proto.b64(d) for n, d in files.items()}}).encode()
    r = signed(service.url, world.officer_key, "POST", f"{API}/bundles/{bid(world, 'A1')}/negotiate", body=body)
    assert r.status_code == 422 and r.json()["error"] == "bundle_invalid"
    assert not list(world.platform.parent.rglob("escaped.txt"))


def test_a_bundle_damaged_in_the_outbox_is_not_sent_and_is_collected_again(world, service, tmp_path):
    stick = stick_with(world, tmp_path, "A1")
    collect(world.officer, stick)
    r = row(world, "A1")
    victim = max((p for p in Outbox(world.officer).abs(r.path).rglob("*.age*")), key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    data[1000] ^= 1
    victim.write_bytes(bytes(data))
    rep = sync(world.officer, world.officer_key, url=service.url, policy=FAST, pull=False)
    assert rep.failed[0]["state"] == "damaged" and row(world, "A1").state == "damaged"
    assert not list((world.platform / "uploads").iterdir())  # nothing was sent
    rep2 = collect(world.officer, stick).as_dict()
    assert rep2["cities"][0]["collected"]
    assert len(sync(world.officer, world.officer_key, url=service.url, policy=FAST, pull=False).sent) == 1


def test_abandoned_negotiations_are_cleared_with_their_quota_and_unshared_objects(world, service, platform, tmp_path):
    from app.sync import platform_db as db

    day = 86400
    k, tus = world.officer_key, {"Tus-Resumable": "1.0.0"}
    assert len(send(world, service, tmp_path, "B1").sent) == 1  # committed: never touched by housekeeping
    b1 = verify_folder(world.bundles["B1"]).manifest
    kept = [o["id"] for o in b1["objects"]]
    assert all(platform.object_path(o).is_file() for o in kept)

    # A1 is negotiated and one object sent in full; then nobody comes back to commit it
    folder = world.bundles["A1"]
    m = verify_folder(folder).manifest
    url = f"{API}/bundles/{m['bundle_id']}/negotiate"
    assert signed(service.url, k, "POST", url, body=negotiate_body(folder)).status_code == 200
    obj = max(m["objects"], key=lambda o: o["size"])
    meta = f"bundle_id {proto.b64(m['bundle_id'].encode())},object_id {proto.b64(obj['id'].encode())}"
    r = signed(service.url, k, "POST", f"{API}/uploads",
               headers={**tus, "Upload-Length": str(obj["size"]), "Upload-Metadata": meta})
    data = b"".join((folder / seg["name"]).read_bytes() for seg in obj["segments"])
    r = signed(service.url, k, "PATCH", r.headers["location"], body=data,
               headers={**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 204 and platform.object_path(obj["id"]).is_file()

    def pending_bytes() -> int:
        with platform.session(write=False) as s:
            return sum(b.size for b in s.query(db.PBundle).filter(db.PBundle.state == "pending"))

    assert pending_bytes() == verify_folder(folder).size  # what counts against the officer's quota
    real = platform.clock
    expiry = platform.settings.pending_expiry_seconds
    try:
        assert platform.cleanup()["abandoned_bundles"] == 0  # fresh
        platform.clock = lambda: real() + expiry - day  # a day before it would be abandoned ...
        r = signed(service.url, k, "POST", url, body=negotiate_body(folder), ts=platform.clock())
        assert r.status_code == 200 and obj["id"] not in {o["id"] for o in r.json()["missing"]}  # kept meanwhile
        platform.clock = lambda: real() + expiry + day  # ... the officer came back: not abandoned
        assert platform.cleanup()["abandoned_bundles"] == 0
        platform.clock = lambda: real() + 2 * expiry  # a whole expiry period of quiet since
        rep = platform.cleanup()
    finally:
        platform.clock = real
    assert rep["abandoned_bundles"] == 1 and rep["unused_objects"] == 1
    assert not platform.object_path(obj["id"]).exists() and not (platform.folder / "incoming" / m["bundle_id"]).exists()
    assert pending_bytes() == 0  # the quota it held is free again
    assert all(platform.object_path(o).is_file() for o in kept)
    verify_folder(platform.folder / "bundles" / b1["bundle_id"])  # the committed bundle is whole
    # A1 can be sent again from the start, and is received once
    assert len(send(world, service, tmp_path / "again", "A1").sent) == 1
    assert platform.commits(m["bundle_id"]) == 1


def test_a_bundle_whose_objects_span_several_segments_is_received_whole_and_opens(world, service, platform, tmp_path):
    import os

    from app.bundle.submit import seal_stage
    from app.model.service import Kit

    big = tmp_path / "household-survey.csv"
    big.write_bytes(os.urandom(300_000))  # incompressible: its own object, cut in 64 KiB segments
    with Kit(world.city) as kit:
        req = next(iter(kit.framework.stage("B").requirements()))
        kit.attach_evidence("B", req.id, big, kind="dataset")
        sealed = seal_stage(kit, "B", world.city_key, tmp_path / "stick", segment_size=64 * 1024).path
    m = verify_folder(sealed).manifest
    assert max(len(o["segments"]) for o in m["objects"]) >= 4
    collect(world.officer, sealed.parent)
    rep = sync(world.officer, world.officer_key, url=service.url, policy=FAST, pull=False)
    assert [s["bundle_id"] for s in rep.sent] == [m["bundle_id"]]
    received = platform.folder / "bundles" / m["bundle_id"]
    vb = verify_folder(received)  # every segment is there, at its size and hash, signed list intact
    opened = open_bundle(vb, world.panel_key.age_identity, tmp_path / "opened")
    (f,) = [f for f in opened.files if f.get("original_name") == "household-survey.csv"]
    assert (tmp_path / "opened" / f["path"]).read_bytes() == big.read_bytes()  # the panel gets the same bytes

    # stored once: the segments in the committed bundle are the object's only copy
    for o in m["objects"]:
        if len(o["segments"]) > 1:
            assert not platform.object_path(o["id"]).exists()
            assert platform.folded_segments(o["id"]) == [received / seg["name"] for seg in o["segments"]]
    big_obj = max(m["objects"], key=lambda o: o["size"])  # the survey

    # the next revisions reuse the object: not sent again, placed from those segments -- linked when
    # they are cut the same way, copied when cut otherwise -- and each opens to the same bytes
    for rev, seg_size in ((2, 64 * 1024), (3, 128 * 1024)):
        with Kit(world.city) as kit:
            again = seal_stage(kit, "B", world.city_key, tmp_path / f"stick{rev}", segment_size=seg_size).path
        m2 = verify_folder(again).manifest
        (obj2,) = [o for o in m2["objects"] if o["id"] == big_obj["id"]]
        collect(world.officer, again.parent)
        stats = TransferStats()
        rep = sync(world.officer, world.officer_key, url=service.url, policy=FAST, pull=False, stats=stats)
        assert [x["bundle_id"] for x in rep.sent] == [m2["bundle_id"]]
        assert stats.body_bytes < big_obj["size"]  # the big object did not travel again
        received2 = platform.folder / "bundles" / m2["bundle_id"]
        vb2 = verify_folder(received2)
        same_cut = [s["size"] for s in obj2["segments"]] == [s["size"] for s in big_obj["segments"]]
        first = received2 / obj2["segments"][0]["name"]
        assert first.stat().st_ino == (received / big_obj["segments"][0]["name"]).stat().st_ino or not same_cut
        assert same_cut == (seg_size == 64 * 1024)
        out = tmp_path / f"opened{rev}"
        opened2 = open_bundle(vb2, world.panel_key.age_identity, out)
        (f2,) = [f for f in opened2.files if f.get("original_name") == "household-survey.csv"]
        assert (out / f2["path"]).read_bytes() == big.read_bytes()
