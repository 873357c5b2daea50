"""The sample clinic the tests and the benches store: one place for its facts."""

from __future__ import annotations

from typing import Any

SAMPLE_SCHEDULE: dict[str, Any] = {
    "appointment_reminder": [{"days_before": 1, "at": "10:00"}, {"hours_before": 2}]
}
"""Two reminders: the day before at 10:00, and two hours before."""


def sample_clinic(**overrides: Any) -> dict[str, Any]:
    """The columns of Riverside Clinic (Chicago's area code, New York's time), with
    ``overrides``; a fresh dict each time, safe to change."""
    return {
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
        "schedule": SAMPLE_SCHEDULE,
        "identifiers": [],
        "require_reviewed_wording": False,
    } | overrides
