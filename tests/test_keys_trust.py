"""Key files, public cards and signed trust documents: every way they must refuse to be fooled."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from app.bundle import trust
from app.bundle.age import X25519Recipient, decrypt_bytes, encrypt_bytes
from app.bundle.keys import (DEFAULT_KDF, PASSPHRASE_ACCEPTABLE, PASSPHRASE_GUESSABLE, PASSPHRASE_STRONG,
                             PASSPHRASE_TOO_SHORT, KdfParams, KeySet, PublicCard, Role, change_passphrase,
                             keyfile_bytes, load_keyfile, passphrase_strength, read_keyfile_info, write_new_keyfile)
from app.bundle.minisign import PublicKey, SigningKey
from app.bundle.trust import (ENROLMENT, MECHANISM, RECIPIENTS, REVOCATIONS, ROOT_PUB, SIG_SUFFIX, Revocation,
                              RootPolicy, enrolment_document, import_trust_pack, load_installed, load_trust_pack,
                              mechanism_document, recipients_document, revocations_document, write_signed)
from app.bundle.utctime import now_utc
from app.errors import CryptoError, TrustError, UserInputError, ValidationError

FAST_KDF = KdfParams(memory_kib=8 * 1024, iterations=1, lanes=1)
PASS = "river lamp cloud stone"
NEW_PASS = "quiet orange bicycle harbour"
NOW = now_utc()
DAY = timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# key files


@pytest.fixture(scope="module")
def city() -> KeySet:
    return KeySet.generate(Role.CITY, "Testville")


def test_key_file_round_trip_keeps_secrets_out_of_the_clear(tmp_path, city):
    path = write_new_keyfile(tmp_path / "city.key", city, PASS, kdf=FAST_KDF)
    text = path.read_text()
    assert "AGE-SECRET-KEY" not in text.upper()
    assert city.age_identity.to_string() not in text
    info = read_keyfile_info(path)
    assert (info.role, info.name, info.fingerprint, info.age_recipient) == \
        (Role.CITY, "Testville", city.fingerprint, city.age_recipient)
    opened = load_keyfile(path, PASS)
    assert opened.signing_key.private_seed() == city.signing_key.private_seed()
    assert opened.signing_key.key_id == city.signing_key.key_id
    assert opened.age_identity.to_string() == city.age_identity.to_string()
    assert json.loads(text)["kdf"] == "argon2id"


def test_wrong_passphrase_is_a_clear_crypto_error(tmp_path, city):
    path = write_new_keyfile(tmp_path / "city.key", city, PASS, kdf=FAST_KDF)
    with pytest.raises(CryptoError, match="passphrase is wrong"):
        load_keyfile(path, PASS + "x")


def test_public_parts_cannot_be_swapped(tmp_path, city):
    path = write_new_keyfile(tmp_path / "city.key", city, PASS, kdf=FAST_KDF)
    other = KeySet.generate(Role.CITY, "Elsewhere")
    doc = json.loads(path.read_text())
    for field, value in (("name", "Othertown"), ("role", "officer"),
                         ("age_recipient", other.age_recipient)):
        tampered = dict(doc, **{field: value})
        path.write_text(json.dumps(tampered))
        with pytest.raises(CryptoError, match="was altered"):
            load_keyfile(path, PASS)
    tampered = dict(doc, ed25519=other.public_key.to_base64(), fingerprint=other.fingerprint)
    path.write_text(json.dumps(tampered))
    with pytest.raises(CryptoError, match="was altered"):
        load_keyfile(path, PASS)


def test_hostile_kdf_settings_are_refused_before_deriving(tmp_path, city):
    path = write_new_keyfile(tmp_path / "city.key", city, PASS, kdf=FAST_KDF)
    doc = json.loads(path.read_text())
    doc["kdf_params"]["memory_kib"] = 64 * 1024 * 1024
    path.write_text(json.dumps(doc))
    with pytest.raises(CryptoError, match="out of range"):
        load_keyfile(path, PASS)


def test_default_kdf_is_the_measured_argon2id_setting(tmp_path, city):
    assert DEFAULT_KDF == KdfParams(memory_kib=262144, iterations=3, lanes=4)
    path = write_new_keyfile(tmp_path / "city.key", city, PASS)
    assert json.loads(path.read_text())["kdf_params"] == {"memory_kib": 262144, "iterations": 3, "lanes": 4}


def test_key_files_are_never_overwritten(tmp_path, city):
    path = write_new_keyfile(tmp_path / "city.key", city, PASS, kdf=FAST_KDF)
    before = path.read_bytes()
    with pytest.raises(UserInputError, match="already exists"):
        write_new_keyfile(path, KeySet.generate(Role.CITY, "Other"), PASS, kdf=FAST_KDF)
    assert path.read_bytes() == before


@pytest.mark.parametrize("weak", ["short1!", "aaaaaaaaaaaaaa", "password1234", "1234567890", "qwertyuiop12",
                                  "abcdefghijkl"])
def test_weak_passphrases_are_refused(tmp_path, city, weak):
    score, hint = passphrase_strength(weak)
    assert score < 2 and hint in (PASSPHRASE_TOO_SHORT, PASSPHRASE_GUESSABLE)
    with pytest.raises(ValidationError):
        write_new_keyfile(tmp_path / "city.key", city, weak, kdf=FAST_KDF)
    assert not (tmp_path / "city.key").exists()


def test_passphrase_strength_scores_and_hints():
    assert passphrase_strength("Ab1!")[1] == PASSPHRASE_TOO_SHORT
    assert passphrase_strength("river lamp cloud stone") == (4, PASSPHRASE_STRONG)
    score, hint = passphrase_strength("kettle7harbor")
    assert 2 <= score <= 3 and hint == PASSPHRASE_ACCEPTABLE
    assert passphrase_strength("مدينة المستقبل الخضراء")[0] == 4  # Arabic words count as strong
    assert passphrase_strength("Password1234")[0] < passphrase_strength("Pzwq8rk3Lm0x")[0]


def test_passphrase_change(tmp_path, city):
    path = write_new_keyfile(tmp_path / "city.key", city, PASS, kdf=FAST_KDF)
    change_passphrase(path, PASS, NEW_PASS, kdf=FAST_KDF)
    with pytest.raises(CryptoError, match="passphrase is wrong"):
        load_keyfile(path, PASS)
    assert load_keyfile(path, NEW_PASS).signing_key.private_seed() == city.signing_key.private_seed()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["city.key"]


def test_passphrase_change_refuses_wrong_old_or_weak_new_and_leaves_the_file(tmp_path, city):
    path = write_new_keyfile(tmp_path / "city.key", city, PASS, kdf=FAST_KDF)
    before = path.read_bytes()
    with pytest.raises(CryptoError):
        change_passphrase(path, "not the passphrase", NEW_PASS, kdf=FAST_KDF)
    with pytest.raises(ValidationError):
        change_passphrase(path, PASS, "1234567890", kdf=FAST_KDF)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["city.key"]


def test_interrupted_passphrase_change_completes_with_the_new_passphrase(tmp_path, city):
    path = write_new_keyfile(tmp_path / "city.key", city, PASS, kdf=FAST_KDF)
    # the change stopped after the new file was written and checked, before it replaced the old one
    (tmp_path / "city.key.new").write_bytes(keyfile_bytes(city, NEW_PASS, kdf=FAST_KDF))
    assert load_keyfile(path, PASS).fingerprint == city.fingerprint  # the old one still opens
    assert load_keyfile(path, NEW_PASS).fingerprint == city.fingerprint  # ...and the new one finishes the change
    assert not (tmp_path / "city.key.new").exists()
    with pytest.raises(CryptoError):
        load_keyfile(path, PASS)


def test_public_card_is_self_signed_and_checked(tmp_path, city):
    card = city.card()
    data = card.to_bytes()
    again = PublicCard.from_bytes(data, what="card")
    assert again == card and again.fingerprint == city.public_key.fingerprint()
    doc = json.loads(data)
    other = KeySet.generate(Role.CITY, "Attacker")
    for field, value in (("name", "Othertown"), ("age_recipient", other.age_recipient), ("role", "officer"),
                         ("fingerprint", other.fingerprint)):
        with pytest.raises(CryptoError, match="altered"):
            PublicCard.from_bytes(json.dumps(dict(doc, **{field: value})).encode(), what="card")
    with pytest.raises(ValidationError, match="not a public key card"):
        PublicCard.from_bytes(json.dumps(dict(doc, format="sdgkit-keyfile")).encode(), what="card")


# ---------------------------------------------------------------------------------------------
# trust documents


@dataclass
class World:
    root: KeySet
    mechanism: KeySet
    city: KeySet
    members: list[KeySet]
    recovery: KeySet
    attacker: KeySet

    @property
    def pinned(self) -> RootPolicy:
        return RootPolicy(pinned=self.root.public_key)


@pytest.fixture(scope="module")
def world() -> World:
    return World(root=KeySet.generate(Role.PLATFORM_ROOT, "Platform root"),
                 mechanism=KeySet.generate(Role.MECHANISM, "Kenya national mechanism"),
                 city=KeySet.generate(Role.CITY, "Testville"),
                 members=[KeySet.generate(Role.PANEL_MEMBER, f"Reviewer {i}") for i in (1, 2)],
                 recovery=KeySet.generate(Role.RECOVERY, "Recovery"),
                 attacker=KeySet.generate(Role.PLATFORM_ROOT, "Attacker"))


def write_recipients(folder: Path, w: World, *, signer: SigningKey | None = None, panel_id: str = "panel-ke-1",
                     start=NOW - DAY, end=NOW + 30 * DAY) -> None:
    doc = recipients_document(panel_id=panel_id, panel_name="Kenya panel 1", language="en",
                              members=[m.card() for m in w.members], recovery=w.recovery.card(),
                              valid_from=start, valid_until=end)
    write_signed(folder, RECIPIENTS, doc, signer or w.root.signing_key)


def write_mechanism(folder: Path, w: World, *, countries=("KE",), expires=NOW + 365 * DAY) -> None:
    doc = mechanism_document(card=w.mechanism.card(), mechanism_id="ke-national", scope="national",
                             countries=list(countries), expires=expires)
    write_signed(folder, MECHANISM, doc, w.root.signing_key)


def write_enrolment(folder: Path, w: World, *, country: str = "KE", mechanism_id: str = "ke-national",
                    signer: SigningKey | None = None, card: PublicCard | None = None,
                    expires=NOW + 365 * DAY) -> None:
    doc = enrolment_document(card=card or w.city.card(), city_id="ke-testville", country=country,
                             mechanism_id=mechanism_id, serial="0001", expires=expires)
    write_signed(folder, ENROLMENT, doc, signer or w.mechanism.signing_key)


def write_revocations(folder: Path, w: World, sequence: int, revoked: list[KeySet] = ()) -> None:
    entries = [Revocation(fingerprint=k.fingerprint, reason="compromised", date=NOW - DAY, name=k.name)
               for k in revoked]
    write_signed(folder, REVOCATIONS, revocations_document(sequence=sequence, entries=entries), w.root.signing_key)


def make_pack(folder: Path, w: World, *, revoked: list[KeySet] = (), sequence: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ROOT_PUB).write_text(w.root.public_key.to_string())
    write_recipients(folder, w)
    write_mechanism(folder, w)
    write_enrolment(folder, w)
    write_revocations(folder, w, sequence, list(revoked))
    return folder


def test_complete_pack_verifies(tmp_path, world):
    pack = load_trust_pack(make_pack(tmp_path / "pack", world), world.pinned, own_key=world.city.public_key,
                           panel_id="panel-ke-1")
    assert not pack.demo and pack.root == world.root.public_key
    assert pack.recipients.age_recipients() == sorted([m.age_recipient for m in world.members] +
                                                      [world.recovery.age_recipient])
    assert len(pack.recipients.recipients_sha256()) == 64
    assert pack.mechanism.countries == ("KE",) and pack.mechanism.fingerprint == world.mechanism.fingerprint
    assert pack.enrolment.city_id == "ke-testville" and pack.enrolment.fingerprint == world.city.fingerprint
    assert pack.revocations.sequence == 1 and pack.revocations.entries == ()


def test_stock_minisign_verifies_every_trust_document(tmp_path, world):
    folder = make_pack(tmp_path / "pack", world)
    for name in (RECIPIENTS, MECHANISM, REVOCATIONS):
        r = subprocess.run(["minisign", "-V", "-p", str(folder / ROOT_PUB), "-m", str(folder / name)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert f"type=sdgkit-{name.removesuffix('.json')}" in r.stdout
    r = subprocess.run(["minisign", "-V", "-P", world.mechanism.public_key.to_base64(), "-m",
                        str(folder / ENROLMENT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_unsigned_document(tmp_path, world):
    folder = make_pack(tmp_path / "pack", world)
    (folder / (RECIPIENTS + SIG_SUFFIX)).unlink()
    with pytest.raises(TrustError, match="is not signed"):
        load_trust_pack(folder, world.pinned)


def test_document_signed_by_the_wrong_key(tmp_path, world):
    folder = make_pack(tmp_path / "pack", world)
    write_recipients(folder, world, signer=world.attacker.signing_key)
    with pytest.raises(TrustError, match="does not trust for it"):
        load_trust_pack(folder, world.pinned)


def test_enrolment_signed_by_the_root_for_a_national_mechanism_is_the_wrong_key(tmp_path, world):
    folder = make_pack(tmp_path / "pack", world)
    write_enrolment(folder, world, signer=world.root.signing_key)
    with pytest.raises(TrustError, match="does not trust for it"):
        load_trust_pack(folder, world.pinned)


def test_altered_document_and_altered_trusted_comment(tmp_path, world):
    folder = make_pack(tmp_path / "pack", world)
    data = (folder / RECIPIENTS).read_bytes()
    (folder / RECIPIENTS).write_bytes(data.replace(b"Kenya panel 1", b"Kenya panel 2"))
    with pytest.raises(TrustError, match="altered after it was signed"):
        load_trust_pack(folder, world.pinned)
    (folder / RECIPIENTS).write_bytes(data)
    sig = folder / (RECIPIENTS + SIG_SUFFIX)
    sig.write_text(sig.read_text().replace("type=sdgkit-recipients", "type=sdgkit-recipientz"))
    with pytest.raises(TrustError, match="altered after it was signed"):
        load_trust_pack(folder, world.pinned)


def test_expired_and_not_yet_valid(tmp_path, world):
    folder = make_pack(tmp_path / "pack", world)
    with pytest.raises(TrustError, match="expired on"):
        load_trust_pack(folder, world.pinned, now=NOW + 31 * DAY)
    with pytest.raises(TrustError, match="valid only from"):
        load_trust_pack(folder, world.pinned, now=NOW - 2 * DAY)
    write_recipients(folder, world, start=NOW + DAY, end=NOW + 30 * DAY)
    with pytest.raises(TrustError, match="valid only from"):
        load_trust_pack(folder, world.pinned)


def test_expired_enrolment_and_mechanism(tmp_path, world):
    folder = make_pack(tmp_path / "pack", world)
    write_enrolment(folder, world, expires=NOW - DAY)
    with pytest.raises(TrustError, match="enrolment.json expired"):
        load_trust_pack(folder, world.pinned)
    write_enrolment(folder, world)
    write_mechanism(folder, world, expires=NOW - DAY)
    with pytest.raises(TrustError, match="mechanism.json expired"):
        load_trust_pack(folder, world.pinned)


@pytest.mark.parametrize("who,file", [("member", RECIPIENTS), ("recovery", RECIPIENTS), ("city", ENROLMENT),
                                      ("mechanism", MECHANISM)])
def test_revoked_keys(tmp_path, world, who, file):
    key = {"member": world.members[1], "recovery": world.recovery, "city": world.city,
           "mechanism": world.mechanism}[who]
    folder = make_pack(tmp_path / "pack", world, revoked=[key])
    with pytest.raises(TrustError, match="was revoked") as info:
        load_trust_pack(folder, world.pinned)
    assert info.value.params["fingerprint"] == key.fingerprint and info.value.params["file"] == file


def test_recipients_for_another_panel(tmp_path, world):
    folder = make_pack(tmp_path / "pack", world)
    with pytest.raises(TrustError, match="not for panel panel-ke-2"):
        load_trust_pack(folder, world.pinned, panel_id="panel-ke-2")


def test_enrolment_for_another_key(tmp_path, world):
    folder = make_pack(tmp_path / "pack", world)
    with pytest.raises(TrustError, match="not this kit's key"):
        load_trust_pack(folder, world.pinned, own_key=world.attacker.public_key)


def test_enrolment_outside_the_mechanism_countries(tmp_path, world):
    folder = make_pack(tmp_path / "pack", world)
    write_enrolment(folder, world, country="TZ")
    with pytest.raises(TrustError, match="may not certify"):
        load_trust_pack(folder, world.pinned)


def test_global_enrolment_by_the_root_without_a_mechanism_certificate(tmp_path, world):
    folder = make_pack(tmp_path / "pack", world)
    (folder / MECHANISM).unlink()
    (folder / (MECHANISM + SIG_SUFFIX)).unlink()
    write_enrolment(folder, world, mechanism_id=trust.GLOBAL_MECHANISM_ID, signer=world.root.signing_key,
                    country="BR")
    assert load_trust_pack(folder, world.pinned).enrolment.mechanism_id == "global"
    write_enrolment(folder, world, mechanism_id="ke-national", signer=world.root.signing_key)
    with pytest.raises(TrustError, match="names mechanism ke-national"):
        load_trust_pack(folder, world.pinned)


def test_a_signed_document_of_another_kind_is_refused(tmp_path, world):
    folder = make_pack(tmp_path / "pack", world)
    shutil.copy(folder / MECHANISM, folder / RECIPIENTS)
    shutil.copy(folder / (MECHANISM + SIG_SUFFIX), folder / (RECIPIENTS + SIG_SUFFIX))
    with pytest.raises(TrustError, match="is not a sdgkit-recipients file"):
        load_trust_pack(folder, world.pinned)


def test_signed_but_ambiguous_json_is_refused(tmp_path, world):
    folder = make_pack(tmp_path / "pack", world)
    data = (folder / REVOCATIONS).read_bytes().replace(b'"sequence": 1', b'"sequence": 1, "sequence": 9')
    (folder / REVOCATIONS).write_bytes(data)
    (folder / (REVOCATIONS + SIG_SUFFIX)).write_text(world.root.signing_key.sign_bytes(
        data, trust.trusted_comment(REVOCATIONS, {"issued": "x"}, world.root.public_key)))
    with pytest.raises(TrustError, match="signed but not valid"):
        load_trust_pack(folder, world.pinned)


# -- root pinning and demo mode ----------------------------------------------------------------


def test_no_pinned_root_and_no_demo_mode_trusts_nothing(tmp_path, world):
    folder = make_pack(tmp_path / "pack", world)
    with pytest.raises(TrustError, match="no platform root key"):
        load_trust_pack(folder, RootPolicy(pinned=None))


def test_a_pack_with_an_attackers_root_is_refused(tmp_path, world):
    w = World(root=world.attacker, mechanism=world.mechanism, city=world.city, members=world.members,
              recovery=world.recovery, attacker=world.root)
    folder = make_pack(tmp_path / "evil", w)  # completely consistent, but under the attacker's root
    with pytest.raises(TrustError, match="trusts only"):
        load_trust_pack(folder, world.pinned)
    (folder / ROOT_PUB).write_text(world.root.public_key.to_string())  # pretend to be the real root
    with pytest.raises(TrustError, match="does not trust for it"):
        load_trust_pack(folder, world.pinned)


def test_pack_without_root_pub_uses_the_pinned_root(tmp_path, world):
    folder = make_pack(tmp_path / "pack", world)
    (folder / ROOT_PUB).unlink()
    assert not load_trust_pack(folder, world.pinned).demo
    data = tmp_path / "data"
    import_trust_pack(folder, data, world.pinned)
    assert PublicKey.from_file(data / "trust" / ROOT_PUB) == world.root.public_key


def test_missing_documents_are_reported_when_required(tmp_path, world):
    folder = tmp_path / "pack"
    folder.mkdir()
    write_revocations(folder, world, 1)
    pack = load_trust_pack(folder, world.pinned)
    assert pack.recipients is None and pack.enrolment is None
    with pytest.raises(TrustError, match="has no recipients.json"):
        pack.require_recipients()
    with pytest.raises(TrustError, match="has no enrolment.json"):
        pack.require_enrolment()


def test_demo_mode_uses_the_packs_root_and_labels_everything(tmp_path, world):
    folder = make_pack(tmp_path / "pack", world)
    for policy in (RootPolicy(pinned=None, demo_allowed=True),
                   RootPolicy(pinned=world.attacker.public_key, demo_allowed=True)):
        pack = load_trust_pack(folder, policy)
        assert pack.demo and pack.recipients.demo and pack.enrolment.demo and pack.mechanism.demo
    # the real root stays real even with demo mode allowed
    assert not load_trust_pack(folder, RootPolicy(pinned=world.root.public_key, demo_allowed=True)).demo


def test_installed_policy_reads_resources_trust_root_pub(tmp_path, world, monkeypatch):
    pinned = tmp_path / "root.pub"
    pinned.write_text(world.root.public_key.to_string())
    monkeypatch.setattr(trust, "pinned_root_path", lambda: pinned)
    assert RootPolicy.installed().pinned == world.root.public_key
    monkeypatch.setattr(trust, "pinned_root_path", lambda: tmp_path / "absent.pub")
    assert RootPolicy.installed(demo=True) == RootPolicy(pinned=None, demo_allowed=True)


# -- installing packs --------------------------------------------------------------------------


def test_import_installs_and_reloads(tmp_path, world):
    data = tmp_path / "data"
    result = import_trust_pack(make_pack(tmp_path / "pack", world), data, world.pinned,
                               own_key=world.city.public_key)
    pack = result.pack
    assert result.unusable == {}
    assert pack.folder == data / "trust" and not (data / "trust" / trust.DEMO_MARKER).exists()
    again = load_installed(data, world.pinned, own_key=world.city.public_key)
    assert again.enrolment.sha256 == pack.enrolment.sha256


def test_demo_import_is_marked_and_needs_demo_mode_to_load(tmp_path, world):
    data = tmp_path / "data"
    import_trust_pack(make_pack(tmp_path / "pack", world), data, RootPolicy(pinned=None, demo_allowed=True))
    assert (data / "trust" / trust.DEMO_MARKER).is_file()
    assert (data / "trust" / ROOT_PUB).read_bytes() == (tmp_path / "pack" / ROOT_PUB).read_bytes()
    with pytest.raises(TrustError, match="no platform root key"):
        load_installed(data, RootPolicy(pinned=None))
    assert load_installed(data, RootPolicy(pinned=None, demo_allowed=True)).demo


def test_failed_import_leaves_the_installed_pack_alone(tmp_path, world):
    data = tmp_path / "data"
    import_trust_pack(make_pack(tmp_path / "pack1", world), data, world.pinned)
    before = {p.name: p.read_bytes() for p in (data / "trust").iterdir()}
    bad = make_pack(tmp_path / "pack2", world)
    (bad / ENROLMENT).write_bytes((bad / ENROLMENT).read_bytes().replace(b"Testville", b"Testvilla"))
    with pytest.raises(TrustError, match="altered"):
        import_trust_pack(bad, data, world.pinned)
    assert {p.name: p.read_bytes() for p in (data / "trust").iterdir()} == before
    assert sorted(p.name for p in data.iterdir()) == ["trust"]


def test_partial_pack_keeps_the_other_installed_documents(tmp_path, world):
    data = tmp_path / "data"
    import_trust_pack(make_pack(tmp_path / "pack1", world), data, world.pinned)
    update = tmp_path / "update"
    update.mkdir()
    write_revocations(update, world, 2, [world.attacker])
    pack = import_trust_pack(update, data, world.pinned).pack
    assert pack.revocations.sequence == 2 and pack.recipients is not None and pack.enrolment is not None


def test_new_revocations_install_even_when_they_make_a_kept_document_unusable(tmp_path, world):
    data = tmp_path / "data"
    import_trust_pack(make_pack(tmp_path / "pack1", world), data, world.pinned)
    update = tmp_path / "update"
    update.mkdir()
    write_revocations(update, world, 2, [world.members[0]])
    result = import_trust_pack(update, data, world.pinned)
    assert result.pack.revocations.sequence == 2 and result.pack.recipients is None
    assert set(result.unusable) == {RECIPIENTS} and "was revoked" in result.unusable[RECIPIENTS].message()
    with pytest.raises(TrustError, match="was revoked"):
        load_installed(data, world.pinned)
    # a recipients file that itself lists a revoked member is refused outright
    with pytest.raises(TrustError, match="was revoked"):
        import_trust_pack(make_pack(tmp_path / "pack2", world, sequence=2, revoked=[world.members[0]]), data,
                          world.pinned)


def test_revocation_list_is_never_replaced_by_an_older_one(tmp_path, world):
    data = tmp_path / "data"
    import_trust_pack(make_pack(tmp_path / "pack2", world, sequence=2), data, world.pinned)
    with pytest.raises(TrustError, match=r"older than the one already installed \(number 2\)"):
        import_trust_pack(make_pack(tmp_path / "pack1", world, sequence=1), data, world.pinned)
    with pytest.raises(TrustError, match="same number 2"):
        import_trust_pack(make_pack(tmp_path / "pack2b", world, sequence=2, revoked=[world.attacker]), data,
                          world.pinned)
    assert load_installed(data, world.pinned).revocations.entries == ()
    assert import_trust_pack(make_pack(tmp_path / "pack3", world, sequence=3), data,
                             world.pinned).pack.revocations.sequence == 3


def test_recipients_file_is_not_replaced_by_an_earlier_issue(tmp_path, world, monkeypatch):
    data = tmp_path / "data"
    older = tmp_path / "older"
    older.mkdir()
    monkeypatch.setattr(trust, "now_utc", lambda: NOW - 2 * DAY)
    write_recipients(older, world, start=NOW - 3 * DAY)
    monkeypatch.undo()
    import_trust_pack(make_pack(tmp_path / "pack", world), data, world.pinned)
    with pytest.raises(TrustError, match="the newer file is kept"):
        import_trust_pack(older, data, world.pinned)


def test_interrupted_swap_is_recovered(tmp_path, world):
    data = tmp_path / "data"
    import_trust_pack(make_pack(tmp_path / "pack", world), data, world.pinned)
    (data / "trust").rename(data / "trust.new")  # the stick was pulled between the two renames
    assert load_installed(data, world.pinned).recipients is not None
    assert sorted(p.name for p in data.iterdir()) == ["trust"]


# -- issuing -----------------------------------------------------------------------------------


def test_issuers_refuse_cards_of_the_wrong_role_and_bad_scopes(world):
    with pytest.raises(ValidationError, match="panel_member key is needed"):
        recipients_document(panel_id="p", panel_name="P", language="en", members=[world.city.card()],
                            recovery=None, valid_from=NOW, valid_until=NOW + DAY)
    with pytest.raises(ValidationError, match="national mechanism needs its countries"):
        mechanism_document(card=world.mechanism.card(), mechanism_id="x", scope="national", countries=[],
                           expires=NOW + DAY)
    with pytest.raises(ValidationError, match="ISO country code"):
        enrolment_document(card=world.city.card(), city_id="c", country="Kenya", mechanism_id="global",
                           serial="1", expires=NOW + DAY)
    with pytest.raises(ValidationError, match="city / officer"):
        enrolment_document(card=world.members[0].card(), city_id="c", country="KE", mechanism_id="global",
                           serial="1", expires=NOW + DAY)


def test_demo_pack_verifies_only_in_demo_mode_and_opens_for_its_panel(tmp_path, world):
    demo = trust.build_demo_pack(tmp_path / "demo", world.city.card(), city_id="ke-testville", country="KE")
    with pytest.raises(TrustError, match="trusts only"):
        load_trust_pack(demo.folder, world.pinned)
    pack = load_trust_pack(demo.folder, RootPolicy(pinned=world.root.public_key, demo_allowed=True),
                           own_key=world.city.public_key, panel_id=trust.DEMO_PANEL_ID)
    assert pack.demo and pack.enrolment.mechanism_id == "global" and len(pack.recipients.members) == 2
    assert "DEMO" in (demo.folder / ROOT_PUB).read_text()
    sealed = encrypt_bytes(b"answers", [X25519Recipient.from_string(r) for r in pack.recipients.age_recipients()])
    assert decrypt_bytes(sealed, [demo.panel[1].age_identity]) == b"answers"
