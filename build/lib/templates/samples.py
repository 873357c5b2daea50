"""Realistic sample facts for previews, docs and tests.

Fixed dates (not "now") so a preview, a snapshot and a test say the same thing every day.
The appointment is the one in API.md: 2026-12-03 14:30 in Chicago (20:30 UTC), a Thursday,
three days after ``SAMPLE_TODAY``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from templates.errors import UnknownTemplate
from templates.render import KINDS, MessageFacts

SAMPLE_TODAY = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
"""The day the samples pretend it is (a Monday)."""

SAMPLE_APPOINTMENT = datetime(2026, 12, 3, 20, 30, tzinfo=UTC)
"""Thursday, December 3, 2:30 PM in America/Chicago."""

# Free text arrives in the patient's language from the clinic; names and numbers do not change.
_FREE_TEXT = {
    "en": ("Second floor, suite 210", "Bring your medicine list."),
    "es": ("Segundo piso, consultorio 210", "Traiga su lista de medicinas."),
}


def sample_facts(kind: str, language: str = "en") -> MessageFacts:
    """Sample facts for ``kind``; ``language`` picks the clinic's free text (English if none)."""
    location, instructions = _FREE_TEXT.get(language, _FREE_TEXT["en"])
    common = MessageFacts(
        patient_name="María López",
        clinic_name="Riverside Clinic",
        clinic_phone="+13125550100",
        timezone="America/Chicago",
    )
    if kind == "appointment_reminder":
        return replace(
            common,
            appointment_start=SAMPLE_APPOINTMENT,
            provider="Dr. Chen",
            location=location,
            instructions=instructions,
        )
    if kind == "result_ready":
        return replace(common, ordered_by="Dr. Chen")
    raise UnknownTemplate(language, kind, "*", f"no sample facts; kinds {KINDS}")
