"""The store's tables (SQLAlchemy 2 declarative). Schema changes go through Alembic migrations.

Values a person typed are stored as JSON text exactly as validated, never re-interpreted: the
answer history and the audit log keep the old and new JSON, so nothing typed is ever lost.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> str:
    """Timestamps are ISO-8601 UTC strings: portable, sortable, no timezone surprises on FAT."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Setting(Base):
    __tablename__ = "setting"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class CityProfile(Base):
    __tablename__ = "city_profile"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    population_band: Mapped[str] = mapped_column(String(32))
    languages: Mapped[list] = mapped_column(JSON, default=list)
    mechanism: Mapped[str] = mapped_column(String(16), default="global")
    overlay_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    target_level: Mapped[str | None] = mapped_column(String(32), nullable=True)
    contact: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    updated_at: Mapped[str] = mapped_column(String(32), default=utcnow)


class Assessment(Base):
    __tablename__ = "assessment"
    __table_args__ = (UniqueConstraint("stage"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stage: Mapped[str] = mapped_column(String(8))
    framework_id: Mapped[str] = mapped_column(String(64))
    framework_version: Mapped[str] = mapped_column(String(32))
    overlay_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    overlay_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    current_requirement: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    updated_at: Mapped[str] = mapped_column(String(32), default=utcnow)

    answers: Mapped[list["Answer"]] = relationship(back_populates="assessment")


class Answer(Base):
    __tablename__ = "answer"
    __table_args__ = (UniqueConstraint("assessment_id", "requirement_id", "field_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id"))
    requirement_id: Mapped[str] = mapped_column(String(64))
    field_id: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)  # canonical JSON of the validated value
    updated_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100), default="")

    assessment: Mapped[Assessment] = relationship(back_populates="answers")


class AnswerHistory(Base):
    __tablename__ = "answer_history"
    __table_args__ = (Index("ix_answer_history_req", "assessment_id", "requirement_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id"))
    requirement_id: Mapped[str] = mapped_column(String(64))
    field_id: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    changed_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    changed_by: Mapped[str] = mapped_column(String(100), default="")


class EvidenceBlob(Base):
    """A file's bytes, stored once under ``evidence/<2 hex>/<sha256>`` whatever its names."""

    __tablename__ = "evidence_blob"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str] = mapped_column(String(100))
    stored_at: Mapped[str] = mapped_column(String(32), default=utcnow)


class EvidenceLink(Base):
    """One attachment: a blob linked to a requirement under the name the person gave it."""

    __tablename__ = "evidence_link"
    __table_args__ = (
        Index("ix_evidence_link_req", "assessment_id", "requirement_id"),
        Index("ix_evidence_link_sha256", "sha256"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id"))
    requirement_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(ForeignKey("evidence_blob.sha256"))
    original_name: Mapped[str] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(Text, default="")
    added_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    added_by: Mapped[str] = mapped_column(String(100), default="")
    removed_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


class LocalIndicator(Base):
    """An indicator a city adds itself, placed in a UMF domain x objective cell."""

    __tablename__ = "local_indicator"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # LOC-<d>.<o>.<n>
    domain: Mapped[str] = mapped_column(String(32))
    objective: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(24), default="context_dependent")
    disaggregation: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[str] = mapped_column(String(32), default=utcnow)


class IndicatorValue(Base):
    __tablename__ = "indicator_value"
    __table_args__ = (
        UniqueConstraint("indicator_id", "year", "kind", "disaggregation_key", "spatial_unit"),
        Index("ix_indicator_value_ind", "indicator_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(12), default="observed")  # observed | baseline | target
    year: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(300), default="")
    disaggregation: Mapped[dict] = mapped_column(JSON, default=dict)  # {dimension: value}
    disaggregation_key: Mapped[str] = mapped_column(String(300), default="")  # canonical "dim=val;dim=val"
    spatial_unit: Mapped[str] = mapped_column(String(120), default="")
    updated_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100), default="")


class AuditEntry(Base):
    """Hash-chained log of every change: ``hash = SHA-256(prev_hash || canonical JSON of the entry)``."""

    __tablename__ = "audit_entry"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(48))
    entity: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class SealedBundle(Base):
    """A submission bundle this kit sealed, with where it was written and how far it got."""

    __tablename__ = "sealed_bundle"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_id: Mapped[str] = mapped_column(String(64), unique=True)
    submission_id: Mapped[str] = mapped_column(String(64), index=True)
    stage: Mapped[str] = mapped_column(String(8))
    revision: Mapped[int] = mapped_column(Integer)
    supersedes: Mapped[str | None] = mapped_column(String(64), nullable=True)  # sums sha256 of the previous
    sums_sha256: Mapped[str] = mapped_column(String(64))
    recipients_sha256: Mapped[str] = mapped_column(String(64))
    panel_id: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    demo: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="sealed")  # sealed|collected|received|in_review|feedback
    receipt: Mapped[str | None] = mapped_column(Text, nullable=True)
    sealed_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    updated_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    __table_args__ = (UniqueConstraint("submission_id", "revision"),)


class SealedObject(Base):
    """An encrypted object of a sealed bundle, reusable by a later revision to the same recipients."""

    __tablename__ = "sealed_object"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_key: Mapped[str] = mapped_column(String(64))  # sha256 of the plaintext (or of a pack's member list)
    recipients_sha256: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    bundle_id: Mapped[str] = mapped_column(String(64))
    __table_args__ = (Index("ix_sealed_object_key", "content_key", "recipients_sha256"),)


class ReviewSubmission(Base):
    """A bundle a technical panel member imported: where it was opened and what it replaces."""

    __tablename__ = "review_submission"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_id: Mapped[str] = mapped_column(String(64), unique=True)
    submission_id: Mapped[str] = mapped_column(String(64), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    previous_bundle_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sums_sha256: Mapped[str] = mapped_column(String(64))
    city_id: Mapped[str] = mapped_column(String(64))
    city_name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    stage: Mapped[str] = mapped_column(String(8))
    panel_id: Mapped[str] = mapped_column(String(64))
    signer_fingerprint: Mapped[str] = mapped_column(String(32))
    city_age_recipient: Mapped[str] = mapped_column(String(100))
    demo: Mapped[int] = mapped_column(Integer, default=0)
    source_path: Mapped[str] = mapped_column(Text)
    opened_path: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    __table_args__ = (UniqueConstraint("submission_id", "revision"),)


class ReviewVerdict(Base):
    """One reviewer's verdict on one requirement of one imported bundle (member = key fingerprint);
    the settled panel verdict is stored with member ``"panel"``."""

    __tablename__ = "review_verdict"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_id: Mapped[str] = mapped_column(String(64))
    requirement_id: Mapped[str] = mapped_column(String(64))
    member: Mapped[str] = mapped_column(String(64))
    member_name: Mapped[str] = mapped_column(String(200), default="")
    verdict: Mapped[str] = mapped_column(String(24))
    comment: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    __table_args__ = (UniqueConstraint("bundle_id", "requirement_id", "member"),)


class FeedbackItem(Base):
    """A panel verdict the city received for one requirement of one of its sealed bundles."""

    __tablename__ = "feedback_item"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    results_bundle_id: Mapped[str] = mapped_column(String(64))
    submission_bundle_id: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(8))
    revision: Mapped[int] = mapped_column(Integer)
    requirement_id: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(24))
    comment: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[str] = mapped_column(String(32), default=utcnow)
    __table_args__ = (UniqueConstraint("results_bundle_id", "requirement_id"),)
