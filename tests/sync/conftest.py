"""Fixtures of the sync tests: a world of parties built once, copied per test; the service on loopback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_support import World, build_world, copy_world  # noqa: E402


@pytest.fixture(scope="session")
def sync_world(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("sync-world"), demo_template)


@pytest.fixture
def world(sync_world: World, tmp_path: Path) -> World:
    return copy_world(sync_world, tmp_path / "w")


@pytest.fixture
def platform(world: World):
    from app.sync.platform import Platform, PlatformSettings

    p = Platform(world.platform, settings=PlatformSettings(name="Test platform", idle_timeout_seconds=2.0))
    yield p
    p.close()


@pytest.fixture
def service(platform):
    from app.sync.platform import ServerThread

    srv = ServerThread(platform).start()
    yield srv
    srv.stop()
