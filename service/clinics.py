"""Clinic records as the rest of the service reads them.

A reminder keeps the clinic facts it was made with (``Reminder.facts["clinic"]``), so a
clinic edited later does not change a message already planned; ``clinic_facts`` is the
one place that turns a record into those facts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from service.call_policy import CallingHours
from service.models import Clinic


def find_clinic(session: Session, clinic_id: str) -> Clinic | None:
    """The clinic named ``clinic_id``; None when there is none or it was deleted."""
    clinic = session.get(Clinic, clinic_id)
    if clinic is None or clinic.deleted_at is not None:
        return None
    return clinic


def clinic_facts(clinic: Clinic) -> dict[str, Any]:
    """The ``clinic`` block a reminder stores: what its messages say and how it calls.

    ``name`` is the spoken name when the clinic set one: the name is heard, not read.
    """
    return {
        "id": clinic.id,
        "name": clinic.spoken_name or clinic.display_name,
        "callback_phone": clinic.callback_phone,
        "caller_id": clinic.caller_id,
        "calling_hours": {
            "start": clinic.calling_hours_start,
            "end": clinic.calling_hours_end,
        },
    }


def calling_hours(clinic: Clinic) -> CallingHours:
    return CallingHours.parse(clinic.calling_hours_start, clinic.calling_hours_end)
