"""Helpers of the panel, feedback and officer tests: keys, a world of city and panel, tampering."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.bundle.demo_trust import DEMO_PASSPHRASE
from app.bundle.keys import load_keyfile


@dataclass
class World:
    base: Path
    city: Path
    panel: Path
    r1: Path  # stage B, revision 1, sealed by the city
    r1_id: str


def city_keys(city: Path) -> Any:
    return load_keyfile(city / "keys" / "city.key", DEMO_PASSPHRASE)


def member_keyfile(city: Path, n: int = 1) -> Path:
    return city / "demo" / "panel" / f"reviewer-{n}.key"


def member(city: Path, n: int = 1) -> Any:
    return load_keyfile(member_keyfile(city, n), DEMO_PASSPHRASE)


def tamper(bundle: Path) -> Path:
    """Flip one byte in the middle of the bundle's largest encrypted object."""
    obj = max((bundle / "objects").rglob("*.age"), key=lambda p: p.stat().st_size)
    data = bytearray(obj.read_bytes())
    data[len(data) // 2] ^= 1
    obj.write_bytes(bytes(data))
    return bundle


def one_line(text: str) -> bool:
    return bool(text.strip()) and "\n" not in text.strip()
