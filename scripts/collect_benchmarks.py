#!/usr/bin/env python3
"""Assemble docs/benchmarks.md from the latest results each benchmark wrote to bench/results/*.md."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["core", "bundle", "panel", "sync", "ui", "stick"]
HEADER = """# Benchmarks

Each benchmark in `bench/` prints its figures and writes its latest results to `bench/results/`;
this page is assembled from those files by `scripts/collect_benchmarks.py`. Figures are medians
(p95 where stated) on a shared, noisy 2-core machine, and each is compared with the physical limit
measured in the same run (a plain copy, `sha256sum`, raw decryption, a bare window) as a ratio.

How to run them again:

```sh
.venv/bin/python bench/bench_core.py      # completeness on a large city, CLI start
.venv/bin/python bench/bench_bundle.py    # seal / verify / open 1 GiB, peak memory, caller stalls
.venv/bin/python bench/bench_panel.py     # importing 100 bundles of 10 MB, stage report time
.venv/bin/python bench/bench_sync.py      # bytes on the wire, loopback throughput, re-sent bytes
.venv/bin/python bench/bench_ui.py        # launch, page switch, event-loop stalls while sealing
.venv/bin/python bench/bench_stick.py     # stick image size, frozen cold start, build time
.venv/bin/python scripts/collect_benchmarks.py
```

## Goals not met, and why

- **Desktop app launch, about 5x a bare PySide6 window** (0.52 s; the 1.5 s goal is met, the 2x
  ratio is not). A bare window needs only Qt (0.10 s); the kit also imports SQLAlchemy, the store's
  models and cryptography (about 0.3 s on this machine) before the home screen can say anything
  true about the city's data. Opening the store was cut from 0.16 s to 0.01 s and loading the
  six-language framework from 1.3 s to 0.02 s (files whose bytes passed their schema before are not
  checked again); what is left is the import cost of the libraries the store and crypto need.
- **Panel import, about 3.1x raw decryption** (goal 1.5x; 2.89 s for 1 GB, from 4.29 s before the
  hashing hand-over was batched and header lines read from the buffer). Format v1 requires a
  SHA-256 of every ciphertext byte (against the signed list) and of every plaintext byte (against
  the signed inner manifest): done one after the other, those two hashes alone cost 2x the decryption here (which
  runs at about 1.2 GB/s). The import hashes on a second thread while it decrypts, but each bundle
  also costs about 9 ms of fixed work (five signature checks, two key agreements, the staging
  folder, two database commits with fsync), which at 10 MB a bundle is as much as decrypting it.
  Against decryption plus the two hashes the import is about 1.1x.
"""


def main() -> None:
    results = ROOT / "bench" / "results"
    parts = [HEADER]
    names = sorted(p.stem for p in results.glob("*.md"))
    for name in sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else 99, n)):
        parts.append((results / f"{name}.md").read_text(encoding="utf-8").strip() + "\n")
    missing = [n for n in ORDER if n not in names]
    if missing:
        parts.append("Not measured yet: " + ", ".join(missing) + ".\n")
    (ROOT / "docs" / "benchmarks.md").write_text("\n".join(parts), encoding="utf-8")
    print(ROOT / "docs" / "benchmarks.md")


if __name__ == "__main__":
    main()
