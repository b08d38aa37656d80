"""The bundle part of ``--self-test``: seal, verify and open a small bundle with throwaway keys."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from app.bundle.bundle import SealRequest, SourceFile, open_bundle, seal, verify_folder
from app.bundle.keys import KeySet, Role


def seal_and_verify_small_bundle(scratch: Path) -> str:
    scratch = Path(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    city = KeySet.generate(Role.CITY, "Self-test city")
    reviewer = KeySet.generate(Role.PANEL_MEMBER, "Self-test reviewer")
    payload = ("Self-test evidence: سلام 你好 привет\n" * 200).encode("utf-8")
    src = scratch / "evidence.txt"
    src.write_bytes(payload)
    request = SealRequest(
        city_id="self-test", stage="A", submission_id="0" * 32, revision=1, supersedes=None,
        content={"answers": {"A.a.1": {"summary": "self-test"}}},
        files=(SourceFile(path="evidence/A/A.a.1/001-evidence.txt", source=src,
                          sha256=hashlib.sha256(payload).hexdigest(), size=len(payload), mime="text/plain"),),
        recipients=(reviewer.age_recipient,), panel_id="self-test", trust_files={})
    result = seal(request, scratch / "bundles", city.signing_key)
    verified = verify_folder(result.path, expected_key=city.public_key)
    opened = open_bundle(verified, reviewer.age_identity, scratch / "opened")
    if (opened.out / "evidence/A/A.a.1/001-evidence.txt").read_bytes() != payload:
        raise RuntimeError("the opened evidence differs from what was sealed")
    doc = json.loads((opened.out / "submission.json").read_text(encoding="utf-8"))
    if doc["content"]["answers"]["A.a.1"]["summary"] != "self-test":
        raise RuntimeError("the opened answers differ from what was sealed")
    return f"{result.size} bytes sealed, verified and opened"
