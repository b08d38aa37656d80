"""Opening the store on the stick: lock, quick check, backup, migrate, durable settings.

SQLite runs in WAL mode with ``synchronous=FULL`` (durable per commit, about one fsync per commit)
through a single connection shared by all threads, so there is exactly one writer. At start the
database gets ``PRAGMA quick_check``; before any migration a copy is taken with SQLite's backup
API. ``checkpoint()`` folds the WAL into the main file (``wal_checkpoint(TRUNCATE)``): called on
close and by "prepare for removal", so the ``-wal`` file never has to travel separately.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from app.errors import StoreError
import tempfile

from app.fsutil import clean_temp_files, empty_dir, fsync_dir
from app.i18n import N_
from app.model.lock import DataLock
from app.model.paths import DataLayout, use_private_tempdir

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
KEEP_BACKUPS = 10


def _alembic_config(db_path: Path):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", f"sqlite:///{db_path}")
    return cfg


_REVISION_LINE = re.compile(r'^(revision|down_revision)\s*=\s*(?:"([^"]*)"|\'([^\']*)\'|None)\s*$', re.M)


def _revision_graph() -> dict[str, str | None]:
    """``revision -> down_revision`` read from the migration files' headers, without importing
    Alembic (about 0.15 s saved on every start when the store is already current). The test suite
    checks that this agrees with Alembic's own view."""
    graph: dict[str, str | None] = {}
    for p in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        found = {m.group(1): (m.group(2) or m.group(3)) for m in _REVISION_LINE.finditer(p.read_text("utf-8"))}
        if "revision" in found:
            graph[found["revision"]] = found.get("down_revision")  # type: ignore[assignment]
    return graph


def head_revision() -> str:
    graph = _revision_graph()
    heads = set(graph) - {d for d in graph.values() if d}
    if len(heads) != 1:  # a branched history: let Alembic decide (and complain)
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(_alembic_config(Path("unused.db"))).get_current_head()  # type: ignore[return-value]
    return heads.pop()


def known_revisions() -> set[str]:
    return set(_revision_graph())


@contextmanager
def unit_of_work(make: "sessionmaker[Session]", lock: Any = None) -> Iterator[Session]:
    """One session under ``lock`` (the single writer): committed on success, rolled back on any
    error, always closed. Every SQLAlchemy store of the kit (the city's, the outbox, the
    platform's) goes through this."""
    with lock if lock is not None else nullcontext():
        s = make()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()


def _raw_connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(str(path), timeout=10, isolation_level=None)


def quick_check(path: Path) -> None:
    """Raise :class:`StoreError` if ``path`` is not a healthy SQLite database."""
    try:
        con = _raw_connect(path)
        try:
            rows = con.execute("PRAGMA quick_check").fetchall()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            N_("The store {path} is damaged or is not a kit database. Run 'sdgkit restore-backup' to go back to the latest backup."),
            path=str(path)) from exc
    if not rows or rows[0][0] != "ok":
        raise StoreError(
            N_("The store {path} is damaged or is not a kit database. Run 'sdgkit restore-backup' to go back to the latest backup."),
            path=str(path))


def current_revision(path: Path) -> str | None:
    con = _raw_connect(path)
    try:
        has = con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'").fetchone()
        if not has:
            return None
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
    finally:
        con.close()


def backup_database(src: Path, backups_dir: Path, label: str, prefix: str = "kit") -> Path:
    """Copy the live database with SQLite's backup API into ``backups_dir`` (fsynced), keep the newest few."""
    backups_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    dst = backups_dir / f"{prefix}-{stamp}-{label}.db"
    tmp = dst.with_suffix(".db.tmp-backup")
    source = _raw_connect(src)
    try:
        target = sqlite3.connect(str(tmp))
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
    finally:
        source.close()
    with open(tmp, "rb+") as fh:
        import os

        os.fsync(fh.fileno())
    tmp.replace(dst)
    fsync_dir(backups_dir)
    backups = sorted(backups_dir.glob(f"{prefix}-*.db"))
    for old in backups[:-KEEP_BACKUPS]:
        old.unlink(missing_ok=True)
    return dst


def list_backups(layout: DataLayout) -> list[Path]:
    return sorted(layout.backups.glob("kit-*.db"))


