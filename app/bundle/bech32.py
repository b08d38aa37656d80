"""Bech32 (BIP-173) encoding as age uses it for its keys.

age writes recipients as ``age1...`` (lowercase) and identities as ``AGE-SECRET-KEY-1...``
(uppercase). This is the original BIP-173 checksum (constant 1), not Bech32m, with two of age's
departures from BIP-173:

* there is no 90-character length limit (age's post-quantum keys are much longer);
* the human-readable part is returned **in the case it was written in**, so a caller can insist
  on ``age`` for recipients and ``AGE-SECRET-KEY-`` for identities. A string may be all
  lowercase or all uppercase, never mixed; the checksum is computed over the lowercase form.

The data part is 8-bit bytes regrouped into 5-bit characters; decoding is strict (padding bits
must be zero and fewer than five), so every byte string has exactly one encoding.
"""

from __future__ import annotations

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {c: i for i, c in enumerate(CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_CHECKSUM_LENGTH = 6
_BECH32_CONST = 1  # Bech32m would use 0x2BC830A3


class Bech32Error(ValueError):
    """The text is not a valid Bech32 string (the message says why, in English, for logs)."""


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(_GENERATOR):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _create_checksum(hrp: str, values: list[int]) -> list[int]:
    polymod = _polymod(_hrp_expand(hrp) + values + [0] * _CHECKSUM_LENGTH) ^ _BECH32_CONST
    return [(polymod >> 5 * (5 - i)) & 31 for i in range(_CHECKSUM_LENGTH)]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc = 0
    bits = 0
    out: list[int] = []
    max_value = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & max_value)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & max_value)
    elif bits >= from_bits:
        raise Bech32Error("too many padding bits")
    elif (acc << (to_bits - bits)) & max_value:
        raise Bech32Error("non-zero padding bits")
    return out


def _check_hrp(hrp: str) -> None:
    if not hrp:
        raise Bech32Error("empty human-readable part")
    if any(not 33 <= ord(c) <= 126 for c in hrp):
        raise Bech32Error("invalid character in the human-readable part")


def encode(hrp: str, data: bytes) -> str:
    """Encode ``data`` under ``hrp``; the result is uppercase if ``hrp`` is, else lowercase."""
    _check_hrp(hrp)
    lower = hrp.lower()
    if hrp not in (lower, hrp.upper()):
        raise Bech32Error("mixed-case human-readable part")
    values = _convert_bits(data, 8, 5, pad=True)
    text = lower + "1" + "".join(CHARSET[v] for v in values + _create_checksum(lower, values))
    return text if hrp == lower else text.upper()


def decode(text: str) -> tuple[str, bytes]:
    """Decode a Bech32 string into ``(hrp as written, data)``; raise :class:`Bech32Error`."""
    lower = text.lower()
    if text not in (lower, text.upper()):
        raise Bech32Error("mixed case")
    pos = text.rfind("1")
    if pos < 1 or pos + 1 + _CHECKSUM_LENGTH > len(text):
        raise Bech32Error("separator '1' missing or misplaced")
    hrp = text[:pos]
    _check_hrp(hrp)
    try:
        values = [_CHARSET_INDEX[c] for c in lower[pos + 1:]]
    except KeyError:
        raise Bech32Error("invalid character in the data part") from None
    if _polymod(_hrp_expand(lower[:pos]) + values) != _BECH32_CONST:
        raise Bech32Error("checksum mismatch")
    return hrp, bytes(_convert_bits(values[:-_CHECKSUM_LENGTH], 5, 8, pad=False))
