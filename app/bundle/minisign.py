"""Ed25519 signatures in the minisign format (https://jedisct1.github.io/minisign/).

Everything the kit signs for other people to check (trust files, the bundle's ``SHA256SUMS``) is
a minisign signature, so a courier or a panel can check it with the stock ``minisign`` tool.

Formats, as minisign 0.11 reads and writes them (all base64 is the standard alphabet, padded):

* **public key** -- a comment line, then base64 of ``"Ed" || key_id[8] || pk[32]`` (``RW...``);
* **signature** -- four lines::

      untrusted comment: <free text, not authenticated>
      base64("ED" || key_id[8] || Ed25519(BLAKE2b-512(data)))
      trusted comment: <text>
      base64(Ed25519(signature[64] || trusted comment))

  ``ED`` is the prehashed form minisign makes by default; the legacy form ``Ed`` signs the data
  itself and is accepted when verifying;
* **secret key** -- a comment line, then base64 of ``"Ed" || kdf || "B2" || salt[32] ||
  opslimit[8 LE] || memlimit[8 LE] || (key_id[8] || seed[32] || pk[32] || chk[32]) XOR stream``,
  where ``kdf`` is ``"Sc"`` (the stream is scrypt of the passphrase, with libsodium's
  ``crypto_pwhash_scryptsalsa208sha256`` parameter choice) or two zero bytes (not encrypted, as
  ``minisign -W`` writes; the stream is then all zeros), and ``chk`` is BLAKE2b-256 of
  ``"Ed" || key_id || seed || pk``.

Files are hashed in 1 MiB blocks, so signing and checking a multi-gigabyte file takes constant
memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from app.errors import CryptoError, ValidationError
from app.i18n import N_
from app.progress import CancelToken, ProgressCallback, checker

SIG_ALG = b"Ed"  # public and secret keys; legacy signatures over the data itself
SIG_ALG_PREHASHED = b"ED"  # signatures over BLAKE2b-512 of the data
KDF_SCRYPT = b"Sc"
KDF_NONE = b"\x00\x00"
CHK_BLAKE2B = b"B2"

KEY_ID_BYTES = 8
UNTRUSTED_PREFIX = "untrusted comment: "
TRUSTED_PREFIX = "trusted comment: "
# minisign reads the untrusted comment line into 1024 bytes and the trusted one into 8192.
MAX_UNTRUSTED_COMMENT_BYTES = 1024 - len(UNTRUSTED_PREFIX) - 2
MAX_TRUSTED_COMMENT_BYTES = 4096

# libsodium's crypto_pwhash_scryptsalsa208sha256_{OPS,MEM}LIMIT_SENSITIVE: what minisign -G uses
# (scrypt N=2^20, r=8, p=1: 1 GiB of memory, about 5 s on the reference machine).
SCRYPT_OPSLIMIT_SENSITIVE = 33554432
SCRYPT_MEMLIMIT_SENSITIVE = 1073741824
# Refuse secret key files asking for more than this (a hostile file could ask for terabytes).
SCRYPT_MAX_MEMORY = 2 << 30
SCRYPT_MAX_WORK = 1 << 25  # N * p

LEGACY_MAX_BYTES = 1 << 30  # minisign's own limit for non-prehashed data

_SALT_BYTES = 32
_KEYNUM_SK_BYTES = KEY_ID_BYTES + 64 + 32
_SECRET_BYTES = 2 + 2 + 2 + _SALT_BYTES + 8 + 8 + _KEYNUM_SK_BYTES
_CHUNK = 1 << 20

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_ALIASES = {"O": "0", "I": "1", "L": "1"}
FINGERPRINT_BITS = 80


class WrongKeyError(CryptoError):
    """The signature names another key than the one it is checked against."""

    code = "wrong_key"


class BadSignatureError(CryptoError):
    """The signature does not verify: the data, the signature or its trusted comment changed."""

    code = "bad_signature"


# ---------------------------------------------------------------------------------------------
# helpers


def _b64decode(text: str, length: int) -> bytes | None:
    """Strict base64: the standard alphabet, padded, canonical, exactly ``length`` bytes."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != length or base64.b64encode(raw).decode("ascii") != text:
        return None
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def key_id_hex(key_id: bytes) -> str:
    """The key id as the little-endian number in upper-case hex, padded to 16 digits (minisign
    prints the same number without leading zeros: compare the numbers, not the strings)."""
    return f"{int.from_bytes(key_id, 'little'):016X}"


