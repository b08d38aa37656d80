"""The keys of the city and of the other parties, kept on the stick under a passphrase.

A **key set** belongs to one party (a city, a field officer, a panel member, a certification
mechanism, the platform root, the release signer, the recovery holder). It holds:

* an Ed25519 signing key in minisign form (what the party signs is checkable with ``minisign``);
* an X25519 age identity (what is encrypted to the party opens with ``age``).

**Key file** (``keys/<role>.key``): one JSON envelope. The public parts (role, name, creation
time, ``RW...`` signing key, ``age1...`` recipient, fingerprint) and the KDF settings are readable
without the passphrase; the secret parts are sealed with ChaCha20-Poly1305 under a key derived
from the passphrase with Argon2id (256 MiB, 3 passes, 4 lanes: about 0.5 s on the reference
machine; see docs/decisions/0003-keys-and-trust.md). Every envelope field other than the nonce
and the ciphertext is the AEAD's associated data, so the public parts cannot be swapped for
another party's without the file failing to open.

**Public card** (``<role>.card.json``): what a party hands to the secretariat. It carries the
public parts and a self-signature by the party's Ed25519 key over them, so the age recipient and
name on the card are bound to the signing key whose **fingerprint** people read to each other
over the phone (see :meth:`app.bundle.minisign.PublicKey.fingerprint`).
"""

from __future__ import annotations

import base64
import math
import os
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from app.bundle.age import X25519Identity, X25519Recipient
from app.bundle.minisign import BadSignatureError, PublicKey, SigningKey
from app.bundle.strict_json import canonical_bytes, document_bytes, loads_strict
from app.bundle.utctime import format_utc, now_utc, parse_utc
from app.errors import CryptoError, KitError, UserInputError, ValidationError
from app.fsutil import atomic_write_bytes, fsync_dir, replace_with_retry
from app.i18n import N_

KEYFILE_FORMAT = "sdgkit-keyfile"
CARD_FORMAT = "sdgkit-public-card"
FORMAT_VERSION = 1
KEYFILE_SUFFIX = ".key"
CARD_SUFFIX = ".card.json"
_KEYFILE_AAD_PREFIX = b"sdgkit-keyfile-v1\x00"
_CARD_SIGNATURE_PREFIX = b"sdgkit-public-card-v1\x00"
_SALT_BYTES = 16
_NONCE_BYTES = 12
_MAX_NAME_CHARS = 200
_MAX_KEYFILE_BYTES = 64 * 1024


class Role(StrEnum):
    CITY = "city"
    OFFICER = "officer"
    PANEL_MEMBER = "panel_member"
    MECHANISM = "mechanism"
    PLATFORM_ROOT = "platform_root"
    RELEASE = "release"
    RECOVERY = "recovery"


ROLE_LABELS: dict[Role, str] = {
    Role.CITY: N_("City"),
    Role.OFFICER: N_("Field officer"),
    Role.PANEL_MEMBER: N_("Technical panel member"),
    Role.MECHANISM: N_("Certification mechanism"),
    Role.PLATFORM_ROOT: N_("Platform root"),
    Role.RELEASE: N_("Software release signer"),
    Role.RECOVERY: N_("Recovery key holder"),
}


def parse_role(value: object) -> Role:
    try:
        return Role(str(value))
    except ValueError:
        raise ValidationError(N_("Unknown key role {role}. Use one of: {roles}."), role=value,
                              roles=", ".join(r.value for r in Role)) from None


def check_name(name: object) -> str:
    """A party's display name: 1-200 characters, no control characters, NFC."""
    if not isinstance(name, str):
        raise ValidationError(N_("The name must be text of 1 to 200 characters without line breaks."))
    text = unicodedata.normalize("NFC", name.strip())
    if not text or len(text) > _MAX_NAME_CHARS or any(unicodedata.category(ch) == "Cc" for ch in text):
        raise ValidationError(N_("The name must be text of 1 to 200 characters without line breaks."))
    return text


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(value: object, length: int | None, *, path: str, field: str) -> bytes:
    try:
        raw = base64.b64decode(str(value), validate=True)
    except ValueError:
        raw = None
    if raw is None or (length is not None and len(raw) != length):
        raise CryptoError(N_("{path} is not a kit key file: {detail}"), path=path, detail=f"bad field {field}")
    return raw


