from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def kit(data_dir: Path):
    from app.model.service import Kit

    k = Kit(data_dir, actor="tester").open()
    k.init_profile(name="Testville", country="KE", population_band="250k-1m", languages=["en"])
    yield k
    k.close()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo city made once per test run; tests copy it before changing anything."""
    from app.cli.main import main

    d = tmp_path_factory.mktemp("demo-template") / "data"
    assert main(["--data", str(d), "demo"]) == 0
    return d


@pytest.fixture
def demo_dir(demo_template: Path, tmp_path: Path) -> Path:
    d = tmp_path / "demo"
    shutil.copytree(demo_template, d, ignore=shutil.ignore_patterns("kit.lock"))
    return d


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    """Run ``sdgkit`` as a separate process, as a person would."""
    import subprocess

    e = dict(os.environ)
    e.update(env or {})
    e["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "app.cli.main", *args], capture_output=True, text=True,
                          env=e, cwd=cwd or ROOT, timeout=300)
