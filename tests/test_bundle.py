"""Submission bundles: the README path, stock tools, and every failure mode of the format notes."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from app.bundle import bundle as bmod
from app.bundle.bundle import open_bundle, verify_folder
from app.bundle.demo_trust import DEMO_PASSPHRASE
from app.bundle.keys import KeySet, Role, load_keyfile
from app.bundle.submit import check_against_ledger, seal_stage, verify_trusted
from app.cli.main import main
from app.errors import BundleError, Cancelled, CryptoError, DiskFullError, IntegrityError, KitError, TrustError
from app.model.service import Kit
from app.progress import CancelToken

STAGE = "B"


def sdgkit(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def sealed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo city with stage B sealed once (copied by each test that changes anything)."""
    base = tmp_path_factory.mktemp("sealed")
    data = base / "data"
    assert main(["--data", str(data), "demo"]) == 0
    with Kit(data) as kit:
        keys = load_keyfile(data / "keys" / "city.key", DEMO_PASSPHRASE)
        seal_stage(kit, STAGE, keys, base / "out")
    return base


@pytest.fixture
def sealed(sealed_template: Path, tmp_path: Path) -> dict[str, Path]:
    shutil.copytree(sealed_template, tmp_path / "s", ignore=shutil.ignore_patterns("kit.lock"))
    data = tmp_path / "s" / "data"
    (bundle,) = list((tmp_path / "s" / "out").iterdir())
    return {"data": data, "bundle": bundle, "tmp": tmp_path}


def reviewer(data: Path, n: int = 1) -> KeySet:
    return load_keyfile(data / "demo" / "panel" / f"reviewer-{n}.key", DEMO_PASSPHRASE)


def city_keys(data: Path) -> KeySet:
    return load_keyfile(data / "keys" / "city.key", DEMO_PASSPHRASE)


def objects_of(bundle: Path) -> list[Path]:
    return sorted((bundle / "objects").rglob("*.age*"))


def largest_object(bundle: Path) -> Path:
    return max(objects_of(bundle), key=lambda p: p.stat().st_size)


# -- the path a new user follows (README) -------------------------------------------------------


def test_demo_to_sealed_verified_opened_bundle_with_the_cli(tmp_path, capsys, monkeypatch):
    data = tmp_path / "city"
    code, out, err = sdgkit(capsys, "--data", str(data), "demo", "--json")
    assert code == 0, err
    demo = json.loads(out)
    for key in ("trust_pack", "panel_identities", "city_key", "passphrase_file", "platform_root_key"):
        assert demo[key], key
    assert Path(demo["trust_pack"], "recipients.json").is_file()
    assert all(Path(p).is_file() for p in demo["panel_identities"])
    monkeypatch.setenv("SDGKIT_PASSPHRASE", Path(demo["passphrase_file"]).read_text().strip())

    code, out, err = sdgkit(capsys, "--data", str(data), "bundle", "seal", "--stage", STAGE, "--json")
    assert code == 0, err
    sealed = json.loads(out)
    path = Path(sealed["path"])
    assert path.parent == data / "bundles" and path.name.startswith(f"SDGKIT-Amani-demo-city-{STAGE}-r1-")

    code, out, err = sdgkit(capsys, "--data", str(data), "bundle", "verify", str(path), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] and report["demo"] and report["revision"] == 1 and report["stage"] == STAGE
    assert report["signer_fingerprint"] == demo["city_fingerprint"]

    out_dir = tmp_path / "opened"
    code, out, err = sdgkit(capsys, "--data", str(tmp_path / "panel"), "bundle", "open", str(path), "--identity",
                            demo["panel_identities"][0], "--out", str(out_dir), "--trust", demo["trust_pack"],
                            "--demo", "--json")
    assert code == 0, err
    sub = json.loads((out_dir / "submission.json").read_text(encoding="utf-8"))
    with Kit(data) as kit:
        answers = kit.answers(STAGE)
        evidence = kit.list_evidence(STAGE)
    assert sub["content"]["answers"] == json.loads(json.dumps(answers))
    assert sub["content"]["framework"]["version"]
    assert len(sub["files"]) == len(evidence) > 0
    for f in sub["files"]:
        p = out_dir / f["path"]
        assert hashlib.sha256(p.read_bytes()).hexdigest() == f["sha256"]
    assert {f["original_name"] for f in sub["files"]} == {e.name for e in evidence}

    code, out, err = sdgkit(capsys, "--data", str(data), "bundle", "inspect", str(path), "--json")
    public = json.loads(out)
    text = json.dumps(public)
    assert "answers" not in public and not any(e.name in text for e in evidence)


