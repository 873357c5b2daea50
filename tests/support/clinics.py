"""Clinics as an admin configures them: a valid body, and what the database then holds.

``store_clinic`` writes a clinic row straight to the database, the way the clinic API
stores it (New York, English, calls 08:00-21:00, reminded "1 day before at 10:00" and "2
hours before"), for tests of what builds on clinics; ``add_clinic`` goes through the API.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devtools.clinics import sample_clinic
from service.db import Database
from service.models import ApiKey, AuditEntry, Clinic, Role
from service.security import hash_key, issue_key


def clinic_body(**changes: Any) -> dict[str, Any]:
    """A valid ``POST /v1/clinics`` body, as an admin would send it."""
    body: dict[str, Any] = {
        "id": "riverside",
        "display_name": "Riverside Clinic",
        "spoken_name": "River side clinic",
        "callback_phone": "+13125550100",
        "caller_id": "+13125550177",
        "timezone": "America/Chicago",
        "country": "US",
        "calling_hours": {"start": "09:00", "end": "18:00"},
        "default_language": "en",
        "default_speech_rate": "slow",
        "channels": ["phone", "app"],
        "identifiers": ["RIVERSIDE^MSH4"],
        "require_reviewed_wording": False,
        "schedule": {
            "appointment_reminder": [{"days_before": 2, "at": "10:00"}, {"hours_before": 3}]
        },
    }
    body.update(changes)
    return body


def count_clinics(database_url: str) -> int:
    db = Database(database_url)
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(Clinic)) or 0
    db.dispose()
    return total


def audit_entries(database_url: str, prefix: str) -> list[AuditEntry]:
    """The audit entries whose action starts with ``prefix``, oldest first (detached)."""
    db = Database(database_url)
    with db.session() as session:
        rows = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.startswith(prefix))
                .order_by(AuditEntry.id)
            )
        )
        session.expunge_all()
    db.dispose()
    return rows


def add_clinic(http: httpx.Client, admin_key: str, **changes: Any) -> dict[str, Any]:
    """Create a clinic through the API (``http`` is a TestClient or an httpx client)."""
    answer = http.post(
        "/v1/clinics",
        json=clinic_body(**changes),
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def limited_key(database_url: str, *clinic_ids: str, key: str | None = None) -> str:
    """A scheduler key limited to ``clinic_ids``, as ``tellwell keys create --clinic``
    makes; with ``key``, that key's limits changed instead (as the admin API would), for
    a test of how long the app remembers a key's old limits. Returns the raw key."""
    db = Database(database_url)
    with db.session() as session:
        if key is None:
            key = issue_key(session, Role.SCHEDULER, "limited", list(clinic_ids)).raw
        else:
            row = session.query(ApiKey).filter_by(key_hash=hash_key(key)).one()
            row.clinic_ids = list(clinic_ids)
    db.dispose()
    return key


def make_clinic(session: Session, **overrides: Any) -> Clinic:
    clinic = Clinic(**sample_clinic(**overrides))
    session.add(clinic)
    session.flush()
    return clinic


def store_clinic(database_url: str, **overrides: Any) -> str:
    """Store a clinic in its own transaction; returns its id."""
    db = Database(database_url)
    with db.session() as session:
        clinic_id = make_clinic(session, **overrides).id
    db.dispose()
    return clinic_id


def reviewer_key(database_url: str, name: str = "Ana Reyes") -> str:
    """A ``reviewer`` key: staff who may also sign a language's wording."""
    db = Database(database_url)
    with db.session() as session:
        raw = issue_key(session, Role.REVIEWER, name).raw
    db.dispose()
    return raw
