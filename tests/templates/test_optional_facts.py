"""Only the visit's start is required: any other fact may be absent (API.md, Reminders).

A sentence that needs an absent fact is left out whole, so the message still reads
naturally in every language: no "with ." or "con ." left behind, no gap, no placeholder.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from templates import (
    KEYPAD,
    KINDS,
    VARIANTS,
    Message,
    MessageFacts,
    MissingFact,
    reading_grade,
    render_message,
    sample_facts,
    voicemail_findings,
)

LANGUAGES = ["en", "es"]
OPTIONAL: dict[str, tuple[str, ...]] = {
    "appointment_reminder": ("provider", "location", "instructions"),
    "result_ready": ("ordered_by",),
    "appointment_changed": ("provider", "location", "instructions", "previous_start"),
    "appointment_cancelled": ("provider",),
    "follow_up": (),
}
# What each optional fact makes a message say, in the sample facts: its value and the words
# that lead into it. None of it may be left when the fact is absent.
SAID: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "provider": ("Chen", "Dr.", "Doctor", "You will see", "with Dr", "with Doctor"),
        "location": ("210", "Second floor", "come to"),
        "instructions": ("medicine",),
        "ordered_by": ("Chen", "Dr.", "Doctor", "ordered"),
        "previous_start": ("Tuesday", "December 1,", "It was on"),
    },
    "es": {
        "provider": ("Chen", "Dr.", "doctor", "cita es con", ", con el"),
        "location": ("210", "Segundo piso", "Venga a"),
        "instructions": ("medicinas",),
        "ordered_by": ("Chen", "Dr.", "doctor", "pidió"),
        "previous_start": ("martes", "1 de diciembre", "Antes era"),
    },
}
DAY = {"en": "Thursday, December 3", "es": "jueves, 3 de diciembre"}
REPEAT = {
    "en": "Again, that is Thursday, December 3, at 2:30 PM",
    "es": "Le repito: el jueves, 3 de diciembre, a las 2:30 de la tarde",
}
WITH = {"en": ", with {}.", "es": ", con el {}."}
GRADE_LIMIT = 6.0
# A word that needs something after it, left right before a stop: "with .", "con el.".
# (A colon may follow one, "Please come to: ...", as long as something follows the colon.)
DANGLING = re.compile(r"\b(?:with|and|at|to|by|see|is|con|el|la|las|a|al|de|y|es)\s*[.,;!?]")
ALL = [
    (language, kind, variant) for language in LANGUAGES for kind in KINDS for variant in VARIANTS
]
IDS = ["-".join(case) for case in ALL]


def without(facts: MessageFacts, *names: str) -> MessageFacts:
    gone: dict[str, Any] = dict.fromkeys(names)
    return dataclasses.replace(facts, **gone)


def required_only(kind: str, language: str) -> MessageFacts:
    return without(sample_facts(kind, language), *OPTIONAL[kind])


def assert_reads_cleanly(message: Message) -> None:
    for said in (message.text, message.spoken):
        assert "{{" not in said and "{%" not in said and "{#" not in said
        assert "None" not in said and "Undefined" not in said
        assert "  " not in said and "\n" not in said and said == said.strip()
        assert not re.search(r"\s[.,;:!?]", said), said  # " ." or " ,": a gap where a fact was
        assert not re.search(r"[.,;:]\s*[.,;:]", said), said  # ",." or ": ." or ".."
        assert not re.search(r"[.,;:!?][^\s\d]", said), said  # "PM.Press": lines glued
        assert not DANGLING.search(said), said
        assert said.endswith((".", "!", "?"))
        assert "Riverside Clinic" in said


@pytest.mark.parametrize(("language", "kind", "variant"), ALL, ids=IDS)
def test_only_the_required_facts_give_a_clean_message(
    language: str, kind: str, variant: str
) -> None:
    message = render_message(kind, language, variant, required_only(kind, language))
    assert_reads_cleanly(message)
    for fact in OPTIONAL[kind]:
        for words in SAID[language][fact]:
            assert words not in message.text and words not in message.spoken, (fact, words)
    if kind not in ("result_ready", "follow_up"):
        assert DAY[language] in message.text
    if variant == "call":
        offered = re.findall(r"(?:Press|Oprima) (\d)", message.text)
        # A follow-up first offers its lowest answer ("Press 1 for poor, up to 5 ...").
        assert offered == ["1"] * (kind == "follow_up") + list(KEYPAD[kind])


@pytest.mark.parametrize(("language", "kind", "variant"), ALL, ids=IDS)
def test_each_optional_fact_can_be_missing_on_its_own(
    language: str, kind: str, variant: str
) -> None:
    for fact in OPTIONAL[kind]:
        facts = without(sample_facts(kind, language), fact)
        message = render_message(kind, language, variant, facts)
        assert_reads_cleanly(message)
        for words in SAID[language][fact]:
            if not any(words in SAID[language][kept] for kept in OPTIONAL[kind] if kept != fact):
                assert words not in message.text, (fact, words)
        if variant != "voicemail":
            for kept in OPTIONAL[kind]:
                value = getattr(facts, kept)
                if kept != fact and isinstance(value, str):
                    assert value.rstrip(".") in message.text, (fact, kept)


@pytest.mark.parametrize("variant", ["call", "app"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_all_facts_given_are_all_said(language: str, variant: str) -> None:
    facts = sample_facts("appointment_reminder", language)
    visit = render_message("appointment_reminder", language, variant, facts)
    assert visit.text.count("Dr. Chen") == 2
    assert f"{REPEAT[language]}{WITH[language].format('Dr. Chen')}" in visit.text
    assert (facts.location or "?") in visit.text
    assert (facts.instructions or "?") in visit.text
    results = render_message("result_ready", language, variant, sample_facts("result_ready"))
    assert "Dr. Chen" in results.text
    assert_reads_cleanly(visit)
    assert_reads_cleanly(results)


@pytest.mark.parametrize("variant", ["call", "app"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_without_a_provider_the_repeat_says_only_when(language: str, variant: str) -> None:
    facts = without(sample_facts("appointment_reminder", language), "provider")
    message = render_message("appointment_reminder", language, variant, facts)
    assert f"{REPEAT[language]}." in message.text
    assert message.text.count(DAY[language]) == 2


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_blank_provider_is_left_out_like_a_missing_one(language: str) -> None:
    facts = dataclasses.replace(sample_facts("appointment_reminder", language), provider="  ")
    message = render_message("appointment_reminder", language, "call", facts)
    assert_reads_cleanly(message)
    assert f"{REPEAT[language]}." in message.text


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("others", ["all", "required"])
def test_the_visit_start_is_still_required(language: str, variant: str, others: str) -> None:
    kind = "appointment_reminder"
    facts = sample_facts(kind, language) if others == "all" else required_only(kind, language)
    with pytest.raises(MissingFact) as caught:
        render_message(kind, language, variant, without(facts, "appointment_start"))
    assert caught.value.fact == "appointment_start"


@pytest.mark.parametrize(("language", "kind", "variant"), ALL, ids=IDS)
def test_a_message_with_only_the_required_facts_is_plain(
    language: str, kind: str, variant: str
) -> None:
    facts = required_only(kind, language)
    message = render_message(kind, language, variant, facts)
    grade = reading_grade(message.text, language)
    assert grade is not None and grade <= GRADE_LIMIT, grade
    if variant == "voicemail":
        assert voicemail_findings(message, facts) == []


@pytest.mark.parametrize("variant", ["call", "app"])
def test_spanish_still_says_a_la_una_in_the_shared_part(variant: str) -> None:
    one_pm = datetime(2026, 12, 3, 19, 15, tzinfo=UTC)  # 1:15 PM in Chicago
    facts = dataclasses.replace(
        required_only("appointment_reminder", "es"), appointment_start=one_pm
    )
    text = render_message("appointment_reminder", "es", variant, facts).text
    assert text.count("a la 1:15 de la tarde") == 2
    assert "a las 1" not in text
