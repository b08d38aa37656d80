"""Core benchmarks: completeness on a large city, and CLI start time.

Usage: python bench/bench_core.py [--answers 2000 --evidence 1000 --values 5000 --runs 200]

Prints a markdown table. The completeness goal is p95 <= 50 ms for a city with 2,000 answers,
1,000 evidence files and 5,000 indicator values; the CLI goal is a median `sdgkit --version`
start <= 0.3 s. The floor for the CLI is a bare `python -c pass`, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build_city(data: Path, n_answers: int, n_evidence: int, n_values: int) -> dict[str, int]:
    """Fill a store directly through SQL inserts shaped like the service's (fast to build)."""
    from sqlalchemy import insert

    from app.model.demo import value_for
    from app.model.models import Answer, Assessment, EvidenceBlob, EvidenceLink, IndicatorValue
    from app.model.service import Kit, canonical

    with Kit(data, actor="bench") as kit:
        kit.init_profile(name="Bench City", country="KE", population_band="1m-5m", languages=["en"])
        fw = kit.framework
        reqs = [r for s in fw.stages for r in s.requirements()]
        cat = kit.catalogue()
        ind_ids = list(cat.indicators)
        for s in fw.stages:
            kit.assessment_info(s.id)
        with kit.store.session() as s:
            ass = {a.stage: a.id for a in s.query(Assessment)}
            answers = []
            i = 0
            while len(answers) < n_answers:
                r = reqs[i % len(reqs)]
                for f in r.fields:
                    answers.append(dict(assessment_id=ass[r.stage_id], requirement_id=r.id,
                                        field_id=f.id if i < len(reqs) else f"{f.id}_extra{i}",
                                        value=canonical(value_for(r, f))))
                i += 1
            s.execute(insert(Answer), answers[:n_answers])
            blobs = [dict(sha256=f"{k:064x}", size=1000 + k, mime="application/pdf") for k in range(n_evidence)]
            s.execute(insert(EvidenceBlob), blobs)
            links = []
            for k in range(n_evidence):
                r = reqs[k % len(reqs)]
                kind = r.evidence[0].kind if r.evidence else "document"
                links.append(dict(assessment_id=ass[r.stage_id], requirement_id=r.id, kind=kind,
                                  sha256=f"{k:064x}", original_name=f"file{k}.pdf"))
            s.execute(insert(EvidenceLink), links)
            vals = []
            for k in range(n_values):
                iid = ind_ids[k % len(ind_ids)]
                vals.append(dict(indicator_id=iid, kind="observed", year=1950 + k // len(ind_ids), value=float(k),
                                 unit=cat.indicators[iid].unit, source="bench", disaggregation={},
                                 disaggregation_key="", spatial_unit=""))
            s.execute(insert(IndicatorValue), vals)
    return {"answers": n_answers, "evidence": n_evidence, "values": n_values}


def time_completeness(data: Path, runs: int) -> list[float]:
    from app.model.service import Kit

    out = []
    with Kit(data, actor="bench") as kit:
        stages = [s.id for s in kit.framework.stages]
        kit.completeness(stages[0])  # warm caches (framework, catalogue)
        for i in range(runs):
            t = time.perf_counter()
            kit.completeness(stages[i % len(stages)])
            out.append((time.perf_counter() - t) * 1000)
    return out


def time_command(cmd: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        out.append(time.perf_counter() - t)
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--answers", type=int, default=2000)
    ap.add_argument("--evidence", type=int, default=1000)
    ap.add_argument("--values", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--cli-runs", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        t = time.perf_counter()
        sizes = build_city(data, args.answers, args.evidence, args.values)
        build_s = time.perf_counter() - t
        comp = time_completeness(data, args.runs)
    bare = time_command([sys.executable, "-c", "pass"], args.cli_runs)
    cli = time_command([sys.executable, "-m", "app.cli.main", "--version"], args.cli_runs)
    result = {
        "machine": f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}".strip(),
        "city": sizes, "build_s": round(build_s, 2),
        "completeness_ms": {"median": round(statistics.median(comp), 2), "p95": round(pct(comp, 95), 2),
                            "max": round(max(comp), 2)},
        "cli_version_s": {"median": round(statistics.median(cli), 3), "bare_python_median": round(statistics.median(bare), 3),
                          "ratio_to_bare": round(statistics.median(cli) / statistics.median(bare), 2)},
    }
    from datetime import date

    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    lines = [
        f"### Core ({args.runs} completeness runs, {args.cli_runs} CLI starts)", "",
        f"Machine: {platform.node()}, {cpu}, {__import__('os').cpu_count()} cores, Python {platform.python_version()}; "
        f"date {date.today().isoformat()}.", "",
        "| measure | median | p95 | goal | ratio |", "|---|---|---|---|---|",
        f"| completeness of one stage ({sizes['answers']} answers, {sizes['evidence']} evidence, "
        f"{sizes['values']} values) | {result['completeness_ms']['median']} ms | {result['completeness_ms']['p95']} ms "
        f"| p95 <= 50 ms | |",
        f"| `sdgkit --version` start | {result['cli_version_s']['median']} s | - | median <= 0.3 s "
        f"| {result['cli_version_s']['ratio_to_bare']} x bare Python |",
        f"| bare `python -c pass` (floor) | {result['cli_version_s']['bare_python_median']} s | - | - | |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    print(json.dumps(result))
    out = ROOT / "bench" / "results" / "core.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
