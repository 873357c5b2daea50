"""A clinic's own words: its lexicon over the shipped one, its wording as slots in the
sandbox, and the gates that refuse wording the shipped text would fail."""

from __future__ import annotations

import dataclasses

import pytest

from templates import (
    BadWording,
    Entry,
    check_wording,
    layered,
    load_lexicon,
    render_message,
    sample_facts,
    shipped_wording_hash,
)

CALL = (
    "Hello, {patient_name}. This is {clinic_name}.\n"
    "Your visit is on {day}, at {time}. You will see {provider}.\n"
    "Please come to {location}.\n"
    "{menu}"
)
VOICEMAIL = (
    "Hello. This message is for {first_name}. This is {clinic_name}.\n"
    "You have a visit on {day}, at {time}.\n"
    "Please call us at {clinic_phone}. Again, our number is {clinic_phone}. Thank you."
)


def test_a_clinic_entry_wins_over_the_shipped_one_for_the_same_word() -> None:
    shipped = load_lexicon("en")
    assert shipped.entries, "English ships a lexicon"
    word = shipped.entries[0]
    mine = layered(shipped, [Entry(word.written.upper(), "my way")])
    assert mine.apply(f"Ask for {word.written}.") == "Ask for my way."
    others = [e for e in shipped.entries[1:] if e.written.casefold() != word.written.casefold()]
    assert all(entry in mine.entries for entry in others)
    assert layered(shipped, []) is shipped


def test_clinic_entries_change_the_spoken_text_and_never_the_transcript() -> None:
    facts = sample_facts("appointment_reminder", "en")
    message = render_message(
        "appointment_reminder", "en", "call", facts, lexicon=[Entry("Chen", "Chenn")]
    )
    assert "Dr. Chen" in message.text and "Chenn" not in message.text
    assert "Doctor Chenn" in message.spoken
    plain = render_message("appointment_reminder", "en", "call", facts)
    assert "Chenn" not in plain.spoken


def test_clinic_wording_says_the_facts_the_way_the_templates_do() -> None:
    facts = sample_facts("appointment_reminder", "en")
    message = render_message("appointment_reminder", "en", "call", facts, wording=CALL)
    assert message.text.startswith("Hello, María López. This is Riverside Clinic.")
    assert "Thursday, December 3, at 2:30 PM. You will see Dr. Chen." in message.text
    assert "Thursday, December third" in message.spoken and "Doctor Chen" in message.spoken
    assert "Please come to Second floor, suite 210." in message.text
    assert message.text.endswith("Press 0 to talk to us.")  # the language's own menu
    assert "Press 1 to confirm." in message.text


def test_a_sentence_naming_an_absent_optional_fact_is_left_out() -> None:
    facts = dataclasses.replace(
        sample_facts("appointment_reminder", "en"), provider=None, location=None
    )
    message = render_message("appointment_reminder", "en", "call", facts, wording=CALL)
    assert "You will see" not in message.text and "Please come to" not in message.text
    assert "Your visit is on Thursday, December 3, at 2:30 PM. Press 1" in message.text


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Hi {patient_name.__class__}.", "only bare slot names"),
        ("Hi {patient_name[0]}.", "only bare slot names"),
        ("Hi {__import__}.", "is not a known slot"),
        ("Hi {doctor}.", "{doctor} is not a known slot"),
        ("On {day:%Y}.", "takes no format"),
        ("Hi {patient_name!r}.", "takes no conversion"),
        ("Hi {patient_name.", "braces do not pair up"),
        ("Hi {}.", "has no slot name"),
    ],
)
def test_anything_but_a_bare_known_slot_is_refused(text: str, problem: str) -> None:
    facts = sample_facts("appointment_reminder", "en")
    with pytest.raises(BadWording) as refused:
        render_message("appointment_reminder", "en", "app", facts, wording=text)
    assert any(problem in found for found in refused.value.problems), refused.value.problems


def test_template_code_in_the_wording_is_said_literally() -> None:
    facts = sample_facts("appointment_reminder", "en")
    text = "Hi {first_name}. {{{{ 7*7 }}}} {{% if true %}}x{{% endif %}}. {menu}"
    message = render_message("appointment_reminder", "en", "call", facts, wording=text)
    assert "{{ 7*7 }} {% if true %}x{% endif %}." in message.text
    assert "49" not in message.text


def test_the_shipped_wording_passes_the_gates_as_a_clinic_text() -> None:
    assert check_wording(CALL, "appointment_reminder", "en", "call").problems == []
    assert check_wording(VOICEMAIL, "appointment_reminder", "en", "voicemail").problems == []


@pytest.mark.parametrize(
    ("kind", "variant", "text", "problem"),
    [
        ("appointment_reminder", "call", "Hello {patient_name}. See {doctor}. {menu}", "{doctor}"),
        (
            "appointment_reminder",
            "call",
            "Hello {patient_name.__class__}. {menu}",
            "only bare slot names",
        ),
        ("appointment_reminder", "call", "Hello, {patient_name}. Your visit is {day}.", "{menu}"),
        ("result_ready", "app", "Hello {patient_name}. Your visit is on {day}.", "no appointment"),
        ("appointment_reminder", "app", "Hi {patient_name}. {menu}", "calls only"),
        (
            "result_ready",
            "voicemail",
            "Hello {first_name}. This is {clinic_name}. Your test results are ready. "
            "Call {clinic_phone}. Again, {clinic_phone}.",
            "private word said: 'results'",
        ),
        (
            "appointment_reminder",
            "voicemail",
            "Hello {patient_name}. This is {clinic_name}. You see {provider} on {day}. "
            "Call {clinic_phone}.",
            "provider is said",
        ),
        (
            "appointment_reminder",
            "call",
            "Hello, {patient_name}. Your forthcoming consultation necessitates comprehensive "
            "documentation of pharmaceutical interventions administered concurrently. {menu}",
            "reading grade",
        ),
    ],
)
def test_the_gates_refuse_wording_the_shipped_text_would_fail(
    kind: str, variant: str, text: str, problem: str
) -> None:
    report = check_wording(text, kind, "en", variant)
    assert any(problem in found for found in report.problems), report.problems


def test_languages_without_a_formula_get_the_plain_language_limits() -> None:
    long_sentence = " ".join(["mot"] * 25)
    text = f"Bonjour {{patient_name}}. {long_sentence}. {{menu}}"
    report = check_wording(text, "appointment_reminder", "fr", "call")
    assert any("25 words > 20" in found for found in report.problems), report.problems


def test_the_shipped_wording_is_named_by_its_content() -> None:
    english = shipped_wording_hash("en")
    assert len(english) == 64 and english != shipped_wording_hash("es")
    assert english == shipped_wording_hash("en")
