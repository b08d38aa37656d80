"""The age v1 file format (https://c2sp.org/age), streaming, on ``cryptography`` primitives.

Every object in a submission bundle is an age file encrypted to the panel's X25519 recipients,
so any reviewer can also open it with the stock ``age``/``rage`` tools. This module writes and
reads that format in constant memory and is checked against the official test vectors
(C2SP/CCTV ``age/testdata``), ``pyrage`` and the ``age`` command.

Format summary (what the code below implements):

* **Header** -- the line ``age-encryption.org/v1``, one *stanza* per recipient, then
  ``--- <MAC>``. A stanza is ``-> TYPE ARG...`` followed by its body in canonical unpadded
  base64, 64 columns a line, always ending with a line shorter than 64 columns (possibly
  empty). Each stanza wraps the same random 16-byte *file key*. The MAC is HMAC-SHA-256 over
  the header up to and including ``---``, keyed with HKDF-SHA-256(file key, info "header").
* **X25519 stanza** -- ``-> X25519 <ephemeral share>``; the body is the file key sealed with
  ChaCha20-Poly1305 (zero nonce) under HKDF-SHA-256(shared secret, salt share || recipient,
  info "age-encryption.org/v1/X25519"). An all-zero shared secret is rejected.
* **scrypt stanza** (passphrase files, read only) -- ``-> scrypt <salt> <log2 N>``; it must be
  the only stanza of its file.
* **Payload** -- a 16-byte nonce, then the plaintext in 64 KiB chunks, each sealed with
  ChaCha20-Poly1305 under HKDF-SHA-256(file key, salt nonce, info "payload") with the nonce
  ``11-byte big-endian chunk counter || last-chunk flag``. Only the final chunk carries the flag;
  it may be short or full but is empty only when the whole plaintext is empty.
* **ASCII armor** (read only) -- PEM with type ``AGE ENCRYPTED FILE``, strict base64, 64
  columns, LF or CRLF line ends, whitespace allowed only around the armor.

Stanzas of other types (rage's random "grease" stanzas, post-quantum ``mlkem768x25519``
stanzas) are ignored when looking for a key, as the specification requires.

Limits: a reader refuses headers above :attr:`Limits.max_header_bytes` and files with more
than :attr:`Limits.max_stanzas` stanzas *before* doing any key agreement, because every stanza
costs an X25519 operation before the MAC can be checked.

**Partial output.** :func:`decrypt_stream` writes each 64 KiB chunk only after it
authenticates, but a file damaged in its middle or truncated still yields the chunks before the
damage. The caller must write into a temporary file and delete it when a :class:`AgeError` (or
:class:`~app.errors.Cancelled`) is raised; nothing written before the error may be used.
"""

from __future__ import annotations

import base64
import io
import os
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, ClassVar

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from app.bundle import bech32
from app.errors import CryptoError
from app.i18n import N_
from app.progress import CancelToken, ProgressCallback, checker, no_progress

INTRO = b"age-encryption.org/v1\n"
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
FILE_KEY_SIZE = 16
PAYLOAD_NONCE_SIZE = 16
MAC_SIZE = 32

RECIPIENT_HRP = "age"
IDENTITY_HRP = "AGE-SECRET-KEY-"
X25519_LABEL = b"age-encryption.org/v1/X25519"
SCRYPT_LABEL = b"age-encryption.org/v1/scrypt"
SCRYPT_SALT_SIZE = 16
# scrypt N = 2**20 with r = 8 needs 1 GiB of memory. age itself writes 2**18 by default.
DEFAULT_SCRYPT_MAX_WORK_FACTOR = 20

ARMOR_BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
ARMOR_END = b"-----END AGE ENCRYPTED FILE-----"

