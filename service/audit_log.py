"""Reading the audit log: who did what to which subject, newest first, filtered and paged.

Keyset-paginated on (at, id) like the reminders list, so a page never skips or repeats an
entry while new ones are written (they only ever appear before the first page).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import ApiKey, AuditEntry
from service.paging import decode_cursor, encode_cursor


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None
    """An API key id."""
    action: str | None = None
    subject_type: str | None = None
    subject_id: str | None = None
    since: datetime | None = None
    """Inclusive."""
    until: datetime | None = None
    """Exclusive, so consecutive ranges never show an entry twice."""


@dataclass(frozen=True)
class AuditRow:
    entry: AuditEntry
    actor_name: str | None


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditRow]
    next_cursor: str | None


AUDIT_ID_MAX_DIGITS = 18
"""An audit id is a database integer: at most 18 digits fit a BIGINT with room to spare."""


def is_audit_id(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= AUDIT_ID_MAX_DIGITS


def list_audit(
    session: Session, filters: AuditFilters, *, limit: int, cursor: str | None
) -> AuditPage:
    query = (
        select(AuditEntry, ApiKey.name)
        .outerjoin(ApiKey, ApiKey.id == AuditEntry.actor_key_id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    )
    if filters.actor is not None:
        query = query.where(AuditEntry.actor_key_id == filters.actor)
    if filters.action is not None:
        query = query.where(AuditEntry.action == filters.action)
    if filters.subject_type is not None:
        query = query.where(AuditEntry.subject_type == filters.subject_type)
    if filters.subject_id is not None:
        query = query.where(AuditEntry.subject_id == filters.subject_id)
    if filters.since is not None:
        query = query.where(AuditEntry.at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEntry.at < filters.until)
    if cursor is not None:
        at, raw_id = decode_cursor(cursor, is_audit_id)
        last_id = int(raw_id)
        query = query.where(
            (AuditEntry.at < at) | ((AuditEntry.at == at) & (AuditEntry.id < last_id))
        )
    rows = [AuditRow(entry, name) for entry, name in session.execute(query.limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1].entry if more else None
    return AuditPage(items=rows, next_cursor=encode_cursor(last.at, last.id) if last else None)
