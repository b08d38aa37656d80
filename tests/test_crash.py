"""Pull the plug in the middle of writing: the store survives and keeps every acknowledged write."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

WRITER = r"""
import sys
from app.model.service import Kit
from app.model.demo import value_for
kit = Kit(sys.argv[1], actor="writer").open()
if kit.profile() is None:
    kit.init_profile(name="Crashville", country="KE", population_band="<50k", languages=["en"])
fw = kit.framework
req, fld = next((r, f) for s in fw.stages for r in s.requirements() for f in r.fields if f.type == "text")
start = int(sys.argv[2])
print("ready", req.stage_id, req.id, fld.id, flush=True)
i = start
while True:
    kit.set_answer(req.stage_id, req.id, fld.id, f"value-{i}")
    print("ack", i, flush=True)
    i += 1
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX-only")
def test_sigkill_during_answer_burst_loses_no_acknowledged_write(tmp_path: Path):
    data = tmp_path / "data"
    rng = random.Random(20261123)
    acked: list[int] = []
    next_start = 0
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for _round in range(25):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(data), str(next_start)], stdout=subprocess.PIPE,
                                text=True, env=env, cwd=ROOT)
        assert proc.stdout is not None
        header = proc.stdout.readline().split()
        assert header and header[0] == "ready", header
        stage, req_id, field_id = header[1:]
        kill_after = rng.randint(1, 40)
        last = None
        for _ in range(kill_after):
            line = proc.stdout.readline().split()
            assert line[0] == "ack"
            last = int(line[1])
            acked.append(last)
        os.kill(proc.pid, signal.SIGKILL)  # mid-way through the next write
        proc.wait()
        proc.stdout.close()
        next_start = last + 1000  # values of later rounds never collide with unacknowledged ones

    from app.model.service import Kit

    with Kit(data) as kit:
        assert kit.store.integrity_check() == ["ok"]
        stored = {h["new"] for h in kit.history(stage, req_id) if h["field"] == field_id}
        assert kit.audit_verify().ok
    missing = [i for i in acked if f"value-{i}" not in stored]
    assert missing == [], f"acknowledged writes lost: {missing[:10]}"
    assert len(acked) >= 25