_BODY_COLUMNS = 64
_BODY_LINE_BYTES = 48
_ARMOR_MAX_WHITESPACE = 1024  # bytes of whitespace tolerated before and after the armor
_PROGRESS_STEP = 1 << 20  # report progress about once per MiB
_ZERO_NONCE = bytes(12)
_FOOTER_PREFIX = b"---"
_STANZA_PREFIX = b"->"
# One X25519 stanza as written here: "-> X25519 " + 43 chars + "\n" + 43 chars + "\n".
_X25519_STANZA_SIZE = 10 + 43 + 1 + 43 + 1
_FOOTER_SIZE = len(b"--- ") + 43 + 1

_B64_UNPADDED = re.compile(rb"[A-Za-z0-9+/]*")
_B64_PADDED = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
_ARGUMENT = re.compile(rb"[\x21-\x7e]+")
_OTHER_VERSION = re.compile(rb"age-encryption\.org/v[0-9]+\n")
_WORK_FACTOR = re.compile(r"[1-9][0-9]?")  # decimal 1..99, no sign or leading zero (any limit is far lower)

_chunk_nonce = struct.Struct(">3xQB").pack  # 11-byte big-endian counter, then the last-chunk flag


# ---------------------------------------------------------------------------------------------
# errors


class AgeError(CryptoError):
    """An age file could not be read or decrypted; ``reason`` tells the kinds of failure apart.

    ========== ====================================================================
    reason     meaning
    ========== ====================================================================
    not_age    the data does not start like an age file (binary or armored)
    version    an age file of another format version
    armor      the ASCII armor around the file is malformed
    header     the header is malformed or exceeds the reader's limits
    no_match   none of the given identities can open the file
    hmac       a key opened the file but the header MAC is wrong (header altered)
    payload    a payload chunk failed to authenticate, or data follows the final chunk
    truncated  the payload ends before its final chunk
    key        a key string is not a valid age key, or a key cannot be used
    ========== ====================================================================
    """

    code = "age"
    reason: ClassVar[str] = "age"


class NotAgeFileError(AgeError):
    code = "age_format"
    reason = "not_age"


class UnsupportedVersionError(NotAgeFileError):
    reason = "version"


class ArmorError(AgeError):
    code = "age_armor"
    reason = "armor"


class HeaderError(AgeError):
    code = "age_header"
    reason = "header"


class NoIdentityMatchError(AgeError):
    code = "age_no_match"
    reason = "no_match"


class HeaderMacError(AgeError):
    code = "age_hmac"
    reason = "hmac"


class PayloadError(AgeError):
    code = "age_payload"
    reason = "payload"


class TruncatedError(PayloadError):
    code = "age_truncated"
    reason = "truncated"


class AgeKeyError(AgeError):
    code = "age_key"
    reason = "key"


def _header_error(detail: str) -> HeaderError:
    return HeaderError(N_("The header of the encrypted file is damaged ({detail})."), detail=detail)


def _armor_error(detail: str) -> ArmorError:
    return ArmorError(N_("The text armor around the encrypted file is damaged ({detail})."), detail=detail)


def _payload_error(detail: str) -> PayloadError:
    return PayloadError(N_("The encrypted contents are damaged ({detail})."), detail=detail)


def _truncated_error() -> TruncatedError:
    return TruncatedError(N_("The encrypted file is incomplete: it ends before its final part."))


# ---------------------------------------------------------------------------------------------
# base64 as age writes it


def _b64encode(data: bytes) -> bytes:
    return base64.b64encode(data).rstrip(b"=")


def _b64decode(text: bytes) -> bytes | None:
    """Canonical unpadded base64 (standard alphabet) or ``None``."""
    if not _B64_UNPADDED.fullmatch(text) or len(text) % 4 == 1:
        return None
    data = base64.b64decode(text + b"=" * (-len(text) % 4))
    return data if _b64encode(data) == text else None


def _b64decode_padded(text: bytes) -> bytes | None:
    """Canonical padded base64 (the armor's encoding) or ``None``."""
    if not _B64_PADDED.fullmatch(text) or len(text) % 4:
        return None
    data = base64.b64decode(text)
    return data if base64.b64encode(data) == text else None


