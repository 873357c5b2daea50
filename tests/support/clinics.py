"""Clinic records as the clinics API would leave them, written straight to the database
(the clinics API is built elsewhere; these tests need only the rows)."""

from __future__ import annotations

from typing import Any

from service.db import Database
from service.models import Clinic, Role
from service.security import issue_key


def add_clinic(database_url: str, clinic_id: str = "riverside", **changes: Any) -> str:
    """Insert a clinic (Riverside Clinic, Chicago, English by default); returns its id."""
    values: dict[str, Any] = {
        "id": clinic_id,
        "display_name": "Riverside Clinic",
        "callback_phone": "+13125550100",
        "timezone": "America/Chicago",
        "country": "US",
        "calling_hours_start": "08:00",
        "calling_hours_end": "21:00",
        "default_language": "en",
        "default_speech_rate": "normal",
        "channels": ["phone"],
        "schedule": {},
        "identifiers": [],
        "require_reviewed_wording": False,
    }
    values.update(changes)
    db = Database(database_url)
    with db.session() as session:
        session.add(Clinic(**values))
    db.dispose()
    return clinic_id


def reviewer_key(database_url: str, name: str = "Ana Reyes") -> str:
    """A ``reviewer`` key: staff who may also sign a language's wording."""
    db = Database(database_url)
    with db.session() as session:
        raw = issue_key(session, Role.REVIEWER, name).raw
    db.dispose()
    return raw
