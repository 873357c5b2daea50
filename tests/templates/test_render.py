"""Rendering: every message renders, says the facts, and fails loudly when it cannot."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from templates import (
    KEYPAD,
    KINDS,
    VARIANTS,
    BrokenTemplate,
    InvalidFact,
    Message,
    MissingFact,
    TemplateError,
    UnknownTemplate,
    available_kinds,
    languages,
    render_message,
    sample_facts,
)
from tests.support.languages import LANGUAGES
from voices.scripts import sentences

TEMPLATE_ROOT = Path(__file__).resolve().parents[2] / "templates"


SUPPORTED = LANGUAGES


def test_every_supported_language_is_offered_with_every_kind() -> None:
    assert sorted(SUPPORTED) == languages()
    for language in SUPPORTED:
        assert available_kinds(language) == list(KINDS)
    assert available_kinds("xx") == []


def test_every_message_renders_cleanly(rendered: Message) -> None:
    for said in (rendered.text, rendered.spoken):
        assert "{{" not in said and "{%" not in said and "{#" not in said
        assert "None" not in said
        assert "  " not in said and "\n" not in said and said == said.strip()
        # Lines joined without a space would read "PM.Again" to a patient.
        assert not re.search(r"[a-z][.,:][A-Za-z]", said)
        assert "Riverside Clinic" in said


def test_the_transcript_reads_well_and_the_spoken_form_sounds_right(rendered: Message) -> None:
    assert "(312) 555-0100" not in rendered.spoken
    assert "Dr." not in rendered.spoken
    if "555" in rendered.text:
        assert "(312) 555-0100" in rendered.text
        assert "3 1 2, 5 5 5, 0 1 0 0" in rendered.spoken


def test_english_call_says_the_facts_twice_and_then_the_menu() -> None:
    facts = sample_facts("appointment_reminder")
    message = render_message("appointment_reminder", "en", "call", facts)
    text = message.text
    assert text.startswith("Hello, María López. This is Riverside Clinic.")
    assert text.count("Thursday, December 3") == 2
    assert text.count("2:30 PM") == 2
    assert text.count("Dr. Chen") == 2
    assert "Second floor, suite 210" in text
    assert "Bring your medicine list." in text
    assert text.endswith(
        "Press 1 to confirm. Press 2 to cancel. Press 9 to hear this again. Press 0 to talk to us."
    )
    assert message.spoken.count("Doctor Chen") == 2


def test_spanish_call_says_the_same_facts_in_spanish() -> None:
    facts = sample_facts("appointment_reminder", "es")
    message = render_message("appointment_reminder", "es", "call", facts)
    text = message.text
    assert text.startswith("Hola, María López.")
    assert "su clínica, Riverside Clinic" in text
    assert "cita" in text
    assert text.count("jueves, 3 de diciembre") == 2
    assert text.count("a las 2:30 de la tarde") == 2
    assert text.count("con el Dr. Chen") == 2
    assert "Segundo piso, consultorio 210" in text
    assert "Traiga su lista de medicinas." in text
    assert text.endswith(
        "Oprima 1 para confirmar. Oprima 2 para cancelar. Oprima 9 para oír esto otra vez. "
        "Oprima 0 para hablar con nosotros."
    )
    assert "con el doctor Chen" in message.spoken
    for english in ("Hello", "Press", "Thursday", "December", "PM", "appointment"):
        assert english not in text


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_live_call_offers_exactly_the_keys_the_phone_handles(language: str, kind: str) -> None:
    message = render_message(kind, language, "call", sample_facts(kind, language))
    offered = re.findall(r"(?:Press|Oprima) (\d)", message.text)
    # A follow-up first offers its lowest answer ("Press 1 for poor, up to 5 ..."):
    # tests/templates/test_follow_up.py checks its answer keys in every language.
    assert offered == ["1"] * (kind == "follow_up") + list(KEYPAD[kind])
    app = render_message(kind, language, "app", sample_facts(kind, language))
    assert not re.search(r"Press|Oprima", app.text)


@pytest.mark.parametrize("language", ["en", "es"])
def test_app_message_has_the_call_facts_and_a_number_but_no_menu(language: str) -> None:
    facts = sample_facts("appointment_reminder", language)
    call = render_message("appointment_reminder", language, "call", facts)
    app = render_message("appointment_reminder", language, "app", facts)
    day = {"en": "December 3", "es": "3 de diciembre"}[language]
    for fact in ("Dr. Chen", "210", facts.instructions or "", day):
        assert fact in call.text and fact in app.text
    assert "(312) 555-0100" in app.text


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_result_ready_never_names_a_test_or_a_value(language: str, variant: str) -> None:
    facts = sample_facts("result_ready", language)
    message = render_message("result_ready", language, variant, facts)
    if variant != "voicemail":
        ready = "Your test results are ready." if language == "en" else "ya están listos."
        assert ready in message.text
        assert "Dr. Chen" in message.text
    for word in ("positive", "negative", "normal", "blood", "positivo", "negativo", "sangre"):
        assert word not in message.text.lower()


def test_instructions_are_optional_and_said_as_a_sentence() -> None:
    facts = sample_facts("appointment_reminder")
    without = render_message(
        "appointment_reminder", "en", "call", dataclasses.replace(facts, instructions=None)
    )
    assert "medicine" not in without.text
    assert "210. Again," in without.text
    no_stop = render_message(
        "appointment_reminder", "en", "call", dataclasses.replace(facts, instructions="Come early")
    )
    assert "Come early. Again," in no_stop.text


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("language", ["en", "es"])
def test_a_missing_fact_is_named(language: str, variant: str) -> None:
    facts = dataclasses.replace(
        sample_facts("appointment_reminder", language), appointment_start=None
    )
    with pytest.raises(MissingFact) as caught:
        render_message("appointment_reminder", language, variant, facts)
    assert caught.value.fact == "appointment_start"
    assert "appointment_start" in str(caught.value)
    assert caught.value.__cause__ is not None  # the StrictUndefined error, kept


def test_a_blank_fact_counts_as_missing() -> None:
    facts = dataclasses.replace(sample_facts("appointment_reminder"), clinic_name="   ")
    with pytest.raises(MissingFact, match="clinic_name"):
        render_message("appointment_reminder", "en", "app", facts)


def test_voicemail_does_not_need_the_facts_it_must_not_say() -> None:
    facts = dataclasses.replace(
        sample_facts("appointment_reminder"), provider=None, location=None, instructions=None
    )
    message = render_message("appointment_reminder", "en", "voicemail", facts)
    assert "2:30 PM" in message.text


@pytest.mark.parametrize(
    ("kind", "language", "variant"),
    [
        ("flu_shot", "en", "call"),
        ("appointment_reminder", "xx", "call"),
        ("appointment_reminder", "en", "sms"),
        ("appointment_reminder", "../en", "call"),
    ],
)
def test_an_unknown_message_is_refused(kind: str, language: str, variant: str) -> None:
    with pytest.raises(UnknownTemplate) as caught:
        render_message(kind, language, variant, sample_facts("appointment_reminder"))
    assert isinstance(caught.value, TemplateError)


def test_a_fact_that_looks_like_template_code_is_said_literally() -> None:
    attack = "{{ ''.__class__.__mro__ }}{% for x in range(3) %}x{% endfor %}"
    facts = dataclasses.replace(sample_facts("appointment_reminder"), instructions=attack)
    message = render_message("appointment_reminder", "en", "call", facts)
    assert attack in message.text
    assert "<class" not in message.text


def test_the_time_is_said_in_the_patients_time_zone() -> None:
    facts = sample_facts("appointment_reminder")
    assert facts.appointment_start == datetime(2026, 12, 3, 20, 30, tzinfo=UTC)
    assert "at 2:30 PM" in render_message("appointment_reminder", "en", "call", facts).text
    in_la = dataclasses.replace(facts, timezone="America/Los_Angeles")
    assert "at 12:30 PM" in render_message("appointment_reminder", "en", "call", in_la).text


def test_spanish_says_a_la_una_in_the_singular() -> None:
    one_pm = datetime(2026, 12, 3, 19, 15, tzinfo=UTC)  # 1:15 PM in Chicago
    facts = dataclasses.replace(
        sample_facts("appointment_reminder", "es"), appointment_start=one_pm
    )
    text = render_message("appointment_reminder", "es", "voicemail", facts).text
    assert "a la 1:15 de la tarde" in text
    assert "a las 1" not in text


def test_a_naive_appointment_time_is_refused_not_guessed() -> None:
    facts = dataclasses.replace(
        sample_facts("appointment_reminder"), appointment_start=datetime(2026, 12, 3, 14, 30)
    )
    with pytest.raises(InvalidFact, match="appointment_start"):
        render_message("appointment_reminder", "en", "call", facts)


def test_a_new_language_is_a_new_folder(tmp_path: Path) -> None:
    shutil.copytree(TEMPLATE_ROOT / "en", tmp_path / "en")
    folder = tmp_path / "fr"
    assert not folder.exists()
    folder.mkdir()
    (folder / "language.json").write_text(
        json.dumps(
            {
                "name": "Français",
                "locale": "fr_FR",
                "titles": [{"written": "Dr", "spoken": "docteur", "article": "le"}],
            }
        ),
        encoding="utf-8",
    )
    for variant in VARIANTS:
        (folder / f"result_ready.{variant}.j2").write_text(
            "Bonjour {{ first_name }}.\n"
            "Ici {{ clinic_name }}, de la part {{ ordered_by | person(article=true) }}.\n"
            "Appelez le {{ clinic_phone | phone }}.\n",
            encoding="utf-8",
        )
    assert languages(tmp_path) == ["en", "fr"]
    assert available_kinds("fr", tmp_path) == ["result_ready"]
    facts = sample_facts("result_ready")
    message = render_message("result_ready", "fr", "app", facts, root=tmp_path)
    assert message.text.startswith("Bonjour María. Ici Riverside Clinic, de la part le Dr Chen.")
    assert "le docteur Chen" in message.spoken
    # A US number for a patient in France keeps its country code.
    assert message.text.endswith("Appelez le +1 312-555-0100.")
    with pytest.raises(UnknownTemplate, match="not written yet"):
        render_message("appointment_reminder", "fr", "app", facts, root=tmp_path)


def test_a_misspelt_time_zone_is_refused_even_when_no_time_is_said() -> None:
    facts = dataclasses.replace(sample_facts("result_ready"), timezone="America/Chicgo")
    with pytest.raises(InvalidFact, match="timezone"):
        render_message("result_ready", "en", "voicemail", facts)


def test_a_broken_language_file_is_a_broken_template_not_a_crash(tmp_path: Path) -> None:
    shutil.copytree(TEMPLATE_ROOT / "en", tmp_path / "en")
    (tmp_path / "en" / "language.json").write_text('{"name": "English"', encoding="utf-8")
    with pytest.raises(BrokenTemplate, match=r"en/language\.json"):
        render_message("result_ready", "en", "app", sample_facts("result_ready"), root=tmp_path)


@pytest.mark.parametrize("variant", ["call", "voicemail"])
def test_initials_in_names_are_not_heard_as_the_end_of_a_sentence(variant: str) -> None:
    facts = dataclasses.replace(
        sample_facts("appointment_reminder"),
        patient_name="Ana L. Lopez",
        clinic_name="J. R. Hill Clinic",
        provider="Dr. M. Chen",
    )
    message = render_message("appointment_reminder", "en", variant, facts)
    said = sentences(message.spoken)
    # No sentence the engine speaks ends on an initial: it would pause inside the name.
    assert not [s for s in said if re.search(r"(^|\s)[A-Z]\.$", s)], said
    assert "J R Hill Clinic" in message.spoken
    assert "J. R. Hill Clinic" in message.text, "the reader still sees the name as written"
    if variant == "call":
        assert "Ana L Lopez" in message.spoken and "Doctor M Chen" in message.spoken
        assert "Ana L. Lopez" in message.text and "Dr. M. Chen" in message.text
    else:
        assert "Ana" in message.spoken and "Lopez" not in message.spoken  # first name only