def _hkdf(ikm: bytes, salt: bytes | None, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def _open_file_key(wrap_key: bytes, body: bytes) -> bytes | None:
    """The file key sealed in a stanza body, or ``None`` if the tag does not verify."""
    try:
        return ChaCha20Poly1305(wrap_key).decrypt(_ZERO_NONCE, body, None)
    except InvalidTag:
        return None


# ---------------------------------------------------------------------------------------------
# keys


class X25519Recipient:
    """An age X25519 public key (``age1...``): whom a file is encrypted to.

    Recipients compare, sort and hash by their 32 key bytes.
    """

    __slots__ = ("public_key",)

    def __init__(self, public_key: bytes) -> None:
        if len(public_key) != 32:
            raise ValueError("an X25519 public key has 32 bytes")
        self.public_key = bytes(public_key)

    @classmethod
    def from_string(cls, s: str) -> X25519Recipient:
        try:
            hrp, data = bech32.decode(s.strip())
        except bech32.Bech32Error as exc:
            raise AgeKeyError(N_("This is not an age public key ({detail})."), detail=str(exc)) from None
        if hrp != RECIPIENT_HRP or len(data) != 32:
            raise AgeKeyError(N_("This is not an age public key ({detail})."),
                              detail="not an age1... X25519 key")
        return cls(data)

    def to_string(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self.public_key)

    def _wrap(self, file_key: bytes) -> Stanza:
        ephemeral = X25519PrivateKey.generate()
        share = ephemeral.public_key().public_bytes_raw()
        try:
            secret = ephemeral.exchange(X25519PublicKey.from_public_bytes(self.public_key))
        except ValueError:  # a low-order point: the shared secret would be all zeros
            raise AgeKeyError(N_("The age public key {key} cannot be used for encryption."),
                              key=self.to_string()) from None
        wrap_key = _hkdf(secret, share + self.public_key, X25519_LABEL)
        body = ChaCha20Poly1305(wrap_key).encrypt(_ZERO_NONCE, file_key, None)
        return Stanza("X25519", (_b64encode(share).decode("ascii"),), body)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X25519Recipient) and self.public_key == other.public_key

    def __lt__(self, other: X25519Recipient) -> bool:
        return self.public_key < other.public_key

    def __hash__(self) -> int:
        return hash((X25519Recipient, self.public_key))

    def __repr__(self) -> str:
        return f"X25519Recipient({self.to_string()!r})"

    __str__ = to_string


class X25519Identity:
    """An age X25519 secret key (``AGE-SECRET-KEY-1...``): who can open a file.

    ``repr()`` shows only the public half, so an identity never lands in a log by accident.
    """

    __slots__ = ("_key", "_public")

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._key = private_key
        self._public = private_key.public_key().public_bytes_raw()

    @classmethod
    def generate(cls) -> X25519Identity:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_string(cls, s: str) -> X25519Identity:
        try:
            hrp, data = bech32.decode(s.strip())
        except bech32.Bech32Error as exc:
            raise AgeKeyError(N_("This is not an age secret key ({detail})."), detail=str(exc)) from None
        if hrp != IDENTITY_HRP or len(data) != 32:
            raise AgeKeyError(N_("This is not an age secret key ({detail})."),
                              detail="not an AGE-SECRET-KEY-1... X25519 key")
        return cls(X25519PrivateKey.from_private_bytes(data))

    def to_string(self) -> str:
        return bech32.encode(IDENTITY_HRP, self._key.private_bytes_raw())

    def recipient(self) -> X25519Recipient:
        return X25519Recipient(self._public)

    def _unwrap(self, stanza: Stanza) -> bytes | None:
        if stanza.type != "X25519":
            return None
        if len(stanza.args) != 1:
            raise _header_error("an X25519 stanza has one argument")
        share = _b64decode(stanza.args[0].encode("ascii"))
        if share is None or len(share) != 32:
            raise _header_error("invalid X25519 share")
        if len(stanza.body) != FILE_KEY_SIZE + TAG_SIZE:
            raise _header_error("the wrapped file key has the wrong length")
        try:
            secret = self._key.exchange(X25519PublicKey.from_public_bytes(share))
        except ValueError:  # OpenSSL refuses the all-zero result of a low-order share
            raise _header_error("X25519 share of low order") from None
        return _open_file_key(_hkdf(secret, share + self._public, X25519_LABEL), stanza.body)

    def __repr__(self) -> str:
        return f"X25519Identity(recipient={self.recipient().to_string()!r})"