def _check_comment(text: str, limit: int, what: str) -> bytes:
    raw = text.encode("utf-8")
    if "\n" in text or "\r" in text or "\x00" in text or len(raw) > limit:
        raise ValidationError(N_("{what} contains a line break or is too long to be used as a signature comment."),
                              what=what)
    return raw


def blake2b_file(path: Path | str, *, progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None) -> bytes:
    """BLAKE2b-512 of a file, read in 1 MiB blocks (minisign's prehash)."""
    check = checker(cancel)
    total = os.path.getsize(path)
    h = hashlib.blake2b(digest_size=64)
    done = 0
    with open(path, "rb") as fh:
        while True:
            check()
            block = fh.read(_CHUNK)
            if not block:
                break
            h.update(block)
            done += len(block)
            if progress is not None:
                progress(done, total, N_("Computing the file checksum"))
    return h.digest()


def format_fingerprint(digest: bytes) -> str:
    """The first 80 bits of ``digest`` in Crockford base32, as four dash-separated groups of four."""
    number = int.from_bytes(digest[: FINGERPRINT_BITS // 8], "big")
    chars = "".join(_CROCKFORD[(number >> shift) & 31] for shift in range(FINGERPRINT_BITS - 5, -1, -5))
    return "-".join(chars[i:i + 4] for i in range(0, len(chars), 4))


def normalise_fingerprint(text: str) -> str:
    """Accept a fingerprint as people type it (any case, spaces, O for 0, I/L for 1)."""
    cleaned = "".join(ch for ch in text.upper() if ch not in " -\t")
    cleaned = "".join(_CROCKFORD_ALIASES.get(ch, ch) for ch in cleaned)
    if len(cleaned) != FINGERPRINT_BITS // 5 or any(ch not in _CROCKFORD for ch in cleaned):
        raise ValidationError(N_("{value} is not a key fingerprint (four groups of four letters and digits)."),
                              value=text)
    return "-".join(cleaned[i:i + 4] for i in range(0, len(cleaned), 4))


def scrypt_params(opslimit: int, memlimit: int) -> tuple[int, int, int]:
    """libsodium's ``pickparams``: scrypt ``(N, r, p)`` for an opslimit/memlimit pair."""
    opslimit = max(opslimit, 32768)
    r = 8
    if opslimit < memlimit // 32:
        p = 1
        max_n = opslimit // (r * 4)
        n_log2 = 1
        while n_log2 < 63 and (1 << n_log2) <= max_n // 2:
            n_log2 += 1
    else:
        max_n = memlimit // (r * 128)
        n_log2 = 1
        while n_log2 < 63 and (1 << n_log2) <= max_n // 2:
            n_log2 += 1
        max_rp = min((opslimit // 4) // (1 << n_log2), 0x3FFFFFFF)
        p = max_rp // r
    return 1 << n_log2, r, p


def _scrypt_stream(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    n, r, p = scrypt_params(opslimit, memlimit)
    if p < 1 or 128 * n * r > SCRYPT_MAX_MEMORY or n * p > SCRYPT_MAX_WORK:
        raise CryptoError(N_("The secret key asks for more memory or work ({memory} MB) than this kit allows."),
                          memory=(128 * n * r) >> 20)
    return Scrypt(salt=salt, length=_KEYNUM_SK_BYTES, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _secret_checksum(key_id: bytes, seed: bytes, pk: bytes) -> bytes:
    return hashlib.blake2b(SIG_ALG + key_id + seed + pk, digest_size=32).digest()


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _key_line(text: str) -> str:
    """The base64 line of a key file (the first line that is not a comment), or ``text`` itself."""
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(UNTRUSTED_PREFIX.rstrip()):
            return line
    return ""


# ---------------------------------------------------------------------------------------------
# signatures


@dataclass(frozen=True)
class Signature:
    """A parsed ``.minisig`` text."""

    algorithm: bytes  # SIG_ALG_PREHASHED or the legacy SIG_ALG
    key_id: bytes
    signature: bytes
    trusted_comment: str
    global_signature: bytes
    untrusted_comment: str

    @property
    def prehashed(self) -> bool:
        return self.algorithm == SIG_ALG_PREHASHED

    @classmethod
    def parse(cls, text: str) -> "Signature":
        lines = text.splitlines()
        while lines and not lines[-1].strip():
            lines.pop()
        if len(lines) != 4:
            raise CryptoError(N_("This is not a minisign signature: {detail}"), detail="expected four lines")
        if not lines[0].startswith(UNTRUSTED_PREFIX) or not lines[2].startswith(TRUSTED_PREFIX):
            raise CryptoError(N_("This is not a minisign signature: {detail}"), detail="comment lines missing")
        blob = _b64decode(lines[1].strip(), 2 + KEY_ID_BYTES + 64)
        global_sig = _b64decode(lines[3].strip(), 64)
        if blob is None or global_sig is None:
            raise CryptoError(N_("This is not a minisign signature: {detail}"), detail="bad base64")
        algorithm = blob[:2]
        if algorithm not in (SIG_ALG, SIG_ALG_PREHASHED):
            raise CryptoError(N_("This is not a minisign signature: {detail}"), detail="unknown algorithm")
        return cls(algorithm=algorithm, key_id=blob[2:2 + KEY_ID_BYTES], signature=blob[2 + KEY_ID_BYTES:],
                   trusted_comment=lines[2][len(TRUSTED_PREFIX):], global_signature=global_sig,
                   untrusted_comment=lines[0][len(UNTRUSTED_PREFIX):])

    def to_text(self) -> str:
        return (f"{UNTRUSTED_PREFIX}{self.untrusted_comment}\n"
                f"{_b64(self.algorithm + self.key_id + self.signature)}\n"
                f"{TRUSTED_PREFIX}{self.trusted_comment}\n"
                f"{_b64(self.global_signature)}\n")


def read_signature(path: Path | str) -> str:
    """Read a ``.minisig`` file as text; damaged encodings become :class:`CryptoError`."""
    try:
        return Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CryptoError(N_("This is not a minisign signature: {detail}"), detail="not UTF-8 text") from exc


# ---------------------------------------------------------------------------------------------
# keys


@dataclass(frozen=True)
class PublicKey:
    """A minisign public key: an 8-byte key id and a 32-byte Ed25519 public key."""

    key_id: bytes
    raw: bytes

    @classmethod
    def from_string(cls, text: str) -> "PublicKey":
        """Parse a public key file's text or its bare ``RW...`` base64 line."""
        blob = _b64decode(_key_line(text), 2 + KEY_ID_BYTES + 32)
        if blob is None or blob[:2] != SIG_ALG:
            raise CryptoError(N_("This is not a minisign public key: {detail}"),
                              detail="expected an 'RW...' line of 56 characters")
        return cls(key_id=blob[2:2 + KEY_ID_BYTES], raw=blob[2 + KEY_ID_BYTES:])

    @classmethod
    def from_file(cls, path: Path | str) -> "PublicKey":
        try:
            text = Path(path).read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CryptoError(N_("This is not a minisign public key: {detail}"), detail="not UTF-8 text") from exc
        return cls.from_string(text)

    @property
    def key_id_hex(self) -> str:
        return key_id_hex(self.key_id)

    def to_base64(self) -> str:
        """The ``RW...`` form, as accepted by ``minisign -P``."""
        return _b64(SIG_ALG + self.key_id + self.raw)

    def to_string(self, comment: str | None = None) -> str:
        """The text of a ``.pub`` file."""
        text = comment if comment is not None else f"minisign public key {self.key_id_hex}"
        _check_comment(text, MAX_UNTRUSTED_COMMENT_BYTES, "comment")
        return f"{UNTRUSTED_PREFIX}{text}\n{self.to_base64()}\n"

    def fingerprint(self) -> str:
        """SHA-256 of the 42 decoded bytes of the ``RW...`` line, first 80 bits, Crockford base32."""
        return format_fingerprint(hashlib.sha256(SIG_ALG + self.key_id + self.raw).digest())

    def _ed25519(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.raw)

    def verify_detached(self, message: bytes, signature: bytes) -> None:
        """Check a raw Ed25519 signature (no minisign framing) over ``message``."""
        try:
            self._ed25519().verify(signature, message)
        except InvalidSignature as exc:
            raise BadSignatureError(N_("The signature does not match: the signed data or the signature was altered.")) \
                from exc

    def _check_key_id(self, sig: Signature) -> None:
        if sig.key_id != self.key_id:
            raise WrongKeyError(N_("The signature was made with key {found}, not with the expected key {expected}."),
                                found=key_id_hex(sig.key_id), expected=self.key_id_hex)

    def _verify_parsed(self, sig: Signature, message: bytes) -> str:
        self._check_key_id(sig)
        self.verify_detached(message, sig.signature)
        try:
            self._ed25519().verify(sig.global_signature, sig.signature + sig.trusted_comment.encode("utf-8"))
        except InvalidSignature as exc:
            raise BadSignatureError(N_("The trusted comment of the signature was altered.")) from exc
        return sig.trusted_comment

    def verify_bytes(self, data: bytes, sig_text: str) -> str:
        """Verify a signature over ``data``; returns the (authenticated) trusted comment."""
        sig = Signature.parse(sig_text)
        message = hashlib.blake2b(data, digest_size=64).digest() if sig.prehashed else data
        return self._verify_parsed(sig, message)

    def verify_file(self, path: Path | str, sig_text: str, *, progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> str:
        """Verify a signature over a file's content; returns the trusted comment."""
        sig = Signature.parse(sig_text)
        self._check_key_id(sig)  # before reading a possibly large file
        if sig.prehashed:
            return self._verify_parsed(sig, blake2b_file(path, progress=progress, cancel=cancel))
        if os.path.getsize(path) > LEGACY_MAX_BYTES:
            raise CryptoError(N_("The file {path} is too large to check against a legacy (non-prehashed) signature."),
                              path=str(path))
        return self._verify_parsed(sig, Path(path).read_bytes())


class SigningKey:
    """An Ed25519 secret key with its minisign key id."""

    __slots__ = ("_key", "_key_id")

    def __init__(self, private_key: Ed25519PrivateKey, key_id: bytes) -> None:
        if len(key_id) != KEY_ID_BYTES:
            raise ValueError("a key id has 8 bytes")
        self._key = private_key
        self._key_id = bytes(key_id)

    @classmethod
    def generate(cls) -> "SigningKey":
        return cls(Ed25519PrivateKey.generate(), os.urandom(KEY_ID_BYTES))

    @classmethod
    def from_seed(cls, seed: bytes, key_id: bytes) -> "SigningKey":
        return cls(Ed25519PrivateKey.from_private_bytes(seed), key_id)

    @property
    def key_id(self) -> bytes:
        return self._key_id

    def private_seed(self) -> bytes:
        """The 32-byte Ed25519 seed. Secret: only for encrypting into a key file."""
        return self._key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                       serialization.NoEncryption())

    def public_key(self) -> PublicKey:
        raw = self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return PublicKey(key_id=self._key_id, raw=raw)

    def sign_detached(self, message: bytes) -> bytes:
        """A raw 64-byte Ed25519 signature over ``message`` (callers add their own domain prefix)."""
        return self._key.sign(message)

    def _sign_message(self, algorithm: bytes, message: bytes, trusted_comment: str,
                      untrusted_comment: str | None) -> str:
        trusted = _check_comment(trusted_comment, MAX_TRUSTED_COMMENT_BYTES, "trusted comment")
        untrusted = untrusted_comment if untrusted_comment is not None else \
            f"signature from minisign secret key {key_id_hex(self._key_id)}"
        _check_comment(untrusted, MAX_UNTRUSTED_COMMENT_BYTES, "comment")
        signature = self._key.sign(message)
        return Signature(algorithm=algorithm, key_id=self._key_id, signature=signature,
                         trusted_comment=trusted_comment, global_signature=self._key.sign(signature + trusted),
                         untrusted_comment=untrusted).to_text()

    def sign_bytes(self, data: bytes, trusted_comment: str, *, untrusted_comment: str | None = None) -> str:
        """A prehashed (``ED``) signature over ``data``; returns the ``.minisig`` text."""
        return self._sign_message(SIG_ALG_PREHASHED, hashlib.blake2b(data, digest_size=64).digest(),
                                  trusted_comment, untrusted_comment)

    def sign_file(self, path: Path | str, trusted_comment: str, *, untrusted_comment: str | None = None,
                  progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> str:
        """A prehashed (``ED``) signature over a file, hashed in constant memory."""
        return self._sign_message(SIG_ALG_PREHASHED, blake2b_file(path, progress=progress, cancel=cancel),
                                  trusted_comment, untrusted_comment)

    # -- minisign secret key files ------------------------------------------------------------

    def to_minisign_secret(self, passphrase: str | None, *, opslimit: int = SCRYPT_OPSLIMIT_SENSITIVE,
                           memlimit: int = SCRYPT_MEMLIMIT_SENSITIVE) -> str:
        """The text of a minisign secret key file, encrypted with scrypt unless ``passphrase`` is None.

        The defaults are minisign's own (1 GiB, about 5 s); smaller limits are read by minisign too.
        """
        seed = self.private_seed()
        pk = self.public_key().raw
        plain = self._key_id + seed + pk + _secret_checksum(self._key_id, seed, pk)
        if passphrase is None:
            header = SIG_ALG + KDF_NONE + CHK_BLAKE2B + bytes(_SALT_BYTES) + bytes(16)
            comment = "minisign secret key (not encrypted)"
            body = plain
        else:
            salt = os.urandom(_SALT_BYTES)
            header = SIG_ALG + KDF_SCRYPT + CHK_BLAKE2B + salt + struct.pack("<QQ", opslimit, memlimit)
            comment = "minisign encrypted secret key"
            body = _xor(plain, _scrypt_stream(passphrase, salt, opslimit, memlimit))
        return f"{UNTRUSTED_PREFIX}{comment}\n{_b64(header + body)}\n"

    @classmethod
    def from_minisign_secret(cls, text: str, passphrase: str | None) -> "SigningKey":
        """Read a minisign secret key file (encrypted or not)."""
        blob = _b64decode(_key_line(text), _SECRET_BYTES)
        if blob is None:
            raise CryptoError(N_("This is not a minisign secret key: {detail}"), detail="bad base64 or length")
        sig_alg, kdf, chk_alg = blob[0:2], blob[2:4], blob[4:6]
        if sig_alg != SIG_ALG or chk_alg != CHK_BLAKE2B or kdf not in (KDF_SCRYPT, KDF_NONE):
            raise CryptoError(N_("This is not a minisign secret key: {detail}"), detail="unsupported algorithm")
        salt = blob[6:6 + _SALT_BYTES]
        opslimit, memlimit = struct.unpack("<QQ", blob[6 + _SALT_BYTES:6 + _SALT_BYTES + 16])
        body = blob[6 + _SALT_BYTES + 16:]
        if kdf == KDF_SCRYPT:
            if passphrase is None:
                raise CryptoError(N_("The secret key is protected by a passphrase; enter it to use the key."))
            body = _xor(body, _scrypt_stream(passphrase, salt, opslimit, memlimit))
        key_id, seed, pk, chk = body[:8], body[8:40], body[40:72], body[72:]
        # minisign -W leaves the checksum of an unencrypted key as zeros and never reads it.
        checksum_required = kdf == KDF_SCRYPT or chk != bytes(32)
        if checksum_required and not hmac.compare_digest(chk, _secret_checksum(key_id, seed, pk)):
            if kdf == KDF_SCRYPT:
                raise CryptoError(N_("Wrong passphrase for this secret key."))
            raise CryptoError(N_("This is not a minisign secret key: {detail}"), detail="checksum mismatch")
        key = cls.from_seed(seed, key_id)
        if key.public_key().raw != pk:
            raise CryptoError(N_("The secret key file is damaged: its public and secret halves do not match."))
        return key
