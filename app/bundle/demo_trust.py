"""Demo keys and trust files, so a new user can practise the whole path on one machine.

``sdgkit demo`` calls :func:`create_demo_trust`: it creates the city's key set, a demo platform
root, a demo panel of two reviewers (with their identity files) and a recovery key, signs a demo
trust pack and installs it in the data folder. Everything is labelled DEMO, verifies only in demo
mode, and bundles sealed with it say so: it can never pass for a real submission.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.bundle import trust as trustmod
from app.bundle.keys import KdfParams, KeySet, Role, card_path_for, default_keyfile, write_new_keyfile
from app.fsutil import atomic_write_bytes, atomic_write_text

DEMO_PASSPHRASE = "demo river lamp cloud stone"
# Training keys only: a light KDF keeps the demo quick on old PCs. Real keys use the default.
DEMO_KDF = KdfParams(memory_kib=16 * 1024, iterations=2, lanes=1)


def _write_keyset(path: Path, keyset: KeySet) -> Path:
    write_new_keyfile(path, keyset, DEMO_PASSPHRASE, kdf=DEMO_KDF)
    atomic_write_bytes(card_path_for(path), keyset.card().to_bytes())
    return path


def create_demo_trust(kit: Any) -> dict[str, Any]:
    prof = kit.require_profile()
    root = kit.layout.root
    demo_dir = root / "demo"
    city = KeySet.generate(Role.CITY, prof.name)
    city_key = _write_keyset(default_keyfile(kit.layout.keys, Role.CITY), city)
    pack_dir = demo_dir / "trust-pack"
    demo = trustmod.build_demo_pack(pack_dir, city.card(), city_id=prof.city_id, country=prof.country)
    panel_dir = demo_dir / "panel"
    identities = [str(_write_keyset(panel_dir / f"reviewer-{i + 1}.key", k)) for i, k in enumerate(demo.panel)]
    recovery = _write_keyset(demo_dir / "secretariat" / "recovery.key", demo.recovery)
    root_key = _write_keyset(demo_dir / "secretariat" / "platform_root.key", demo.root)
    issuer = demo_dir / "secretariat" / "issuer"  # the demo secretariat numbers its next revocation list from this
    for name in (trustmod.REVOCATIONS, trustmod.REVOCATIONS + trustmod.SIG_SUFFIX):
        atomic_write_bytes(issuer / name, (pack_dir / name).read_bytes())
    passfile = demo_dir / "passphrase.txt"
    atomic_write_text(passfile, DEMO_PASSPHRASE + "\n")
    trustmod.import_trust_pack(pack_dir, root, trustmod.RootPolicy.installed(demo=True), own_key=city.public_key)
    return {
        "city_key": str(city_key),
        "city_fingerprint": city.fingerprint,
        "trust_pack": str(pack_dir),
        "installed_trust": str(root / "trust"),
        "panel_id": trustmod.DEMO_PANEL_ID,
        "panel_identities": identities,
        "recovery_identity": str(recovery),
        "platform_root_key": str(root_key),
        "passphrase_file": str(passfile),
    }


def create_demo_trust_for_card(kit: Any, city_card: Any) -> dict[str, Any]:
    """What :func:`create_demo_trust` does, for a city key that already exists (the first-run
    wizard's "use a demo trust pack" option): a demo root, a demo panel with its identity files and
    a recovery key, a demo pack enrolling ``city_card``, installed in the data folder."""
    prof = kit.require_profile()
    root = kit.layout.root
    demo_dir = root / "demo"
    pack_dir = demo_dir / "trust-pack"
    demo = trustmod.build_demo_pack(pack_dir, city_card, city_id=prof.city_id, country=prof.country)
    panel_dir = demo_dir / "panel"
    identities = [str(_write_keyset(panel_dir / f"reviewer-{i + 1}.key", k)) for i, k in enumerate(demo.panel)]
    recovery = _write_keyset(demo_dir / "secretariat" / "recovery.key", demo.recovery)
    root_key = _write_keyset(demo_dir / "secretariat" / "platform_root.key", demo.root)
    issuer = demo_dir / "secretariat" / "issuer"
    for name in (trustmod.REVOCATIONS, trustmod.REVOCATIONS + trustmod.SIG_SUFFIX):
        atomic_write_bytes(issuer / name, (pack_dir / name).read_bytes())
    passfile = demo_dir / "passphrase.txt"
    atomic_write_text(passfile, DEMO_PASSPHRASE + "\n")
    trustmod.import_trust_pack(pack_dir, root, trustmod.RootPolicy.installed(demo=True),
                               own_key=city_card.signing_key)
    return {"trust_pack": str(pack_dir), "installed_trust": str(root / "trust"), "panel_id": trustmod.DEMO_PANEL_ID,
            "panel_identities": identities, "recovery_identity": str(recovery), "platform_root_key": str(root_key),
            "passphrase_file": str(passfile)}