class ScryptIdentity:
    """A passphrase, to open passphrase-encrypted age files (``age -p``).

    The kit never writes such files; this exists so they are read correctly. ``max_work_factor``
    bounds log2(N) and so the memory a hostile file can make the reader allocate (128 * 8 * N
    bytes: 1 GiB at 20).
    """

    __slots__ = ("_passphrase", "max_work_factor")

    def __init__(self, passphrase: str, *, max_work_factor: int = DEFAULT_SCRYPT_MAX_WORK_FACTOR) -> None:
        self._passphrase = passphrase.encode("utf-8")
        self.max_work_factor = max_work_factor

    def _unwrap(self, stanza: Stanza) -> bytes | None:
        if stanza.type != "scrypt":
            return None
        if len(stanza.args) != 2:
            raise _header_error("an scrypt stanza has two arguments")
        salt = _b64decode(stanza.args[0].encode("ascii"))
        if salt is None or len(salt) != SCRYPT_SALT_SIZE:
            raise _header_error("invalid scrypt salt")
        if not _WORK_FACTOR.fullmatch(stanza.args[1]):
            raise _header_error("invalid scrypt work factor")
        log_n = int(stanza.args[1])
        if log_n > self.max_work_factor:
            raise HeaderError(N_("The passphrase-protected file asks for more memory ({memory} MiB) "
                                 "than this kit allows."), memory=(128 * 8 << log_n) >> 20)
        if len(stanza.body) != FILE_KEY_SIZE + TAG_SIZE:
            raise _header_error("the wrapped file key has the wrong length")
        key = Scrypt(salt=SCRYPT_LABEL + salt, length=32, n=1 << log_n, r=8, p=1).derive(self._passphrase)
        return _open_file_key(key, stanza.body)

    def __repr__(self) -> str:
        return "ScryptIdentity(***)"


Identity = X25519Identity | ScryptIdentity


# ---------------------------------------------------------------------------------------------
# header


@dataclass(frozen=True)
class Limits:
    """What a reader accepts before doing any key agreement."""

    max_header_bytes: int = 64 * 1024
    max_stanzas: int = 64


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Stanza:
    """One recipient stanza: ``-> type args...`` and its (decoded) body."""

    type: str
    args: tuple[str, ...]
    body: bytes

    def encode(self) -> bytes:
        """The stanza as it appears in a header (canonical, so parsing then encoding is exact)."""
        text = _b64encode(self.body)
        lines = [b" ".join([_STANZA_PREFIX, self.type.encode("ascii"), *(a.encode("ascii") for a in self.args)])]
        lines += [text[i:i + _BODY_COLUMNS] for i in range(0, len(text), _BODY_COLUMNS)]
        if len(text) % _BODY_COLUMNS == 0:
            lines.append(b"")  # the body always ends with a short line
        return b"\n".join(lines) + b"\n"


@dataclass(frozen=True)
class Header:
    """A parsed age header.

    ``mac_input`` is the exact header text the MAC covers (the intro line through ``---``);
    ``armored`` says whether the file was wrapped in ASCII armor.
    """

    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes
    armored: bool

    @property
    def stanza_types(self) -> tuple[str, ...]:
        return tuple(s.type for s in self.stanzas)

    @property
    def size(self) -> int:
        """Length of the binary header, MAC line included (the payload nonce follows it)."""
        return len(self.mac_input) - len(_FOOTER_PREFIX) + _FOOTER_SIZE


