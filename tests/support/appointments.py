"""Appointment bodies, and what the database holds of them, for the appointment tests.

Their clinics are stored straight into the database (``tests.support.clinics.store_clinic``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from service.db import Database
from service.models import Appointment, Reminder, Status, advance


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


def advance_to(database_url: str, reminder_id: str, status: str) -> None:
    """Move a reminder one step, as the pipeline would (a keypress: confirmed, ...)."""
    db = Database(database_url)
    with db.session() as session:
        assert advance(session, reminder_id, Status(status)), f"{reminder_id} is not {status}"
    db.dispose()