def parse_recipient(value: object, *, what: str) -> str:
    """Validate an ``age1...`` recipient string; returns its canonical (lower-case) form."""
    try:
        return X25519Recipient.from_string(str(value)).to_string()
    except (KitError, ValueError) as exc:
        raise ValidationError(N_("{what} is not a valid age recipient (age1...)."), what=what) from exc


# ---------------------------------------------------------------------------------------------
# passphrases

MIN_PASSPHRASE_LENGTH = 10
PASSPHRASE_TOO_SHORT = N_("The passphrase is too short. Use at least 10 characters; a few unrelated words work well.")
PASSPHRASE_GUESSABLE = N_("The passphrase is too easy to guess. Avoid repeated characters, sequences such as "
                          "1234 or abcd, and common passwords.")
PASSPHRASE_ACCEPTABLE = N_("Acceptable. Another word makes it stronger.")
PASSPHRASE_STRONG = N_("Strong passphrase.")

_KEYBOARD_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "azertyuiop", "qwertzuiop",
                  "abcdefghijklmnopqrstuvwxyz")
_COMMON_PASSWORDS = ("password", "passwort", "motdepasse", "contrasena", "parol", "letmein", "welcome", "admin",
                     "iloveyou", "sunshine", "monkey", "dragon", "football", "princess", "secret", "master",
                     "superman", "trustno1", "unhabitat", "habitat", "sdgcities", "qwerty", "azerty")


def _predictable(prev: str, ch: str) -> bool:
    """Whether ``ch`` after ``prev`` adds almost nothing: a repeat or the next key or letter in a run."""
    if ch == prev:
        return True
    if abs(ord(ch) - ord(prev)) == 1 and ch.isalnum() and prev.isalnum():
        return True
    pair = prev + ch
    return any(pair in row or pair[::-1] in row for row in _KEYBOARD_ROWS)


def _estimate_bits(passphrase: str) -> float:
    """A conservative guessing-entropy estimate: character pool per position, common words and runs cheap."""
    text = unicodedata.normalize("NFC", passphrase)
    lowered = text.lower()
    word_bits = 0.0
    for word in _COMMON_PASSWORDS:
        while word in lowered:
            lowered = lowered.replace(word, "\x00", 1)
            word_bits += 10.0
    pool = 0
    if any(ch.islower() and ch.isascii() for ch in text):
        pool += 26
    if any(ch.isupper() and ch.isascii() for ch in text):
        pool += 26
    if any(ch.isdigit() and ch.isascii() for ch in text):
        pool += 10
    if any(ch.isascii() and not ch.isalnum() for ch in text):
        pool += 33
    if any(not ch.isascii() for ch in text):
        pool += 100
    per_char = math.log2(max(pool, 2))
    bits = word_bits
    prev = ""
    for ch in lowered:
        if ch == "\x00":
            prev = ""
            continue
        bits += 1.0 if prev and _predictable(prev, ch) else per_char
        prev = ch
    return bits


def passphrase_strength(passphrase: str) -> tuple[int, str]:
    """Score 0 (useless) to 4 (strong) and a translatable hint for the UI.

    The kit accepts score 2 and above with at least 10 characters. The estimate counts the character
    pool at each position and charges almost nothing for repeats, runs (``1234``, ``abcd``, keyboard
    rows) and common passwords; a few unrelated words score well, ``Password123!`` does not.
    """
    bits = _estimate_bits(passphrase)
    score = 0 if bits < 30 else 1 if bits < 45 else 2 if bits < 60 else 3 if bits < 80 else 4
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        return min(score, 1), PASSPHRASE_TOO_SHORT
    if score < 2:
        return score, PASSPHRASE_GUESSABLE
    return score, PASSPHRASE_STRONG if score == 4 else PASSPHRASE_ACCEPTABLE


def check_passphrase(passphrase: str) -> None:
    """Raise :class:`ValidationError` with the hint when the passphrase is not strong enough."""
    score, hint = passphrase_strength(passphrase)
    if score < 2 or len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise ValidationError(hint)


def _passphrase_bytes(passphrase: str) -> bytes:
    # NFC, so the same passphrase typed on macOS (NFD input) and Windows opens the file.
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# KDF