class _HeaderReader:
    """Reads header lines from ``src``, counting bytes against the header limit."""

    def __init__(self, src: BinaryIO, limits: Limits, consumed: int) -> None:
        self._src = src
        self._limit = limits.max_header_bytes
        self._size = consumed

    def line(self) -> bytes:
        remaining = self._limit - self._size
        line = self._src.readline(max(remaining, 0) + 1)
        self._size += len(line)
        if self._size > self._limit:
            raise HeaderError(N_("The header of the encrypted file is larger than {limit} bytes; "
                                 "it was not read."), limit=self._limit)
        if not line.endswith(b"\n"):
            raise _header_error("the header ends unexpectedly")
        return line


def _parse_header(src: BinaryIO, first_line: bytes, limits: Limits, armored: bool) -> Header:
    if first_line != INTRO:
        if _OTHER_VERSION.fullmatch(first_line):
            raise UnsupportedVersionError(N_("This file was encrypted with another version of the age "
                                             "format, which this kit cannot read."))
        if first_line.startswith(b"age-encryption.org/"):
            raise _header_error("malformed first line")
        raise NotAgeFileError(N_("This is not an age-encrypted file."))
    reader = _HeaderReader(src, limits, len(first_line))
    raw = [first_line]
    stanzas: list[Stanza] = []
    while True:
        line = reader.line()
        if line.startswith(_FOOTER_PREFIX):
            parts = line[:-1].split(b" ")
            if parts[0] != _FOOTER_PREFIX or len(parts) != 2:
                raise _header_error("malformed MAC line")
            mac = _b64decode(parts[1])
            if mac is None or len(mac) != MAC_SIZE:
                raise _header_error("malformed MAC")
            raw.append(_FOOTER_PREFIX)
            break
        if not line.startswith(_STANZA_PREFIX):
            raise _header_error("unexpected line")
        parts = line[:-1].split(b" ")
        if parts[0] != _STANZA_PREFIX or len(parts) < 2:
            raise _header_error("malformed stanza line")
        if not all(_ARGUMENT.fullmatch(p) for p in parts[1:]):
            raise _header_error("invalid stanza argument")
        if len(stanzas) == limits.max_stanzas:
            raise HeaderError(N_("The encrypted file lists more than {limit} recipients; it was not read."),
                              limit=limits.max_stanzas)
        raw.append(line)
        body: list[bytes] = []
        while True:
            body_line = reader.line()
            raw.append(body_line)
            chunk = _b64decode(body_line[:-1])
            if chunk is None or len(chunk) > _BODY_LINE_BYTES:
                raise _header_error("malformed stanza body")
            body.append(chunk)
            if len(chunk) < _BODY_LINE_BYTES:
                break
        args = tuple(p.decode("ascii") for p in parts[1:])
        stanzas.append(Stanza(args[0], args[1:], b"".join(body)))
    if len(stanzas) > 1 and any(s.type == "scrypt" for s in stanzas):
        raise _header_error("an scrypt stanza must be alone")
    return Header(tuple(stanzas), mac, b"".join(raw), armored)


# ---------------------------------------------------------------------------------------------
# armor


def _strip_eol(line: bytes) -> bytes:
    if line.endswith(b"\n"):
        line = line[:-1]
    return line[:-1] if line.endswith(b"\r") else line