# -- standard tools --------------------------------------------------------------------------------


def test_stock_minisign_and_sha256sum_check_the_bundle(sealed):
    b = sealed["bundle"]
    r = subprocess.run(["minisign", "-V", "-p", "city.pub", "-m", "SHA256SUMS"], cwd=b, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "sdgkit-bundle fmt=1" in r.stdout
    assert subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=b, capture_output=True).returncode == 0
    sums = b / "SHA256SUMS"
    data = bytearray(sums.read_bytes())
    data[10] ^= 0x01
    sums.write_bytes(bytes(data))
    r = subprocess.run(["minisign", "-V", "-p", "city.pub", "-m", "SHA256SUMS"], cwd=b, capture_output=True, text=True)
    assert r.returncode != 0


def test_objects_decrypt_with_stock_age_and_pyrage(sealed):
    pyrage = pytest.importorskip("pyrage")
    ident = reviewer(sealed["data"]).age_identity.to_string()
    obj = largest_object(sealed["bundle"])
    plain = pyrage.decrypt(obj.read_bytes(), [pyrage.x25519.Identity.from_str(ident)])
    key = sealed["tmp"] / "id.txt"
    key.write_text(ident + "\n")
    r = subprocess.run(["age", "-d", "-i", str(key), str(obj)], capture_output=True)
    assert r.returncode == 0 and r.stdout == plain


def test_segments_below_the_limit_and_stock_age_reads_their_concatenation(sealed, capsys, monkeypatch):
    data = sealed["data"]
    big = sealed["tmp"] / "survey.csv"
    big.write_bytes(b"ward,households\n" + b"Kisima,4200\n" * 100_000)  # 1.2 MB: an object of its own
    with Kit(data) as kit:
        req = next(iter(kit.framework.stage(STAGE).requirements()))
        kit.attach_evidence(STAGE, req.id, big, kind="dataset")
        res = seal_stage(kit, STAGE, city_keys(data), sealed["tmp"] / "seg", segment_size=64 * 1024)
    by_object: dict[str, list[Path]] = {}
    for p in sorted(res.path.rglob("*.age.0*")):
        by_object.setdefault(p.name.split(".")[0], []).append(p)
    segs = max(by_object.values(), key=len)
    assert len(segs) >= 18 and all(p.stat().st_size <= 64 * 1024 for p in segs)
    vb = verify_folder(res.path)
    key = sealed["tmp"] / "id.txt"
    key.write_text(reviewer(data).age_identity.to_string() + "\n")
    cat = b"".join(p.read_bytes() for p in segs)
    r = subprocess.run(["age", "-d", "-i", str(key)], input=cat, capture_output=True)
    assert r.returncode == 0 and r.stdout == big.read_bytes()
    opened = open_bundle(vb, reviewer(data).age_identity, sealed["tmp"] / "o")
    assert any(f["original_name"] == "survey.csv" for f in opened.files)
    # a misconfigured segment size is capped below FAT32's limit
    assert bmod.MAX_SEGMENT_SIZE < 2**31 and min(max(2**40, bmod.MIN_SEGMENT_SIZE), bmod.MAX_SEGMENT_SIZE) < 2**31


# -- revisions -----------------------------------------------------------------------------------


