"""minisign compatibility: our signatures and keys against the stock ``minisign`` tool (Debian, 0.11)."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import struct
import subprocess
import tracemalloc
from pathlib import Path

import pytest

from app.bundle.minisign import (BadSignatureError, PublicKey, SigningKey, WrongKeyError, blake2b_file,
                                 normalise_fingerprint, scrypt_params)
from app.errors import CryptoError, ValidationError

MINISIGN = shutil.which("minisign") or "/usr/bin/minisign"
# Small scrypt limits for keys written by the tests (N=2^14); minisign reads them from the file.
FAST = {"opslimit": 1 << 19, "memlimit": 1 << 24}


def run_minisign(*args: str | Path, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([MINISIGN, *map(str, args)], input=stdin, capture_output=True, text=True, cwd=cwd,
                          timeout=120)


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def signed(tmp_path: Path, key: SigningKey) -> tuple[Path, Path, Path]:
    """A file, its .minisig made by us, and our public key file."""
    data = tmp_path / "report.pdf"
    data.write_bytes(bytes(range(256)) * 4096 + b"tail")
    sig = tmp_path / "report.pdf.minisig"
    sig.write_text(key.sign_file(data, "sdgkit test file=report.pdf"))
    pub = tmp_path / "our.pub"
    pub.write_text(key.public_key().to_string())
    return data, sig, pub


def test_stock_minisign_verifies_our_signature(signed):
    data, _, pub = signed
    r = run_minisign("-V", "-p", pub, "-m", data)
    assert r.returncode == 0, r.stderr
    assert "Trusted comment: sdgkit test file=report.pdf" in r.stdout
    r = run_minisign("-V", "-H", "-P", PublicKey.from_file(pub).to_base64(), "-m", data)  # -H: must be prehashed
    assert r.returncode == 0, r.stderr


def test_one_changed_byte_of_the_file_fails_for_minisign_and_for_us(signed, key):
    data, sig, pub = signed
    raw = bytearray(data.read_bytes())
    raw[123456] ^= 0x01
    data.write_bytes(bytes(raw))
    r = run_minisign("-V", "-p", pub, "-m", data)
    assert r.returncode != 0 and "Signature verification failed" in r.stderr
    with pytest.raises(BadSignatureError):
        key.public_key().verify_file(data, sig.read_text())


def test_one_changed_byte_of_the_trusted_comment_fails_for_minisign_and_for_us(signed, key):
    data, sig, pub = signed
    sig.write_text(sig.read_text().replace("file=report.pdf", "file=report.pdg"))
    r = run_minisign("-V", "-p", pub, "-m", data)
    assert r.returncode != 0 and "Comment signature verification failed" in r.stderr
    with pytest.raises(BadSignatureError, match="trusted comment"):
        key.public_key().verify_file(data, sig.read_text())


def test_sign_bytes_and_sign_file_agree_and_return_the_trusted_comment(tmp_path, key):
    payload = b"SHA256SUMS content\n" * 100
    f = tmp_path / "SHA256SUMS"
    f.write_bytes(payload)
    pk = key.public_key()
    assert pk.verify_file(f, key.sign_bytes(payload, "fmt=1 bundle=abc")) == "fmt=1 bundle=abc"
    assert pk.verify_bytes(payload, key.sign_file(f, "fmt=1 bundle=abc")) == "fmt=1 bundle=abc"
    with pytest.raises(BadSignatureError):
        pk.verify_bytes(payload + b"x", key.sign_bytes(payload, "c"))


def test_signature_by_another_key_is_reported_as_wrong_key(tmp_path, key):
    other = SigningKey.generate()
    with pytest.raises(WrongKeyError) as info:
        key.public_key().verify_bytes(b"data", other.sign_bytes(b"data", "c"))
    assert info.value.params["found"] == other.public_key().key_id_hex
    assert info.value.params["expected"] == key.public_key().key_id_hex


def test_key_pair_made_by_minisign_without_passphrase(tmp_path):
    r = run_minisign("-G", "-W", "-p", tmp_path / "m.pub", "-s", tmp_path / "m.key")
    assert r.returncode == 0, r.stderr
    pub = PublicKey.from_file(tmp_path / "m.pub")
    printed = re.search(r"minisign public key ([0-9A-F]+)", (tmp_path / "m.pub").read_text()).group(1)
    assert int(printed, 16) == int(pub.key_id_hex, 16)  # minisign drops leading zeros; we pad to 16

    doc = tmp_path / "doc.json"
    doc.write_text('{"a": 1}\n')
    r = run_minisign("-S", "-s", tmp_path / "m.key", "-t", "made by minisign", "-m", doc)
    assert r.returncode == 0, r.stderr
    assert pub.verify_file(doc, (tmp_path / "doc.json.minisig").read_text()) == "made by minisign"

    ours = SigningKey.from_minisign_secret((tmp_path / "m.key").read_text(), None)
    assert ours.public_key() == pub
    (tmp_path / "doc.json.minisig").write_text(ours.sign_file(doc, "made by the kit"))
    r = run_minisign("-V", "-p", tmp_path / "m.pub", "-m", doc)
    assert r.returncode == 0 and "made by the kit" in r.stdout


@pytest.mark.slow
def test_key_pair_made_by_minisign_with_passphrase_typed_on_stdin(tmp_path):
    # minisign reads the passphrase from standard input when it is not a terminal, so the prompt
    # ("Password:" then "Password (one more time):") is driven by piping two lines: no -W needed.
    # This uses minisign's default scrypt cost (1 GiB, several seconds per derivation).
    r = run_minisign("-G", "-p", tmp_path / "m.pub", "-s", tmp_path / "m.key",
                     stdin="correct horse battery\ncorrect horse battery\n")
    assert r.returncode == 0, r.stderr
    secret_text = (tmp_path / "m.key").read_text()
    assert base64.b64decode(secret_text.splitlines()[1])[2:4] == b"Sc"
    pub = PublicKey.from_file(tmp_path / "m.pub")

    ours = SigningKey.from_minisign_secret(secret_text, "correct horse battery")
    assert ours.public_key() == pub
    doc = tmp_path / "doc.txt"
    doc.write_bytes(b"signed with a key minisign made\n")
    (tmp_path / "doc.txt.minisig").write_text(ours.sign_file(doc, "kit"))
    assert run_minisign("-V", "-p", tmp_path / "m.pub", "-m", doc).returncode == 0

    with pytest.raises(CryptoError, match="Wrong passphrase"):
        SigningKey.from_minisign_secret(secret_text, "correct horse battery!")
    with pytest.raises(CryptoError, match="protected by a passphrase"):
        SigningKey.from_minisign_secret(secret_text, None)


def test_minisign_signs_with_our_encrypted_secret_key(tmp_path, key):
    (tmp_path / "our.key").write_text(key.to_minisign_secret("ünïcode pass phrase", **FAST))
    (tmp_path / "our.pub").write_text(key.public_key().to_string())
    doc = tmp_path / "doc.txt"
    doc.write_bytes(b"hello\n")
    r = run_minisign("-S", "-s", tmp_path / "our.key", "-t", "by minisign", "-m", doc,
                     stdin="ünïcode pass phrase\n")
    assert r.returncode == 0, r.stderr
    assert key.public_key().verify_file(doc, (tmp_path / "doc.txt.minisig").read_text()) == "by minisign"
    r = run_minisign("-S", "-s", tmp_path / "our.key", "-m", doc, "-x", tmp_path / "x.minisig", stdin="wrong\n")
    assert r.returncode != 0 and "Wrong password" in r.stderr
    # and we read our own file back
    again = SigningKey.from_minisign_secret((tmp_path / "our.key").read_text(), "ünïcode pass phrase")
    assert again.private_seed() == key.private_seed() and again.key_id == key.key_id


def test_minisign_signs_with_our_unencrypted_secret_key(tmp_path, key):
    (tmp_path / "our.key").write_text(key.to_minisign_secret(None))
    doc = tmp_path / "doc.txt"
    doc.write_bytes(b"hello\n")
    r = run_minisign("-S", "-s", tmp_path / "our.key", "-t", "plain key", "-m", doc)
    assert r.returncode == 0, r.stderr
    assert key.public_key().verify_file(doc, (tmp_path / "doc.txt.minisig").read_text()) == "plain key"


def test_minisign_can_recreate_our_public_key_from_our_secret_key(tmp_path, key):
    (tmp_path / "our.key").write_text(key.to_minisign_secret(None))
    r = run_minisign("-R", "-s", tmp_path / "our.key", "-p", tmp_path / "re.pub")
    assert r.returncode == 0, r.stderr
    assert PublicKey.from_file(tmp_path / "re.pub") == key.public_key()


def test_legacy_signatures_from_minisign_verify(tmp_path):
    run_minisign("-G", "-W", "-p", tmp_path / "m.pub", "-s", tmp_path / "m.key")
    doc = tmp_path / "doc.txt"
    doc.write_bytes(b"legacy signed\n")
    r = run_minisign("-S", "-l", "-s", tmp_path / "m.key", "-t", "legacy", "-m", doc)
    assert r.returncode == 0, r.stderr
    sig = (tmp_path / "doc.txt.minisig").read_text()
    assert base64.b64decode(sig.splitlines()[1])[:2] == b"Ed"
    pub = PublicKey.from_file(tmp_path / "m.pub")
    assert pub.verify_file(doc, sig) == "legacy"
    assert pub.verify_bytes(doc.read_bytes(), sig) == "legacy"
    with pytest.raises(BadSignatureError):
        pub.verify_bytes(b"legacy signed!\n", sig)


def test_signing_a_large_file_takes_constant_memory(tmp_path, key):
    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:
        fh.truncate(64 << 20)
    tracemalloc.start()
    try:
        sig = key.sign_file(big, "big")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20
    assert blake2b_file(big) == hashlib.blake2b(bytes(64 << 20), digest_size=64).digest()
    assert key.public_key().verify_file(big, sig) == "big"


def test_fingerprint_is_80_bits_of_sha256_in_crockford_base32(key):
    pk = key.public_key()
    digest = hashlib.sha256(base64.b64decode(pk.to_base64())).digest()[:10]
    rfc = base64.b32encode(digest).decode()
    crockford = rfc.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHJKMNPQRSTVWXYZ"))
    expected = "-".join(crockford[i:i + 4] for i in range(0, 16, 4))
    assert pk.fingerprint() == expected
    assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){3}[0-9A-HJKMNP-TV-Z]{4}", expected)
    typed = expected.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert normalise_fingerprint(typed) == expected
    with pytest.raises(ValidationError):
        normalise_fingerprint("ABCD-EFGH-JKMN")
    with pytest.raises(ValidationError):
        normalise_fingerprint("ABCD-EFGH-JKMN-PQRU")  # U is not in the alphabet


def test_public_key_text_forms_round_trip(key):
    pk = key.public_key()
    assert PublicKey.from_string(pk.to_string()) == pk
    assert PublicKey.from_string(pk.to_base64()) == pk
    assert PublicKey.from_string(pk.to_string("city of Testville")) == pk
    for bad in ("RWQ" + "A" * 52, pk.to_base64() + "==", pk.to_base64()[:-1], "RUQ" + pk.to_base64()[3:]):
        with pytest.raises(CryptoError, match="not a minisign public key"):
            PublicKey.from_string(bad)


def test_damaged_signature_texts_are_refused(key):
    sig = key.sign_bytes(b"x", "c")
    lines = sig.splitlines()
    # The global signature is 64 bytes: its base64 ends in "x==" where x carries 4 unused bits.
    # Setting one of them decodes to the same bytes but is not canonical base64.
    last = lines[3][-3]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    noncanonical = lines[3][:-3] + alphabet[alphabet.index(last) ^ 1] + "=="
    assert base64.b64decode(noncanonical) == base64.b64decode(lines[3])
    for bad in ("", "\n".join(lines[:3]), sig.replace("trusted comment: ", "comment: "),
                "\n".join([lines[0], "RUQ" + lines[1][3:-4] + "!!!!", lines[2], lines[3]]),
                "\n".join([lines[0], lines[1], lines[2], noncanonical])):
        with pytest.raises(CryptoError, match="not a minisign signature"):
            key.public_key().verify_bytes(b"x", bad)


def test_comments_with_line_breaks_are_refused(key):
    with pytest.raises(ValidationError):
        key.sign_bytes(b"x", "two\nlines")
    with pytest.raises(ValidationError):
        key.sign_bytes(b"x", "ok", untrusted_comment="a\rb")


def test_scrypt_parameters_follow_libsodium():
    assert scrypt_params(33554432, 1073741824) == (1 << 20, 8, 1)  # minisign default
    assert scrypt_params(1 << 19, 1 << 24) == (1 << 14, 8, 1)  # libsodium "interactive"
    assert scrypt_params(1 << 15, 1 << 30) == (1 << 10, 8, 1)  # ops-limited branch


def test_secret_key_asking_for_absurd_memory_is_refused(key):
    text = key.to_minisign_secret("pass phrase", **FAST)
    blob = bytearray(base64.b64decode(text.splitlines()[1]))
    blob[38:54] = struct.pack("<QQ", 1 << 40, 1 << 40)
    with pytest.raises(CryptoError, match="more memory"):
        SigningKey.from_minisign_secret(base64.b64encode(bytes(blob)).decode(), "pass phrase")


def test_damaged_unencrypted_secret_key_is_refused(key):
    blob = bytearray(base64.b64decode(key.to_minisign_secret(None).splitlines()[1]))
    blob[70] ^= 1  # inside the seed: the checksum no longer matches
    with pytest.raises(CryptoError, match="checksum"):
        SigningKey.from_minisign_secret(base64.b64encode(bytes(blob)).decode(), None)