class _ArmorReader(io.RawIOBase):
    """Decodes the base64 between the armor lines, one line at a time, strictly."""

    def __init__(self, src: BinaryIO, begin_line: bytes) -> None:
        super().__init__()
        if _strip_eol(begin_line) != ARMOR_BEGIN:
            raise _armor_error("the first line is not " + ARMOR_BEGIN.decode("ascii"))
        self._src = src
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view):
            if not self._pending:
                if self._done:
                    break
                self._pending = self._next_line()
                continue
            n = min(len(self._pending), len(view) - filled)
            view[filled:filled + n] = self._pending[:n]
            self._pending = self._pending[n:]
            filled += n
        return filled

    def _line(self) -> bytes:
        line = self._src.readline(_BODY_COLUMNS + 3)  # 64 columns, CR, LF, and one more to see overflow
        if not line:
            raise _armor_error("the END line is missing")
        return _strip_eol(line)

    def _next_line(self) -> bytes:
        line = self._line()
        if line == ARMOR_END:
            self._finish()
            return b""
        if len(line) > _BODY_COLUMNS:
            raise _armor_error("a line is longer than 64 characters")
        data = _b64decode_padded(line)
        if not data:
            raise _armor_error("a line is not canonical base64")
        if len(data) < _BODY_LINE_BYTES:
            if self._line() != ARMOR_END:
                raise _armor_error("a short line is not followed by the END line")
            self._finish()
        return data

    def _finish(self) -> None:
        self._done = True
        trailing = self._src.read(_ARMOR_MAX_WHITESPACE)
        if trailing.strip():
            raise _armor_error("data after the END line")
        if len(trailing) == _ARMOR_MAX_WHITESPACE:
            raise _armor_error("too much whitespace after the END line")


def _open(src: BinaryIO, limits: Limits) -> tuple[Header, BinaryIO]:
    """Parse the header of a binary or armored age file; return it and the binary reader."""
    line = src.readline(_ARMOR_MAX_WHITESPACE + 1)
    skipped = 0
    while line and not line.strip():  # whitespace lines may precede an armored file
        skipped += len(line)
        if skipped > _ARMOR_MAX_WHITESPACE:
            raise NotAgeFileError(N_("This is not an age-encrypted file."))
        line = src.readline(_ARMOR_MAX_WHITESPACE + 1)
    if line.startswith(b"-----"):
        reader: BinaryIO = io.BufferedReader(_ArmorReader(src, line), ENCRYPTED_CHUNK_SIZE)  # type: ignore[assignment]
        return _parse_header(reader, reader.readline(_ARMOR_MAX_WHITESPACE + 1), limits, armored=True), reader
    if skipped:
        raise NotAgeFileError(N_("This is not an age-encrypted file."))
    return _parse_header(src, line, limits, armored=False), src


def parse_header(src: BinaryIO, limits: Limits = DEFAULT_LIMITS) -> Header:
    """Read and check the syntax of an age header without any key.

    For a binary file ``src`` is left at the start of the payload; for an armored file its
    position is unspecified. Raises :class:`NotAgeFileError`, :class:`ArmorError` or
    :class:`HeaderError`.
    """
    return _open(src, limits)[0]


def _unwrap(header: Header, identities: Sequence[Identity]) -> bytes:
    for identity in identities:
        for stanza in header.stanzas:
            file_key = identity._unwrap(stanza)
            if file_key is not None:
                return file_key
    types = set(header.stanza_types)
    if "scrypt" in types:
        if any(isinstance(i, ScryptIdentity) for i in identities):
            raise NoIdentityMatchError(N_("The passphrase is wrong."))
        raise NoIdentityMatchError(N_("This file is protected by a passphrase, which this kit does not use."))
    if "mlkem768x25519" in types and "X25519" not in types:
        raise NoIdentityMatchError(N_("This file was encrypted for a post-quantum key, which this kit "
                                      "does not support yet."))
    raise NoIdentityMatchError(N_("This file was not encrypted for your key."))


def _header_mac(file_key: bytes, mac_input: bytes) -> hmac.HMAC:
    mac = hmac.HMAC(_hkdf(file_key, None, b"header"), hashes.SHA256())
    mac.update(mac_input)
    return mac


# ---------------------------------------------------------------------------------------------
# streaming


def _filler(src: BinaryIO) -> Callable[[memoryview], int]:
    """A function that fills a buffer from ``src`` as far as the data allows; 0 means EOF."""
    def read_into(view: memoryview) -> int:
        data = src.read(len(view))
        view[:len(data)] = data
        return len(data)

    readinto: Callable[[memoryview], int | None] = getattr(src, "readinto", read_into)

    def fill(view: memoryview) -> int:
        want = len(view)
        got = readinto(view) or 0
        while got and got < want:
            more = readinto(view[got:]) or 0
            if not more:
                break
            got += more
        return got

    return fill