def test_resubmission_reuses_unchanged_objects_and_links_the_previous(sealed):
    data = sealed["data"]
    with Kit(data) as kit:
        first = verify_folder(sealed["bundle"])
        req = next(iter(kit.framework.stage(STAGE).requirements()))
        fld = next(f for f in req.fields if f.type == "text")
        kit.set_answer(STAGE, req.id, fld.id, "Updated after the panel asked for more information, with detail.")
        second = seal_stage(kit, STAGE, city_keys(data), sealed["tmp"] / "r2")
    m2 = verify_folder(second.path).manifest
    assert m2["revision"] == 2 and m2["submission_id"] == first.submission_id
    assert m2["supersedes"] == first.sums_sha256
    assert all(o.reused for o in second.objects) and second.encrypted_bytes == 0
    assert {o["id"] for o in m2["objects"]} - {o["id"] for o in first.manifest["objects"]} == {m2["inner_manifest"]}

    ledger: dict = {}
    tb2 = verify_trusted(second.path, data_dir=data)
    assert check_against_ledger(ledger, tb2) == "new"
    ledger.setdefault(tb2.verified.submission_id, {})["2"] = tb2.verified.sums_sha256
    assert check_against_ledger(ledger, tb2) == "same"
    with pytest.raises(BundleError, match="older than revision 2"):
        check_against_ledger(ledger, verify_trusted(sealed["bundle"], data_dir=data))
    ledger[tb2.verified.submission_id]["2"] = "0" * 64
    with pytest.raises(BundleError, match="Conflict"):
        check_against_ledger(ledger, tb2)


