"""File names that are safe on every system the kit meets: FAT32, exFAT, NTFS, ext4, APFS.

A bundle carries the names of evidence files as the city gave them. Readers never trust them:
every name inside a bundle must pass :func:`check_member_path` before anything is written, and
the set of names must pass :func:`check_no_duplicates` (names that differ only by case or by
Unicode normalisation land on the same file on Windows and macOS). Writers use
:func:`safe_name` to turn any original name into one that passes.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable

from app.errors import BundleError
from app.i18n import N_

MAX_PATH_CHARS = 200  # below Windows' MAX_PATH with room for the folder the bundle is opened into
MAX_COMPONENT_BYTES = 255
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
             *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10)),
             *(f"COM{c}" for c in "¹²³"), *(f"LPT{c}" for c in "¹²³")}
_FORBIDDEN_CHARS = set('<>:"|?*\\') | {chr(i) for i in range(32)} | {"\x7f"}


def _bad(path: str, why: str) -> BundleError:
    return BundleError(N_("The bundle names a file {path} that is not allowed ({why}). Nothing was written."),
                       path=path[:120], why=why)


def component_problem(part: str) -> str | None:
    """Why ``part`` cannot be a file or folder name on FAT32 or Windows, or None."""
    if part in ("", ".", ".."):
        return "empty, '.' or '..'"
    if any(ch in _FORBIDDEN_CHARS for ch in part):
        return "a character Windows forbids"
    if part.endswith((".", " ")):
        return "a trailing dot or space"
    if part.split(".")[0].upper().rstrip(" ") in _RESERVED:
        return "a reserved Windows name"
    if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
        return "a name too long"
    return None


def check_member_path(path: object) -> str:
    """Return ``path`` if it is a safe relative path inside a bundle, else raise :class:`BundleError`."""
    if not isinstance(path, str) or not path:
        raise _bad(str(path), "not a name")
    if unicodedata.normalize("NFC", path) != path:
        raise _bad(path, "not in Unicode NFC form")
    if path.startswith("/") or "\\" in path or re.match(r"^[A-Za-z]:", path):
        raise _bad(path, "an absolute or drive path")
    if len(path) > MAX_PATH_CHARS:
        raise _bad(path, "longer than 200 characters")
    for part in path.split("/"):
        why = component_problem(part)
        if why:
            raise _bad(path, why)
    return path


def fold(path: str) -> str:
    """The key under which Windows and macOS consider two names the same file."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", path).casefold())


def check_no_duplicates(paths: Iterable[str]) -> None:
    seen: dict[str, str] = {}
    for p in paths:
        key = fold(p)
        if key in seen:
            raise _bad(p, f"the same file as {seen[key][:80]} on Windows or macOS")
        seen[key] = p


def safe_name(name: str, *, limit: int = 80) -> str:
    """A name that passes :func:`component_problem`, as close to ``name`` as possible."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join("_" if ch in _FORBIDDEN_CHARS else ch for ch in name).strip()
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ext = ext[:16]
    while len((stem + "." + ext).encode("utf-8")) > limit and stem:
        stem = stem[:-1]
    name = f"{stem}.{ext}" if ext else stem
    name = name.rstrip(". ") or "file"
    if component_problem(name):
        name = "_" + name
    if component_problem(name):
        name = "file"
    return name
