"""The platform's own database (SQLAlchemy): SQLite in the platform folder by default, PostgreSQL by URL.

Its own metadata, separate from the kit's store, and its own migrations
(``app/sync/migrations/platform``, version table ``p_alembic_version``, see :mod:`app.dbmigrate`):
opening a database brings it to the newest revision, and a database a newer kit has migrated is
refused. The identity of a submission revision is enforced by the database, not by a check-then-insert:
``UNIQUE(bundle_id)`` and ``UNIQUE(submission_id, revision)``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.dbmigrate import History, prepare
from app.i18n import N_

SCHEMA_VERSION = 1


def utcnow() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class PBase(DeclarativeBase):
    pass


class PBundle(PBase):
    """A bundle the platform was told about: pending (negotiated) or committed."""

    __tablename__ = "p_bundle"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bundle_id: Mapped[str] = mapped_column(String(32), unique=True)
    submission_id: Mapped[str] = mapped_column(String(32))
    revision: Mapped[int] = mapped_column(Integer)
    city_id: Mapped[str] = mapped_column(String(64), index=True)
    country: Mapped[str] = mapped_column(String(2))
    stage: Mapped[str] = mapped_column(String(8))
    panel_id: Mapped[str] = mapped_column(String(64), index=True)
    sums_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    object_count: Mapped[int] = mapped_column(Integer)
    submitter_fp: Mapped[str] = mapped_column(String(32))
    uploader_fp: Mapped[str] = mapped_column(String(32), index=True)
    demo: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | committed
    created_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    committed_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    receipt: Mapped[str | None] = mapped_column(Text, nullable=True)
    touched_at: Mapped[str | None] = mapped_column(String(32), nullable=True)  # last negotiate/upload (p0002)
    __table_args__ = (UniqueConstraint("submission_id", "revision", name="uq_p_bundle_revision"),)


class PBundleObject(PBase):
    __tablename__ = "p_bundle_object"
    bundle_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)


class PObject(PBase):
    """An object stored once on disk, content-addressed by the SHA-256 of its ciphertext."""

    __tablename__ = "p_object"
    object_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    stored_at: Mapped[str] = mapped_column(String(32), default=utcnow)


class PObjectOwner(PBase):
    """A city whose uploader proved possession of an object (uploaded all of its bytes)."""

    __tablename__ = "p_object_owner"
    object_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    city_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class PUpload(PBase):
    """A tus upload of one object."""

    __tablename__ = "p_upload"
    upload_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_fp: Mapped[str] = mapped_column(String(32), index=True)
    bundle_id: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    city_id: Mapped[str] = mapped_column(String(64))
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(16), default="active")  # active | done | failed | terminated
    created_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    expires_at: Mapped[int] = mapped_column(BigInteger)  # unix seconds
    __table_args__ = (Index("ix_p_upload_object", "owner_fp", "object_id", "state"),)


class PQuarantine(PBase):
    """A bundle that conflicts with one already known: kept aside for the secretariat."""

    __tablename__ = "p_quarantine"
    quarantine_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    bundle_id: Mapped[str] = mapped_column(String(32))
    submission_id: Mapped[str] = mapped_column(String(32))
    revision: Mapped[int] = mapped_column(Integer)
    city_id: Mapped[str] = mapped_column(String(64))
    sums_sha256: Mapped[str] = mapped_column(String(64))
    conflicts_with: Mapped[str] = mapped_column(String(32))  # the bundle id already known
    reason: Mapped[str] = mapped_column(String(64))
    uploader_fp: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    __table_args__ = (UniqueConstraint("bundle_id", "sums_sha256", name="uq_p_quarantine"),)


class PMailboxItem(PBase):
    """A review result (or a status note) for a city, put there by a member of the bundle's panel."""

    __tablename__ = "p_mailbox_item"
    item_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    city_id: Mapped[str] = mapped_column(String(64), index=True)
    country: Mapped[str] = mapped_column(String(2))
    bundle_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # result | status
    name: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    sender_fp: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[str] = mapped_column(String(32), default=utcnow)


class PNonce(PBase):
    """Request nonces seen within the clock-skew window: a replayed request is refused."""

    __tablename__ = "p_nonce"
    fingerprint: Mapped[str] = mapped_column(String(32), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, index=True)


class PEvent(PBase):
    """What happened, in order (negotiate, commit, conflict, refused ...)."""

    __tablename__ = "p_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[str] = mapped_column(String(32), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    bundle_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    actor_fp: Mapped[str | None] = mapped_column(String(32), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class PMeta(PBase):
    __tablename__ = "p_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL with ``synchronous=FULL`` (durable per commit)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=8,
                               max_overflow=8)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
    else:
        engine = create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
    return engine


HISTORY = History(
    name="platform", version_table="p_alembic_version", metadata=PBase.metadata,
    legacy_tables=frozenset({"p_bundle", "p_object", "p_upload"}),
    newer_message=N_("This platform database was last used by a newer version of the kit (revision {revision}). "
                     "Use that version or newer to open it."),
    failed_message=N_("Updating the platform database failed and was undone: {detail}."),
)


def open_engine(url: str, *, backup: Callable[[], Any] | None = None) -> Engine:
    """:func:`make_engine`, with the database brought to the newest revision (see :mod:`app.dbmigrate`)."""
    engine = make_engine(url)
    try:
        prepare(engine, HISTORY, backup=backup)
    except BaseException:
        engine.dispose()
        raise
    return engine