def restore_latest_backup(layout: DataLayout) -> Path:
    """Put the newest healthy backup in place of the store; the damaged file is kept aside."""
    for candidate in reversed(list_backups(layout)):
        try:
            quick_check(candidate)
        except StoreError:
            continue
        db = layout.db
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(db) + suffix)
            if p.exists():
                p.replace(p.with_name(p.name + f".damaged-{stamp}"))
        con_src = _raw_connect(candidate)
        try:
            con_dst = sqlite3.connect(str(db))
            try:
                con_src.backup(con_dst)
            finally:
                con_dst.close()
        finally:
            con_src.close()
        quick_check(db)
        return candidate
    raise StoreError(N_("No usable backup was found in {path}."), path=str(layout.backups))


class Store:
    """The open store of one data folder. Use as a context manager or call :meth:`close`."""

    def __init__(self, data_dir: Path | str, *, lock: bool = True) -> None:
        self.layout = DataLayout(Path(data_dir))
        self._lock = DataLock(self.layout.lock) if lock else None
        self.engine: Engine | None = None
        self._sessionmaker: sessionmaker[Session] | None = None
        self.write_lock = threading.RLock()
        self.migrated_from: str | None = None
        self.backup_path: Path | None = None
        self._previous_tempdir: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> "Store":
        layout = self.layout
        if layout.root.exists() and not layout.root.is_dir():
            raise StoreError(N_("The data folder {path} is a file, not a folder."), path=str(layout.root))
        try:
            layout.ensure()
        except OSError as exc:
            raise StoreError(N_("Cannot create the data folder {path}: {detail}"),
                             path=str(layout.root), detail=exc.strerror or str(exc)) from exc
        if self._lock:
            self._lock.acquire()
        previous_tempdir = tempfile.tempdir
        try:
            empty_dir(layout.tmp)
            clean_temp_files(layout.evidence)
            self._previous_tempdir = previous_tempdir
            use_private_tempdir(layout)
            self._prepare_database()
            self.engine = self._make_engine()
            self._sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        except BaseException:
            tempfile.tempdir = previous_tempdir  # a refused store leaves no trace, not even here
            if self._lock:
                self._lock.release()
            raise
        return self

    def _prepare_database(self) -> None:
        db = self.layout.db
        head = head_revision()
        if db.exists() and db.stat().st_size > 0:
            quick_check(db)
            rev = current_revision(db)
            if rev == head:
                return
            if rev is not None and rev not in known_revisions():
                raise StoreError(
                    N_("This data was last used by a newer version of the kit. Use that version or newer to open it."))
            self.backup_path = backup_database(db, self.layout.backups, f"before-{head}")
            self.migrated_from = rev
        self._migrate()

    def _migrate(self) -> None:
        from alembic import command

        cfg = _alembic_config(self.layout.db)
        try:
            command.upgrade(cfg, "head")
        except Exception as exc:  # a failed migration is rolled back by transactional DDL
            raise StoreError(N_("Updating the store failed and was undone: {detail}. A backup is in {path}."),
                             detail=type(exc).__name__, path=str(self.layout.backups)) from exc

    def _make_engine(self) -> Engine:
        engine = create_engine(
            f"sqlite:///{self.layout.db}",
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA wal_autocheckpoint=1000")
            cur.close()

        return engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success (durably: WAL + synchronous=FULL), rolled back on error."""
        if self._sessionmaker is None:
            raise StoreError(N_("The store is not open."))
        with unit_of_work(self._sessionmaker, self.write_lock) as s:
            yield s

    def checkpoint(self) -> None:
        if self.engine is None:
            return
        with self.write_lock, self.engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))

    def integrity_check(self) -> list[str]:
        assert self.engine is not None
        with self.write_lock, self.engine.connect() as conn:
            return [r[0] for r in conn.execute(text("PRAGMA integrity_check"))]

    def close(self) -> None:
        if self.engine is not None:
            try:
                self.checkpoint()
            finally:
                self.engine.dispose()
                self.engine = None
        empty_dir(self.layout.tmp)
        tempfile.tempdir = self._previous_tempdir
        if self._lock:
            self._lock.release()

    def __enter__(self) -> "Store":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
