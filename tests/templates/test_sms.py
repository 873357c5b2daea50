"""The text message in every language and kind: plain, short, and nothing but the clinic's
name and the listen link (a text is read by whoever holds the phone)."""

from __future__ import annotations

import re

import pytest

from templates import (
    KINDS,
    READING_GRADE_MAX,
    load_profile,
    plain_language_findings,
    reading_grade,
    sample_facts,
    sms_text,
)
from templates.locales import language_codes

CLINIC = "Riverside Clinic"
LINK = "https://tellwell.example.org/listen/WyIzZjljMWU3YTJiNGQ0YzBlIl0.aw-xyw.Qm9kZXhhbXBsZQ"
SMS_CHARS_MAX = 320
"""Two SMS segments of GSM-7 at most (Twilio joins them): short enough to read at a glance."""
EVERY = [(language, kind) for language in language_codes() for kind in KINDS]


@pytest.mark.parametrize(("language", "kind"), EVERY)
def test_a_text_says_the_clinic_and_the_link_and_nothing_else(language: str, kind: str) -> None:
    text = sms_text(language, kind, CLINIC, LINK)
    assert text.count(CLINIC) == 1 and text.count(LINK) == 1
    rest = text.replace(CLINIC, " ").replace(LINK, " ")
    assert not re.search(r"\d", rest), "no date, time, number or code"
    facts = sample_facts(kind, language)
    said = [facts.patient_name, *facts.patient_name.split(), facts.provider, facts.location]
    said += [facts.instructions, facts.ordered_by, facts.clinic_phone, "Chen"]
    assert [word for word in said if word and word in rest] == []
    profile = load_profile(language)
    assert profile is not None
    words = set(re.findall(r"\w+", rest.casefold()))
    private = {word.casefold() for word in profile.private_words}
    assert words & private == set(), "no result words, no appointment words of the privacy lint"
    assert len(text) <= SMS_CHARS_MAX


@pytest.mark.parametrize("language", language_codes())
def test_every_text_passes_the_plain_language_gates(language: str) -> None:
    text = sms_text(language, "appointment_reminder", CLINIC, LINK).replace(LINK, "")
    assert plain_language_findings(text, language) == []
    grade = reading_grade(text, language)
    assert grade is None or grade <= READING_GRADE_MAX
    # One wording for every kind: no kind gives its subject away.
    assert {sms_text(language, kind, CLINIC, LINK) for kind in KINDS} == {
        sms_text(language, "appointment_reminder", CLINIC, LINK)
    }
