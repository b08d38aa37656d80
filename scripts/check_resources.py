"""Validate the framework, its national overlays and the indicator catalogue against their
schemas, and record what passed in ``resources/validated.json``.

Usage: python scripts/check_resources.py [--check]

The kit validates every resource file at start unless its bytes and today's schemas are the ones
recorded here (see ``app.model.framework.already_validated``): run this after editing a framework,
overlay or catalogue file, or a schema. ``--check`` only says whether the record is current
(exit 1 if not); the test suite runs it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.model import framework as fw  # noqa: E402
from app.resources import resource  # noqa: E402


def files() -> list[tuple[str, Path]]:
    """(schema, file) for every resource file the kit validates."""
    base = resource("framework", "global")
    meta = json.loads((base / "framework.json").read_text(encoding="utf-8"))
    out = [("framework.schema.json", base / "framework.json")]
    out += [("stage.schema.json", base / f"stage-{sid}.json") for sid in meta["stages"]]
    out += [("overlay.schema.json", fw.overlay_path(o)) for o in fw.available_overlays()]
    out.append(("indicators.schema.json", resource("indicators", "catalogue.json")))
    return out


def record() -> dict:
    valid = []
    for schema, path in files():
        raw = path.read_bytes()
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=fw._no_duplicates)  # noqa: SLF001
        fw.validate_against(schema, data, path)  # no digest: always in full; raises if invalid
        valid.append(f"{schema}:{hashlib.sha256(raw).hexdigest()}")
    return {"format": "sdgkit-validated", "format_version": 1, "schemas": fw.schemas_digest(), "valid": sorted(valid)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check that resources/validated.json is current")
    args = ap.parse_args(argv)
    doc = record()
    text = json.dumps(doc, indent=1) + "\n"
    target = resource(fw.VALIDATED_FILE)
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print(f"{target} is out of date: run python scripts/check_resources.py", file=sys.stderr)
            return 1
        print(f"{target} is current ({len(doc['valid'])} files)")
        return 0
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    print(f"validated {len(doc['valid'])} files; wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