def _writer(dst: BinaryIO) -> Callable[[memoryview], None]:
    """A function that writes a whole buffer to ``dst`` (raw files may write less per call)."""
    write = dst.write

    def write_all(view: memoryview) -> None:
        done = write(view)
        while done is not None and done < len(view):
            view = view[done:]
            done = write(view)

    return write_all


class _Progress:
    """Reports ``progress`` about once per MiB, and ``(done, done)`` at the end."""

    __slots__ = ("_callback", "_label", "_next", "_total")

    def __init__(self, callback: ProgressCallback | None, total: int | None, label: str) -> None:
        self._callback = callback or no_progress
        self._total = total or 0
        self._label = label
        self._next = 0

    def __call__(self, done: int, final: bool = False) -> None:
        if final or done >= self._next:
            self._next = done + _PROGRESS_STEP
            self._callback(done, done if final else self._total, self._label)


def encrypt_stream(src: BinaryIO, dst: BinaryIO, recipients: Sequence[X25519Recipient], *,
                   cancel: CancelToken | None = None, progress: ProgressCallback | None = None,
                   total: int | None = None) -> int:
    """Encrypt everything ``src`` yields to ``recipients``; return the bytes written to ``dst``.

    ``total`` is the plaintext size if known, passed through to ``progress(done, total, label)``
    (0 when unknown), where ``done`` counts plaintext bytes. ``cancel`` is checked between
    chunks and raises :class:`~app.errors.Cancelled`. Duplicate recipients are written once.
    ``dst.write`` must consume the bytes before returning (files and ``BytesIO`` do); ``dst`` is
    flushed before returning, so a full disk raises ``OSError`` here, not later. On any exception
    ``dst`` holds an incomplete file, which the caller must delete.
    """
    unique = list(dict.fromkeys(recipients))
    if not unique:
        raise ValueError("at least one recipient is required")
    check = checker(cancel)
    report = _Progress(progress, total, N_("Encrypting"))
    write = _writer(dst)
    fill = _filler(src)

    file_key = os.urandom(FILE_KEY_SIZE)
    header = INTRO + b"".join(r._wrap(file_key).encode() for r in unique) + _FOOTER_PREFIX
    header += b" " + _b64encode(_header_mac(file_key, header).finalize()) + b"\n"
    nonce = os.urandom(PAYLOAD_NONCE_SIZE)
    write(memoryview(header + nonce))
    written = len(header) + PAYLOAD_NONCE_SIZE

    encrypt_into = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload")).encrypt_into
    current, following = memoryview(bytearray(CHUNK_SIZE)), memoryview(bytearray(CHUNK_SIZE))
    sealed = memoryview(bytearray(ENCRYPTED_CHUNK_SIZE))
    counter = 0
    done = 0
    n = fill(current)
    while True:
        check()
        # Read ahead one chunk: only the chunk followed by EOF carries the last-chunk flag.
        m = fill(following) if n == CHUNK_SIZE else 0
        out = sealed[:n + TAG_SIZE]
        encrypt_into(_chunk_nonce(counter, m == 0), current[:n], None, out)
        write(out)
        written += n + TAG_SIZE
        done += n
        report(done)
        if m == 0:
            break
        current, following = following, current
        n = m
        counter += 1
    dst.flush()
    report(done, final=True)
    return written


