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
