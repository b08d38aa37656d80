"""The outbox: which bundles wait to go, how far each object got, what came back.

A small SQLite database of its own, ``<data>/outbox/outbox.db`` (WAL, ``synchronous=FULL``, one
writer connection, like the kit's store), beside the bundles a field officer collected
(``<data>/outbox/bundles/``), the receipts (``<data>/outbox/receipts/``) and the review results
fetched for the cities (``<data>/outbox/mailbox/<city>/``). A bundle never leaves the outbox
because of an error: it stays, with the reason, until a valid signed receipt is back.

States of a bundle: ``queued`` (collected, not sent), ``sending`` (negotiated, objects going),
``received`` (a verified receipt is stored), ``conflict`` (the platform holds other bytes for
the same revision; kept aside there), ``refused`` (the platform said no for another reason: an
unenrolled or revoked key, a quota ...; shown with the reason, tried again on the next sync),
``damaged`` (the copy in the outbox no longer verifies: collect it again from the city's stick).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import BigInteger, Integer, String, Text, create_engine, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import QueuePool

from app.dbmigrate import History, prepare
from app.i18n import N_
from app.model.db import unit_of_work
from app.model.lock import DataLock

STATES = ("queued", "sending", "received", "conflict", "refused", "damaged")


def utcnow() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class OBase(DeclarativeBase):
    pass


class OBundle(OBase):
    __tablename__ = "outbox_bundle"
    bundle_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    submission_id: Mapped[str] = mapped_column(String(32))
    revision: Mapped[int] = mapped_column(Integer)
    city_id: Mapped[str] = mapped_column(String(64), index=True)
    city_name: Mapped[str] = mapped_column(Text, default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    stage: Mapped[str] = mapped_column(String(8))
    sums_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(Text)  # relative to the data folder when inside it
    source: Mapped[str] = mapped_column(String(16), default="collected")  # collected | own
    state: Mapped[str] = mapped_column(String(16), default="queued")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    receipt: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    current: Mapped[int] = mapped_column(Integer, default=1)
    collected_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    updated_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    delivered_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


class OObject(OBase):
    __tablename__ = "outbox_object"
    bundle_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done
    upload_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[str] = mapped_column(String(32), default=utcnow)


class OMailItem(OBase):
    __tablename__ = "outbox_mail_item"
    item_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    city_id: Mapped[str] = mapped_column(String(64), index=True)
    bundle_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    delivered_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


class OSetting(OBase):
    __tablename__ = "outbox_setting"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


HISTORY = History(
    name="outbox", version_table="outbox_alembic_version", metadata=OBase.metadata,
    legacy_tables=frozenset({"outbox_bundle", "outbox_object"}),
    newer_message=N_("This outbox was last used by a newer version of the kit (revision {revision}). Use that "
                     "version or newer to open it."),
    failed_message=N_("Updating the outbox failed and was undone: {detail}."),
)


class Outbox:
    """The outbox of one data folder. Use as a context manager; one process at a time."""

    def __init__(self, data_dir: Path | str, *, lock: bool = True) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.root = self.data_dir / "outbox"
        self._lock = DataLock(self.root / "outbox.lock") if lock else None
        self._write = threading.RLock()
        self.engine: Any = None
        self._sessions: Any = None

    @property
    def bundles_dir(self) -> Path:
        return self.root / "bundles"

    @property
    def receipts_dir(self) -> Path:
        return self.root / "receipts"

    @property
    def mailbox_dir(self) -> Path:
        return self.root / "mailbox"

    def open(self) -> "Outbox":
        self.root.mkdir(parents=True, exist_ok=True)
        if self._lock:
            self._lock.acquire()
        try:
            engine = create_engine(f"sqlite:///{self.root / 'outbox.db'}", poolclass=QueuePool, pool_size=1,
                                   max_overflow=0, pool_timeout=60,
                                   connect_args={"check_same_thread": False, "timeout": 30})

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()

            try:
                prepare(engine, HISTORY, backup=self._backup)
            except BaseException:
                engine.dispose()
                raise
            self.engine = engine
            self._sessions = sessionmaker(engine, expire_on_commit=False)
        except BaseException:
            if self._lock:
                self._lock.release()
            raise
        return self

    def _backup(self) -> None:
        from app.model.db import backup_database

        db = self.root / "outbox.db"
        if db.is_file():
            backup_database(db, self.root / "backups", "before-upgrade", prefix="outbox")

    def close(self) -> None:
        if self.engine is not None:
            try:
                with self._write, self.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                self.engine.dispose()
                self.engine = None
        if self._lock:
            self._lock.release()

    def __enter__(self) -> "Outbox":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with unit_of_work(self._sessions, self._write) as s:
            yield s

    # -- paths stored relative to the data folder, so a stick with another drive letter still works
    def rel(self, path: Path) -> str:
        path = Path(path).resolve()
        try:
            return path.relative_to(self.data_dir).as_posix()
        except ValueError:
            return str(path)

    def abs(self, stored: str) -> Path:
        p = Path(stored)
        return p if p.is_absolute() else self.data_dir / p

    # -- bundles -------------------------------------------------------------------------------
    def get(self, bundle_id: str) -> OBundle | None:
        with self.session() as s:
            return s.get(OBundle, bundle_id)

    def bundles(self, states: tuple[str, ...] | None = None) -> list[OBundle]:
        with self.session() as s:
            q = select(OBundle).order_by(OBundle.city_id, OBundle.stage, OBundle.revision, OBundle.collected_at)
            if states:
                q = q.where(OBundle.state.in_(states))
            return list(s.execute(q).scalars())

    def add(self, **fields: Any) -> OBundle:
        with self.session() as s:
            row = OBundle(**fields)
            s.add(row)
            return row

    def update(self, bundle_id: str, **fields: Any) -> None:
        with self.session() as s:
            row = s.get(OBundle, bundle_id)
            if row is None:
                return
            for k, v in fields.items():
                setattr(row, k, v)
            row.updated_at = utcnow()

    def objects(self, bundle_id: str) -> list[OObject]:
        with self.session() as s:
            return list(s.execute(select(OObject).where(OObject.bundle_id == bundle_id)
                                  .order_by(OObject.object_id)).scalars())

    def want_objects(self, bundle_id: str, missing: dict[str, int], all_ids: dict[str, int]) -> None:
        """Record what the platform said it lacks; objects it has are done."""
        with self.session() as s:
            have = {o.object_id: o for o in s.execute(select(OObject).where(OObject.bundle_id == bundle_id)).scalars()}
            for oid, size in all_ids.items():
                row = have.get(oid)
                if row is None:
                    row = OObject(bundle_id=bundle_id, object_id=oid, size=size)
                    s.add(row)
                if oid in missing:
                    if row.state == "done":
                        row.state, row.upload_url, row.offset = "pending", None, 0
                else:
                    row.state = "done"
                row.updated_at = utcnow()

    def save_upload(self, bundle_id: str, object_id: str, url: str | None, offset: int) -> None:
        with self.session() as s:
            row = s.get(OObject, (bundle_id, object_id))
            if row is not None:
                row.upload_url, row.offset, row.updated_at = url, offset, utcnow()
                if url is not None and offset >= row.size:
                    row.state = "done"

    def object_done(self, bundle_id: str, object_id: str) -> None:
        with self.session() as s:
            row = s.get(OObject, (bundle_id, object_id))
            if row is not None:
                row.state, row.offset, row.updated_at = "done", row.size, utcnow()

    # -- mailbox -------------------------------------------------------------------------------
    def mail_items(self, city_id: str | None = None) -> list[OMailItem]:
        with self.session() as s:
            q = select(OMailItem).order_by(OMailItem.fetched_at, OMailItem.item_id)
            if city_id is not None:
                q = q.where(OMailItem.city_id == city_id)
            return list(s.execute(q).scalars())

    def has_item(self, item_id: str) -> bool:
        with self.session() as s:
            return s.get(OMailItem, item_id) is not None

    def add_item(self, **fields: Any) -> None:
        with self.session() as s:
            if s.get(OMailItem, fields["item_id"]) is None:
                s.add(OMailItem(**fields))

    def item_delivered(self, item_id: str) -> None:
        with self.session() as s:
            row = s.get(OMailItem, item_id)
            if row is not None:
                row.delivered_at = utcnow()

    # -- settings ------------------------------------------------------------------------------
    def setting(self, key: str, default: str | None = None) -> str | None:
        with self.session() as s:
            row = s.get(OSetting, key)
            return row.value if row else default

    def set_setting(self, key: str, value: str) -> None:
        with self.session() as s:
            row = s.get(OSetting, key)
            if row is None:
                s.add(OSetting(key=key, value=value))
            else:
                row.value = value