def decrypt_stream(src: BinaryIO, dst: BinaryIO, identities: Sequence[Identity], *,
                   cancel: CancelToken | None = None, progress: ProgressCallback | None = None,
                   total: int | None = None, limits: Limits = DEFAULT_LIMITS) -> int:
    """Decrypt the age file in ``src`` with the first identity that opens it; return plaintext bytes.

    Binary and armored files are accepted. ``total`` is the size of ``src`` if known, passed
    through to ``progress(done, total, label)`` (0 when unknown), where ``done`` counts bytes of
    the binary age file processed. Each chunk is written to ``dst`` only after it authenticates,
    but **on any error the caller must discard what was written** (see the module docstring).
    Raises an :class:`AgeError` subclass (see its ``reason`` table) or
    :class:`~app.errors.Cancelled`.
    """
    if not identities:
        raise ValueError("at least one identity is required")
    check = checker(cancel)
    report = _Progress(progress, total, N_("Decrypting"))
    header, reader = _open(src, limits)
    file_key = _unwrap(header, identities)
    try:
        _header_mac(file_key, header.mac_input).verify(header.mac)
    except InvalidSignature:
        raise HeaderMacError(N_("The header of the encrypted file was altered: its authentication "
                                "code does not match.")) from None
    write = _writer(dst)
    fill = _filler(reader)
    nonce = memoryview(bytearray(PAYLOAD_NONCE_SIZE))
    if fill(nonce) != PAYLOAD_NONCE_SIZE:
        raise _truncated_error()
    done = header.size + PAYLOAD_NONCE_SIZE

    decrypt_into = ChaCha20Poly1305(_hkdf(file_key, bytes(nonce), b"payload")).decrypt_into
    sealed = memoryview(bytearray(ENCRYPTED_CHUNK_SIZE))
    plain = memoryview(bytearray(CHUNK_SIZE))
    counter = 0
    written = 0
    while True:
        check()
        n = fill(sealed)
        if n == 0:
            raise _truncated_error()  # EOF where a chunk should start: the final chunk is missing
        if n < TAG_SIZE:
            raise _payload_error(f"chunk {counter + 1} is too short")
        size = n - TAG_SIZE
        last = n < ENCRYPTED_CHUNK_SIZE
        try:
            decrypt_into(_chunk_nonce(counter, last), sealed[:n], None, plain[:size])
        except InvalidTag:
            if last:
                raise _payload_error(f"chunk {counter + 1} failed authentication") from None
            # A full chunk is normally followed by more; it may also be the final chunk.
            last = True
            try:
                decrypt_into(_chunk_nonce(counter, True), sealed, None, plain)
            except InvalidTag:
                raise _payload_error(f"chunk {counter + 1} failed authentication") from None
        if last and size == 0 and counter:
            raise _payload_error("the final chunk is empty")
        write(plain[:size])
        written += size
        done += n
        report(done)
        if last:
            if fill(sealed[:1]):
                raise _payload_error("data follows the final chunk")
            break
        counter += 1
    dst.flush()
    report(done, final=True)
    return written


def encrypt_bytes(data: bytes, recipients: Sequence[X25519Recipient]) -> bytes:
    """Encrypt ``data`` in memory (for small objects such as manifests)."""
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, recipients)
    return out.getvalue()


def decrypt_bytes(data: bytes, identities: Sequence[Identity], limits: Limits = DEFAULT_LIMITS) -> bytes:
    """Decrypt an age file held in memory; nothing is returned unless all of it authenticates."""
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(data), out, identities, limits=limits)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# sizes, for free-space checks


def payload_overhead(plaintext_size: int) -> int:
    """Bytes the payload adds to ``plaintext_size``: the nonce and one tag per 64 KiB chunk."""
    chunks = max(1, -(-plaintext_size // CHUNK_SIZE))
    return PAYLOAD_NONCE_SIZE + chunks * TAG_SIZE


def encrypted_size(plaintext_size: int, n_recipients: int) -> int:
    """The exact size of a file :func:`encrypt_stream` writes for ``n_recipients`` distinct keys.

    Exact for this writer only: other age implementations add random "grease" stanzas.
    """
    header = len(INTRO) + n_recipients * _X25519_STANZA_SIZE + _FOOTER_SIZE
    return header + plaintext_size + payload_overhead(plaintext_size)
