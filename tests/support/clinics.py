"""Clinics as an admin configures them: a valid body, and what the database then holds."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from service.db import Database
from service.models import AuditEntry, Clinic, Role
from service.security import issue_key


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


def limited_key(database_url: str, *clinic_ids: str) -> str:
    """A scheduler key limited to ``clinic_ids``, as ``tellwell keys create --clinic`` makes."""
    db = Database(database_url)
    with db.session() as session:
        raw = issue_key(session, Role.SCHEDULER, "limited", list(clinic_ids)).raw
    db.dispose()
    return raw
