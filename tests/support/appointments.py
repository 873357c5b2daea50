"""Clinic rows and appointment bodies for the appointment tests.

Clinics are stored straight into the database (``store_clinic``), the way the clinic API
stores them, with a schedule of "1 day before at 10:00" and "2 hours before", so a planning
test states every setting it depends on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db import Database
from service.models import ApiKey, Appointment, Clinic, Reminder, Status, advance
from service.security import hash_key

DEFAULT_SCHEDULE = {
    "appointment_reminder": [{"days_before": 1, "at": "10:00"}, {"hours_before": 2}]
}


def make_clinic(session: Session, **overrides: Any) -> Clinic:
    values: dict[str, Any] = {
        "id": "riverside",
        "display_name": "Riverside Clinic",
        "spoken_name": None,
        "callback_phone": "+13125550100",
        "caller_id": None,
        "timezone": "America/New_York",
        "country": "US",
        "calling_hours_start": "08:00",
        "calling_hours_end": "21:00",
        "default_language": "en",
        "default_speech_rate": "normal",
        "channels": ["phone", "app"],
        "schedule": DEFAULT_SCHEDULE,
        "identifiers": [],
        "require_reviewed_wording": False,
    }
    values.update(overrides)
    clinic = Clinic(**values)
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


def limit_key(database_url: str, raw_key: str, clinic_ids: list[str] | None) -> None:
    """Limit an API key to some clinics, as the admin API would."""
    db = Database(database_url)
    with db.session() as session:
        key = session.query(ApiKey).filter_by(key_hash=hash_key(raw_key)).one()
        key.clinic_ids = clinic_ids
    db.dispose()


def appointment_body(start: datetime, version: int = 1, **changes: Any) -> dict[str, Any]:
    """A valid appointment as a scheduling system sends it."""
    body: dict[str, Any] = {
        "patient": {"name": "María López", "phone": "+13125550123", "language": "es"},
        "start": start.isoformat(),
        "provider": "Dr. Chen",
        "location": "Second floor, suite 210",
        "instructions": "Bring your medicine list.",
        "version": version,
    }
    body.update(changes)
    return body


def deliver(database_url: str, reminder_id: str) -> None:
    """Move a reminder to delivered through each status, as the pipeline would."""
    db = Database(database_url)
    for status in (Status.RENDERING, Status.READY, Status.DISPATCHING, Status.DELIVERED):
        with db.session() as session:
            assert advance(session, reminder_id, status), f"{reminder_id} did not reach {status}"
    db.dispose()


def stored_reminders(database_url: str, appointment_id: str) -> list[Reminder]:
    """The appointment's reminders as stored (facts included), oldest first."""
    db = Database(database_url)
    with db.session() as session:
        rows = list(
            session.scalars(
                select(Reminder)
                .where(Reminder.appointment_id == appointment_id)
                .order_by(Reminder.created_at, Reminder.send_at)
            )
        )
    db.dispose()
    return rows


def count_appointments(database_url: str) -> int:
    db = Database(database_url)
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(Appointment)) or 0
    db.dispose()
    return total
