"""Tamper-evident audit log: every change is an entry chained to the one before by SHA-256.

``hash_n = SHA-256(prev_hash_n || canonical JSON of {seq, at, actor, action, entity, payload})``
with ``prev_hash_1`` = 64 zeros. Editing, removing or reordering any entry breaks every later
hash, which :func:`verify_chain` reports with the first bad sequence number. (It shows tampering
with the log; it cannot stop someone who rewrites the whole chain, which is why sealed bundles
carry the chain head, signed.)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.model.models import AuditEntry, utcnow

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def entry_hash(prev_hash: str, seq: int, at: str, actor: str, action: str, entity: str, payload: str) -> str:
    body = canonical_json({"seq": seq, "at": at, "actor": actor, "action": action, "entity": entity,
                           "payload": payload})
    return hashlib.sha256(prev_hash.encode("ascii") + body.encode("utf-8")).hexdigest()


def append(session: Session, actor: str, action: str, entity: str, payload: dict[str, Any]) -> AuditEntry:
    last = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one_or_none()
    prev = last.hash if last else GENESIS
    seq = (last.seq + 1) if last else 1
    at = utcnow()
    body = canonical_json(payload)
    entry = AuditEntry(seq=seq, at=at, actor=actor, action=action, entity=entity, payload=body, prev_hash=prev,
                       hash=entry_hash(prev, seq, at, actor, action, entity, body))
    session.add(entry)
    session.flush()
    return entry


@dataclass
class ChainReport:
    ok: bool
    entries: int
    head: str
    first_bad: int | None = None


def verify_chain(session: Session) -> ChainReport:
    prev = GENESIS
    expected_seq = 1
    count = 0
    for e in session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars():
        if e.seq != expected_seq or e.prev_hash != prev or \
                e.hash != entry_hash(prev, e.seq, e.at, e.actor, e.action, e.entity, e.payload):
            return ChainReport(False, count, prev, first_bad=e.seq)
        prev = e.hash
        expected_seq += 1
        count += 1
    return ChainReport(True, count, prev)
