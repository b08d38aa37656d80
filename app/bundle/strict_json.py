"""JSON for signed documents: strict parsing and one canonical byte form.

Signed files are verified over their exact bytes and only then parsed. The parser rejects what
could make two readers see different content: duplicate keys, floats (and NaN/Infinity), and
bytes that are not UTF-8. :func:`canonical_bytes` is the single serialisation used wherever a
signature covers a re-serialised object (key cards, key-file associated data).
"""

from __future__ import annotations

import json
from typing import Any

from app.errors import ValidationError
from app.i18n import N_


class _Rejected(ValueError):
    """Internal: a construct strict JSON refuses."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Rejected(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_float(text: str) -> Any:
    raise _Rejected(f"number {text} is not an integer")


def _no_constant(text: str) -> Any:
    raise _Rejected(f"{text} is not allowed")


def loads_strict(data: bytes | str, *, what: str) -> dict[str, Any]:
    """Parse one JSON object; ``what`` names the file or field in the error message."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_float=_no_float,
                           parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError(N_("{what} is not valid JSON: {detail}"), what=what, detail=str(exc)) from exc
    if not isinstance(value, dict):
        raise ValidationError(N_("{what} is not valid JSON: {detail}"), what=what,
                              detail="the top level is not an object")
    return value


def canonical_bytes(value: Any) -> bytes:
    """Compact, key-sorted UTF-8 JSON: the byte form signatures over objects are computed on."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def document_bytes(value: Any) -> bytes:
    """The readable form written to signed files: sorted keys, two-space indent, final newline."""
    return (json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