@dataclass(frozen=True)
class KdfParams:
    """Argon2id settings. The default is measured, not guessed: see the decision record."""

    memory_kib: int = 256 * 1024
    iterations: int = 3
    lanes: int = 4

    def to_json(self) -> dict[str, int]:
        return {"memory_kib": self.memory_kib, "iterations": self.iterations, "lanes": self.lanes}

    @classmethod
    def from_json(cls, value: object, *, path: str) -> "KdfParams":
        if not isinstance(value, dict) or set(value) != {"memory_kib", "iterations", "lanes"} or \
                not all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
            raise CryptoError(N_("{path} is not a kit key file: {detail}"), path=path, detail="bad kdf_params")
        params = cls(**value)
        # Bounds keep a hostile file from asking for gigabytes or hours, and weak settings out.
        if not (8 * 1024 <= params.memory_kib <= 4 * 1024 * 1024 and 1 <= params.iterations <= 32
                and 1 <= params.lanes <= 16):
            raise CryptoError(N_("{path} is not a kit key file: {detail}"), path=path, detail="kdf_params out of range")
        return params

    def derive(self, passphrase: str, salt: bytes) -> bytes:
        return Argon2id(salt=salt, length=32, iterations=self.iterations, lanes=self.lanes,
                        memory_cost=self.memory_kib).derive(_passphrase_bytes(passphrase))


DEFAULT_KDF = KdfParams()


# ---------------------------------------------------------------------------------------------
# public cards


@dataclass(frozen=True)
class PublicCard:
    """A party's public keys with a self-signature binding them together."""

    role: Role
    name: str
    created: str
    signing_key: PublicKey
    age_recipient: str
    signature: bytes

    @property
    def fingerprint(self) -> str:
        return self.signing_key.fingerprint()

    def public_fields(self) -> dict[str, Any]:
        return {"format": CARD_FORMAT, "format_version": FORMAT_VERSION, "role": self.role.value, "name": self.name,
                "created": self.created, "ed25519": self.signing_key.to_base64(),
                "age_recipient": self.age_recipient, "fingerprint": self.fingerprint}

    def to_json(self) -> dict[str, Any]:
        return {**self.public_fields(), "self_signature": _b64(self.signature)}

    def to_bytes(self) -> bytes:
        return document_bytes(self.to_json())

    @classmethod
    def from_bytes(cls, data: bytes, *, what: str) -> "PublicCard":
        """Parse a card and check its self-signature and fingerprint."""
        try:
            doc = loads_strict(data, what=what)
            if doc.get("format") != CARD_FORMAT:
                raise ValidationError(N_("{what} is not a public key card."), what=what)
            if doc.get("format_version") != FORMAT_VERSION:
                raise ValidationError(N_("{what} was made by a newer version of the kit (format {version})."),
                                      what=what, version=doc.get("format_version"))
            expected_keys = {"format", "format_version", "role", "name", "created", "ed25519", "age_recipient",
                             "fingerprint", "self_signature"}
            if set(doc) != expected_keys:
                raise ValidationError(N_("{what} is not a public key card."), what=what)
            signature = base64.b64decode(str(doc["self_signature"]), validate=True)
            parse_utc(doc["created"], what=f"{what}: created")
            card = cls(role=parse_role(doc["role"]), name=check_name(doc["name"]), created=doc["created"],
                       signing_key=PublicKey.from_string(str(doc["ed25519"])),
                       age_recipient=parse_recipient(doc["age_recipient"], what=what), signature=signature)
        except ValidationError:
            raise
        except (ValueError, KitError) as exc:
            raise ValidationError(N_("{what} is not a public key card."), what=what) from exc
        if card.public_fields() != {k: v for k, v in doc.items() if k != "self_signature"}:
            raise CryptoError(N_("The public key card {what} was altered: its fingerprint or fields do not match."),
                              what=what)
        try:
            card.signing_key.verify_detached(_CARD_SIGNATURE_PREFIX + canonical_bytes(card.public_fields()),
                                             signature)
        except BadSignatureError as exc:
            raise CryptoError(N_("The public key card {what} was altered: its self-signature does not match."),
                              what=what) from exc
        return card

    @classmethod
    def from_file(cls, path: Path | str) -> "PublicCard":
        p = Path(path)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise UserInputError(N_("No such file or folder: {path}"), path=str(p)) from None
        return cls.from_bytes(data, what=p.name)


# ---------------------------------------------------------------------------------------------
# key sets