# -- failure modes: each a specific error, nothing written ---------------------------------------


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x40
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage,error,message", [
    ("truncate_object", IntegrityError, "truncated or padded"),
    ("truncate_chunk_boundary", IntegrityError, "truncated or padded"),
    ("flip_object", IntegrityError, "altered or damaged"),
    ("flip_manifest", IntegrityError, "bundle.json"),
    ("flip_sums", CryptoError, "signature does not match"),
    ("flip_sig", CryptoError, "SHA256SUMS.minisig"),
    ("missing_sig", BundleError, "incomplete"),
    ("missing_sums", BundleError, "incomplete"),
    ("missing_object", BundleError, "incomplete"),
    ("extra_file", BundleError, "does not cover"),
    ("resigned_manifest", CryptoError, "signature does not match"),
    ("unsorted_sums", CryptoError, "signature does not match"),
    ("not_a_bundle", BundleError, "not a submission bundle"),
])
def test_damaged_bundles_give_specific_errors(sealed, damage, error, message):
    b = sealed["bundle"]
    obj = largest_object(b)
    if damage == "truncate_object":
        obj.write_bytes(obj.read_bytes()[:-7])
    elif damage == "truncate_chunk_boundary":
        obj.write_bytes(obj.read_bytes()[:(obj.stat().st_size // 65552) * 65552 or 200])
    elif damage == "flip_object":
        flip(obj, obj.stat().st_size // 2)
    elif damage == "flip_manifest":
        flip(b / "bundle.json", 40)
    elif damage == "flip_sums":
        flip(b / "SHA256SUMS", 3)
    elif damage == "flip_sig":
        lines = (b / "SHA256SUMS.minisig").read_text().splitlines()
        lines[1] = lines[1][:10] + ("A" if lines[1][10] != "A" else "B") + lines[1][11:]
        (b / "SHA256SUMS.minisig").write_text("\n".join(lines) + "\n")
    elif damage == "missing_sig":
        (b / "SHA256SUMS.minisig").unlink()
    elif damage == "missing_sums":
        (b / "SHA256SUMS").unlink()
    elif damage == "missing_object":
        obj.unlink()
    elif damage == "extra_file":
        (b / "objects" / "notes.txt").write_text("added later")
    elif damage == "resigned_manifest":  # edited manifest, recomputed SHA256SUMS, old signature
        m = json.loads((b / "bundle.json").read_text())
        m["revision"] = 9
        (b / "bundle.json").write_text(json.dumps(m))
        entries = {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in (b / "SHA256SUMS").read_text().splitlines()}
        entries["bundle.json"] = hashlib.sha256((b / "bundle.json").read_bytes()).hexdigest()
        (b / "SHA256SUMS").write_bytes(bmod.sums_text(entries))
    elif damage == "unsorted_sums":
        lines = (b / "SHA256SUMS").read_text().splitlines()
        (b / "SHA256SUMS").write_text("\n".join(reversed(lines)) + "\n")
    elif damage == "not_a_bundle":
        shutil.rmtree(b)
        b.mkdir()
        (b / "holiday.jpg").write_bytes(b"\xff\xd8not a bundle")
    with pytest.raises(error) as exc:
        verify_trusted(b, data_dir=sealed["data"])
    assert message in exc.value.message("en")
    for lang in ("fr", "ar", "zh"):
        assert exc.value.message(lang)  # a translated line exists (content checked by test_i18n)


def test_swapped_segments_are_caught(sealed):
    data = sealed["data"]
    big = sealed["tmp"] / "plan.csv"
    big.write_bytes(b"x" * 1_300_000 + b"\n")
    with Kit(data) as kit:
        req = next(iter(kit.framework.stage(STAGE).requirements()))
        kit.attach_evidence(STAGE, req.id, big, kind="dataset")
        res = seal_stage(kit, STAGE, city_keys(data), sealed["tmp"] / "seg", segment_size=64 * 1024)
    s0, s1 = sorted(res.path.rglob("*.age.000"))[0], sorted(res.path.rglob("*.age.001"))[0]
    tmp = s0.with_suffix(".tmp")
    s0.rename(tmp)
    s1.rename(s0)
    tmp.rename(s1)
    with pytest.raises(IntegrityError):
        verify_folder(res.path)


def test_a_key_outside_the_recipients_cannot_open_and_nothing_is_written(sealed):
    vb = verify_folder(sealed["bundle"])
    stranger = KeySet.generate(Role.PANEL_MEMBER, "Another panel's reviewer")
    out = sealed["tmp"] / "opened"
    with pytest.raises(CryptoError, match="not sealed for your key"):
        open_bundle(vb, stranger.age_identity, out)
    assert not out.exists() and not list(sealed["tmp"].glob(".opened*"))


def test_stripped_and_resigned_bundle_is_caught_by_enrolment_and_by_the_inner_signature(sealed):
    b = sealed["bundle"]
    attacker = KeySet.generate(Role.CITY, "Mallory")
    m = json.loads((b / "bundle.json").read_text())
    m["submitter"] = {"ed25519": attacker.public_key.to_base64(), "fingerprint": attacker.fingerprint,
                      "key_id": attacker.public_key.key_id_hex}
    (b / "bundle.json").write_bytes(bmod.document_bytes(m))
    (b / "city.pub").write_text(attacker.public_key.to_string())
    entries = {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in (b / "SHA256SUMS").read_text().splitlines()}
    for name in ("bundle.json", "city.pub"):
        entries[name] = hashlib.sha256((b / name).read_bytes()).hexdigest()
    sums = bmod.sums_text(entries)
    (b / "SHA256SUMS").write_bytes(sums)
    comment = bmod.trusted_comment(m["bundle_id"], m["submission_id"], m["revision"], m["stage"], m["city_id"])
    (b / "SHA256SUMS.minisig").write_text(attacker.signing_key.sign_bytes(sums, comment))
    vb = verify_folder(b)  # structurally a fine bundle, signed by Mallory...
    with pytest.raises(TrustError, match="enrols the key"):
        verify_trusted(b, data_dir=sealed["data"])  # ...whom no mechanism enrolled
    with pytest.raises(CryptoError, match="inner signature"):
        open_bundle(vb, reviewer(sealed["data"]).age_identity, sealed["tmp"] / "o")  # and the inside says so
    assert not (sealed["tmp"] / "o").exists()


def test_revoked_city_key_is_refused(sealed, capsys, monkeypatch):
    data = sealed["data"]
    monkeypatch.setenv("SDGKIT_PASSPHRASE", DEMO_PASSPHRASE)
    sec = ["--data", str(data / "demo" / "secretariat"), "keys"]
    root_key = str(data / "demo" / "secretariat" / "platform_root.key")
    fp = city_keys(data).fingerprint
    assert sdgkit(capsys, *sec, "revoke", fp, "--reason", "lost", "--name", "Amani city")[0] == 0
    code, _, err = sdgkit(capsys, *sec, "publish-revocations", "--key-file", root_key, "--pack", str(sealed["tmp"] / "rev"))
    assert code == 0, err
    shutil.copy(data / "demo" / "trust-pack" / "root.pub", sealed["tmp"] / "rev" / "root.pub")
    officer = sealed["tmp"] / "officer"
    assert sdgkit(capsys, "--data", str(officer), "keys", "trust-import", str(data / "demo" / "trust-pack"), "--demo")[0] == 0
    assert verify_trusted(sealed["bundle"], data_dir=officer).summary()["ok"]
    assert sdgkit(capsys, "--data", str(officer), "keys", "trust-import", str(sealed["tmp"] / "rev"), "--demo")[0] == 0
    code, out, err = sdgkit(capsys, "--data", str(officer), "bundle", "verify", str(sealed["bundle"]))
    assert code == 4 and "revoked" in out


def test_sealing_refuses_unsigned_or_altered_recipients(sealed):
    data = sealed["data"]
    out = sealed["tmp"] / "refused"
    rec = data / "trust" / "recipients.json"
    for damage in ("unsigned", "altered"):
        original = rec.read_bytes()
        sig = rec.with_name("recipients.json.minisig")
        saved_sig = sig.read_bytes()
        if damage == "unsigned":
            sig.unlink()
        else:
            rec.write_bytes(original.replace(b"DEMO reviewer 1", b"DEMO reviewer X"))
        with Kit(data) as kit, pytest.raises(TrustError):
            seal_stage(kit, STAGE, city_keys(data), out)
        assert not out.exists() or not list(out.iterdir())
        rec.write_bytes(original)
        sig.write_bytes(saved_sig)


def test_path_traversal_inside_a_signed_bundle_writes_nothing(sealed, monkeypatch):
    data = sealed["data"]
    monkeypatch.setattr(bmod, "check_member_path", lambda p: p)  # a hostile sealer skips the rule
    monkeypatch.setattr(bmod, "check_no_duplicates", lambda ps: None)
    evil = sealed["tmp"] / "e.txt"
    evil.write_text("owned")
    from app.bundle.bundle import SealRequest, SourceFile, seal

    pack = json.loads((data / "trust" / "recipients.json").read_text())
    recips = [m["age_recipient"] for m in pack["members"]] + [pack["recovery"]["age_recipient"]]
    req = SealRequest(city_id="x", stage=STAGE, submission_id="a" * 32, revision=1, supersedes=None, content={},
                      files=(SourceFile(path="evidence/../../escaped.txt", source=evil,
                                        sha256=hashlib.sha256(b"owned").hexdigest(), size=5, mime="text/plain"),),
                      recipients=tuple(recips), panel_id="demo-panel", trust_files={})
    res = seal(req, sealed["tmp"] / "evil", city_keys(data).signing_key)
    monkeypatch.undo()
    vb = verify_folder(res.path)
    out = sealed["tmp"] / "deep" / "opened"
    with pytest.raises(BundleError, match="not allowed"):
        open_bundle(vb, reviewer(data).age_identity, out)
    assert not (sealed["tmp"] / "escaped.txt").exists() and not out.exists()


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "C:/Windows/x", "a/b:stream", "evidence/CON.txt",
                                 "evidence/x.", "evidence/x ", "evidence/a\\b", "evidence/\x01", "e/" + "x" * 300,
                                 "evidence/cafe\u0301.pdf"])
def test_path_rules(bad):
    with pytest.raises(BundleError):
        bmod.check_member_path(bad)


def test_case_and_normalisation_duplicates_are_refused():
    with pytest.raises(BundleError):
        bmod.check_no_duplicates(["evidence/Plan.pdf", "evidence/plan.PDF"])
    with pytest.raises(BundleError):
        bmod.check_no_duplicates(["evidence/caf\u00e9.pdf", "evidence/CAF\u00c9.pdf"])


def test_oversized_header_is_refused_before_key_agreement(sealed):
    vb = verify_folder(sealed["bundle"])
    from app.bundle import age

    limits = bmod.ReadLimits(age=age.Limits(max_stanzas=1))
    with pytest.raises(age.AgeError):
        open_bundle(vb, reviewer(sealed["data"]).age_identity, sealed["tmp"] / "o", limits=limits)
    assert not (sealed["tmp"] / "o").exists()


def test_full_disk_at_the_final_flush_leaves_nothing(sealed, monkeypatch):
    data = sealed["data"]
    real = bmod._write_file

    def failing(root, name, payload):
        if name == bmod.SUMS_SIG:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(root, name, payload)

    monkeypatch.setattr(bmod, "_write_file", failing)
    out = sealed["tmp"] / "full"
    with Kit(data) as kit, pytest.raises(DiskFullError):
        seal_stage(kit, STAGE, city_keys(data), out)
    assert list(out.iterdir()) == []
    with Kit(data) as kit:
        from app.bundle.submit import sealed_bundles

        assert [b["revision"] for b in sealed_bundles(kit)] == [1]  # nothing recorded either


def test_cancel_mid_seal_leaves_nothing(sealed):
    data = sealed["data"]
    token = CancelToken()
    seen = []

    def progress(done, total, label):
        seen.append(done)
        if len(seen) == 2:
            token.cancel()

    out = sealed["tmp"] / "cancelled"
    with Kit(data) as kit, pytest.raises(Cancelled):
        seal_stage(kit, STAGE, city_keys(data), out, progress=progress, cancel=token)
    assert list(out.iterdir()) == []


def test_wrong_passphrase_is_one_clear_line(sealed, capsys, monkeypatch):
    monkeypatch.setenv("SDGKIT_PASSPHRASE", "not the passphrase at all")
    code, out, err = sdgkit(capsys, "--data", str(sealed["data"]), "bundle", "seal", "--stage", STAGE)
    assert code != 0 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


# -- property-based: the reader never crashes, whatever the bytes ---------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@pytest.fixture(scope="module")
def fuzz_base(sealed_template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("fuzz")
    (bundle,) = list((sealed_template / "out").iterdir())
    shutil.copytree(bundle, base / "pristine")
    return {"pristine": base / "pristine", "work": base / "work", "data": sealed_template / "data"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(min_value=0, max_value=10_000), where=st.integers(min_value=0, max_value=1 << 30),
       how=st.sampled_from(["flip", "truncate", "append", "zero", "delete"]), value=st.integers(1, 255))
def test_reader_never_crashes_on_damaged_bundles(fuzz_base, which, where, how, value):
    work = fuzz_base["work"]
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(fuzz_base["pristine"], work)
    files = sorted(p for p in work.rglob("*") if p.is_file())
    target = files[which % len(files)]
    data = bytearray(target.read_bytes())
    original = bytes(data)
    if how == "flip" and data:
        data[where % len(data)] ^= value
    elif how == "truncate":
        data = data[: where % (len(data) + 1)]
    elif how == "append":
        data += bytes([value]) * (1 + where % 100)
    elif how == "zero":
        data = bytearray()
    if how == "delete":
        target.unlink()
    else:
        target.write_bytes(bytes(data))
    changed = how == "delete" or bytes(data) != original
    try:
        vb = verify_folder(work)
    except KitError:
        return  # a clear, translated refusal
    # the only harmless changes are to files no signature covers: the minisig's untrusted comment
    assert not changed or target.name == "SHA256SUMS.minisig"
    try:
        open_bundle(vb, reviewer(fuzz_base["data"]).age_identity, work.parent / f"out-{which}-{how}")
    except KitError:
        pass


@given(st.text(max_size=300))
def test_sums_parser_and_path_rules_never_crash(text):
    for fn in (lambda: bmod._parse_sums(text.encode("utf-8", "surrogatepass")), lambda: bmod.check_member_path(text)):
        try:
            fn()
        except KitError:
            pass


def test_import_path_hashes_objects_while_decrypting_and_keeps_nothing_on_a_flip(sealed):
    """verify(hash_objects=False) + open: a flipped ciphertext byte fails the open and leaves nothing."""
    obj = largest_object(sealed["bundle"])
    flip(obj, obj.stat().st_size - 3)  # inside the last chunk's tag: the AEAD or the hash catches it
    vb = verify_folder(sealed["bundle"], hash_objects=False)
    out = sealed["tmp"] / "opened"
    with pytest.raises(KitError):
        open_bundle(vb, reviewer(sealed["data"]).age_identity, out)
    assert not out.exists() and not list(sealed["tmp"].glob(".opened*"))
    with pytest.raises(IntegrityError):
        verify_folder(sealed["bundle"])  # the full check names the damage without any key


def test_the_hash_thread_gives_the_digests_of_every_byte_fed_in_order_across_streams():
    import random

    rng = random.Random(7)
    hasher = bmod._HashThread()
    try:
        for _round in range(3):
            seg, whole, plain = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
            want_seg, want_whole, want_plain = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
            for _ in range(200):
                a = rng.randbytes(rng.choice((1, 100, 65_552, 300_000, bmod.HASH_BATCH + 3)))
                b = rng.randbytes(rng.choice((0, 16, 65_536)))
                hasher.update(seg, whole, memoryview(a))  # one block fed to two hash objects
                hasher.update(plain, b)
                want_seg.update(a)
                want_whole.update(a)
                want_plain.update(b)
            hasher.sync()
            assert seg.hexdigest() == want_seg.hexdigest()
            assert whole.hexdigest() == want_whole.hexdigest()
            assert plain.hexdigest() == want_plain.hexdigest()
    finally:
        hasher.close()


def test_segment_reader_lines_and_blocks_match_the_joined_segments_and_are_all_hashed(tmp_path):
    import random

    rng = random.Random(3)
    data = b"".join(rng.choice((b"-> X25519 abc\n", b"\n", b"x" * 70 + b"\n", rng.randbytes(900))) for _ in range(400))
    for cuts in ([len(data) // 2], sorted(rng.sample(range(1, len(data)), 7)), [5, 6, 7]):
        bounds = [0, *cuts, len(data)]
        paths = []
        for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
            p = tmp_path / f"seg{len(cuts)}.{i:03d}"
            p.write_bytes(data[a:b])
            paths.append(p)
        expected = [hashlib.sha256(data[a:b]).hexdigest() for a, b in zip(bounds, bounds[1:])]
        whole = hashlib.sha256(data).hexdigest()
        ref = io.BytesIO(data)
        r = bmod._SegmentReader(paths, expected, whole)
        got = bytearray()
        for step in range(10_000):
            size = rng.choice((-1, 3, 100))
            if step % 3 == 0:
                buf = bytearray(rng.choice((1, 50, 70_000)))
                n = r.readinto(buf)
                assert bytes(buf[:n]) == ref.read(n)
                chunk = bytes(buf[:n])
            else:
                chunk = r.readline(size)
                assert chunk == ref.readline(size)
            if not chunk:
                break
            got += chunk
        assert bytes(got) == data  # and reaching the end checked every segment's and the whole's hash
        r.close()
        bad = bmod._SegmentReader(paths, expected, "0" * 64)
        with pytest.raises(IntegrityError):
            while bad.readline():
                pass


def test_a_packs_members_are_each_checked_as_they_are_unpacked(tmp_path):
    import tarfile

    def pack(path, members):
        with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tf:
            for name, data in members:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))

    good, other = b"ward survey 2024\n", b"something else\n"
    gid, oid = hashlib.sha256(good).hexdigest(), hashlib.sha256(other).hexdigest()
    out = {}
    pack(tmp_path / "ok.tar", [(gid, good)])
    bmod._unpack(tmp_path / "ok.tar", tmp_path, [gid], out)
    assert out[gid].read_bytes() == good
    pack(tmp_path / "lie.tar", [(gid, other)])  # a member whose bytes are not its name's hash
    (tmp_path / "x").mkdir()
    with pytest.raises(IntegrityError):
        bmod._unpack(tmp_path / "lie.tar", tmp_path / "x", [gid], {})
    pack(tmp_path / "extra.tar", [(gid, good), (oid, other)])  # a member the manifest does not list
    (tmp_path / "y").mkdir()
    (tmp_path / "z").mkdir()
    with pytest.raises(BundleError):
        bmod._unpack(tmp_path / "extra.tar", tmp_path / "y", [gid], {})
    with pytest.raises(BundleError):  # a listed member missing
        bmod._unpack(tmp_path / "ok.tar", tmp_path / "z", [gid, oid], {})