@dataclass(frozen=True)
class KeySet:
    """One party's secret keys (in memory only; on disk always encrypted)."""

    role: Role
    name: str
    created: str
    signing_key: SigningKey
    age_identity: X25519Identity

    @classmethod
    def generate(cls, role: Role | str, name: str) -> "KeySet":
        return cls(role=parse_role(role), name=check_name(name), created=format_utc(now_utc()),
                   signing_key=SigningKey.generate(), age_identity=X25519Identity.generate())

    @property
    def public_key(self) -> PublicKey:
        return self.signing_key.public_key()

    @property
    def age_recipient(self) -> str:
        return self.age_identity.recipient().to_string()

    @property
    def fingerprint(self) -> str:
        return self.public_key.fingerprint()

    def card(self) -> PublicCard:
        unsigned = PublicCard(role=self.role, name=self.name, created=self.created, signing_key=self.public_key,
                              age_recipient=self.age_recipient, signature=b"")
        signature = self.signing_key.sign_detached(_CARD_SIGNATURE_PREFIX + canonical_bytes(unsigned.public_fields()))
        return PublicCard(role=self.role, name=self.name, created=self.created, signing_key=self.public_key,
                          age_recipient=self.age_recipient, signature=signature)


@dataclass(frozen=True)
class KeyFileInfo:
    """The public part of a key file, readable without the passphrase (not yet authenticated)."""

    path: Path
    role: Role
    name: str
    created: str
    signing_key: PublicKey
    age_recipient: str

    @property
    def fingerprint(self) -> str:
        return self.signing_key.fingerprint()


def keyfile_bytes(keyset: KeySet, passphrase: str, *, kdf: KdfParams = DEFAULT_KDF) -> bytes:
    """Seal ``keyset`` under ``passphrase`` into key-file bytes."""
    salt = os.urandom(_SALT_BYTES)
    header: dict[str, Any] = {
        "format": KEYFILE_FORMAT, "format_version": FORMAT_VERSION, "role": keyset.role.value, "name": keyset.name,
        "created": keyset.created, "ed25519": keyset.public_key.to_base64(), "age_recipient": keyset.age_recipient,
        "fingerprint": keyset.fingerprint, "kdf": "argon2id", "kdf_params": kdf.to_json(), "salt": _b64(salt),
        "aead": "chacha20-poly1305",
    }
    secret = canonical_bytes({"ed25519_seed": _b64(keyset.signing_key.private_seed()),
                              "age_identity": keyset.age_identity.to_string()})
    nonce = os.urandom(_NONCE_BYTES)
    sealed = ChaCha20Poly1305(kdf.derive(passphrase, salt)).encrypt(nonce, secret,
                                                                    _KEYFILE_AAD_PREFIX + canonical_bytes(header))
    return document_bytes({**header, "nonce": _b64(nonce), "ciphertext": _b64(sealed)})


def _read_envelope(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > _MAX_KEYFILE_BYTES:
            raise CryptoError(N_("{path} is not a kit key file: {detail}"), path=str(path), detail="too large")
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserInputError(N_("There is no key file at {path}. Create one with 'sdgkit keys create'."),
                             path=str(path)) from None
    try:
        doc = loads_strict(data, what=path.name)
    except ValidationError as exc:
        raise CryptoError(N_("{path} is not a kit key file: {detail}"), path=str(path), detail="not JSON") from exc
    if doc.get("format") != KEYFILE_FORMAT:
        raise CryptoError(N_("{path} is not a kit key file: {detail}"), path=str(path), detail="wrong format")
    if doc.get("format_version") != FORMAT_VERSION:
        raise CryptoError(N_("The key file {path} was made by a newer version of the kit (format {version})."),
                          path=str(path), version=doc.get("format_version"))
    required = {"role", "name", "created", "ed25519", "age_recipient", "fingerprint", "kdf", "kdf_params", "salt",
                "aead", "nonce", "ciphertext"}
    if not required <= set(doc) or doc["kdf"] != "argon2id" or doc["aead"] != "chacha20-poly1305":
        raise CryptoError(N_("{path} is not a kit key file: {detail}"), path=str(path), detail="missing fields")
    return doc


def read_keyfile_info(path: Path | str) -> KeyFileInfo:
    """The public part of a key file without asking for the passphrase."""
    p = Path(path)
    doc = _read_envelope(p)
    try:
        parse_utc(doc["created"], what="created")
        info = KeyFileInfo(path=p, role=parse_role(doc["role"]), name=check_name(doc["name"]), created=doc["created"],
                           signing_key=PublicKey.from_string(str(doc["ed25519"])),
                           age_recipient=parse_recipient(doc["age_recipient"], what=p.name))
    except ValidationError as exc:
        raise CryptoError(N_("{path} is not a kit key file: {detail}"), path=str(p), detail=exc.message("en")) from exc
    if info.fingerprint != doc["fingerprint"]:
        raise CryptoError(N_("{path} is not a kit key file: {detail}"), path=str(p), detail="fingerprint mismatch")
    return info


def _open_keyfile(path: Path, passphrase: str) -> KeySet:
    doc = _read_envelope(path)
    info = read_keyfile_info(path)
    kdf = KdfParams.from_json(doc["kdf_params"], path=str(path))
    salt = _unb64(doc["salt"], _SALT_BYTES, path=str(path), field="salt")
    nonce = _unb64(doc["nonce"], _NONCE_BYTES, path=str(path), field="nonce")
    sealed = _unb64(doc["ciphertext"], None, path=str(path), field="ciphertext")
    header = {k: v for k, v in doc.items() if k not in ("nonce", "ciphertext")}
    try:
        secret = ChaCha20Poly1305(kdf.derive(passphrase, salt)).decrypt(
            nonce, sealed, _KEYFILE_AAD_PREFIX + canonical_bytes(header))
    except InvalidTag:
        raise CryptoError(N_("The passphrase is wrong, or the key file {path} was altered."), path=str(path)) from None
    inner = loads_strict(secret, what=path.name)
    signing_key = SigningKey.from_seed(_unb64(inner.get("ed25519_seed"), 32, path=str(path), field="seed"),
                                       info.signing_key.key_id)
    identity = X25519Identity.from_string(str(inner.get("age_identity")))
    keyset = KeySet(role=info.role, name=info.name, created=info.created, signing_key=signing_key,
                    age_identity=identity)
    if keyset.public_key != info.signing_key or keyset.age_recipient != info.age_recipient:
        raise CryptoError(N_("The key file {path} is damaged: its public and secret keys do not match."),
                          path=str(path))
    return keyset


def _pending_path(path: Path) -> Path:
    return path.with_name(path.name + ".new")


def load_keyfile(path: Path | str, passphrase: str) -> KeySet:
    """Open a key file. If a passphrase change was interrupted, the new passphrase also works and
    finishing the change is part of opening."""
    p = Path(path)
    pending = _pending_path(p)
    try:
        return _open_keyfile(p, passphrase)
    except (CryptoError, UserInputError) as first:
        if not pending.is_file():
            raise
        try:
            keyset = _open_keyfile(pending, passphrase)
        except CryptoError:
            raise first from None
        replace_with_retry(pending, p)
        fsync_dir(p.parent)
        return keyset


def refuse_existing_keyfile(path: Path | str) -> None:
    """Key files are never overwritten: losing a key is worse than a refused command."""
    p = Path(path)
    if p.exists() or _pending_path(p).exists():
        raise UserInputError(N_("A key file already exists at {path}. Move it away first if you really mean to "
                                "replace it."), path=str(p))


def write_new_keyfile(path: Path | str, keyset: KeySet, passphrase: str, *, kdf: KdfParams = DEFAULT_KDF) -> Path:
    """Write a key file for a new key set; refuses weak passphrases and never overwrites a key file."""
    p = Path(path)
    refuse_existing_keyfile(p)
    check_passphrase(passphrase)
    atomic_write_bytes(p, keyfile_bytes(keyset, passphrase, kdf=kdf))  # reads back and compares the bytes
    return p


def change_passphrase(path: Path | str, old: str, new: str, *, kdf: KdfParams = DEFAULT_KDF) -> None:
    """Re-seal a key file under a new passphrase.

    The new file is written beside the old one (``<name>.new``) and opened with the new passphrase
    before it replaces the old file; until then the old file stays as it was.
    """
    p = Path(path)
    keyset = load_keyfile(p, old)
    check_passphrase(new)
    pending = _pending_path(p)
    atomic_write_bytes(pending, keyfile_bytes(keyset, new, kdf=kdf))
    reopened = _open_keyfile(pending, new)
    if reopened.signing_key.private_seed() != keyset.signing_key.private_seed() or \
            reopened.age_identity.to_string() != keyset.age_identity.to_string():
        pending.unlink()
        raise CryptoError(N_("The key file {path} did not read back as written. The drive may be failing."),
                          path=str(pending))
    replace_with_retry(pending, p)
    fsync_dir(p.parent)


def default_keyfile(keys_dir: Path, role: Role | str) -> Path:
    return Path(keys_dir) / f"{parse_role(role).value}{KEYFILE_SUFFIX}"


def card_path_for(keyfile: Path) -> Path:
    """``keys/city.key`` -> ``keys/city.card.json``."""
    return keyfile.with_name(keyfile.name.removesuffix(KEYFILE_SUFFIX) + CARD_SUFFIX)
