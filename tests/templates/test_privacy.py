"""Voicemails say the minimum necessary, and the lint proves it (and catches a bad one)."""

from __future__ import annotations

import dataclasses

import pytest

from templates import (
    KINDS,
    Message,
    languages,
    load_profile,
    render_message,
    sample_facts,
    voicemail_findings,
)


@pytest.mark.parametrize("language", languages())
@pytest.mark.parametrize("kind", KINDS)
def test_every_voicemail_is_fit_to_leave(language: str, kind: str) -> None:
    facts = sample_facts(kind, language)
    message = render_message(kind, language, "voicemail", facts)
    assert voicemail_findings(message, facts) == []
    for said in (message.text, message.spoken):
        assert "Chen" not in said
        assert "210" not in said
        assert "medicin" not in said
        assert "López" not in said
        assert "María" in said  # the first name, so the household knows whom to tell
        assert "Riverside Clinic" in said
    assert message.text.count("(312) 555-0100") == 2
    assert message.spoken.count("3 1 2, 5 5 5, 0 1 0 0") == 2


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_results_voicemail_does_not_say_results_exist(language: str) -> None:
    facts = sample_facts("result_ready", language)
    message = render_message("result_ready", language, "voicemail", facts)
    lowered = message.text.lower()
    for word in ("result", "resultado", "test", "prueba", "lab", "ready", "listo"):
        assert word not in lowered


@pytest.mark.parametrize("language", ["en", "es"])
def test_an_appointment_voicemail_says_when(language: str) -> None:
    facts = sample_facts("appointment_reminder", language)
    message = render_message("appointment_reminder", language, "voicemail", facts)
    when = {
        "en": "Thursday, December 3, at 2:30 PM",
        "es": "jueves, 3 de diciembre, a las 2:30 de la tarde",
    }[language]
    assert when in message.text


@pytest.mark.parametrize("language", languages())
@pytest.mark.parametrize("kind", KINDS)
def test_the_lint_catches_a_full_message_left_on_a_voicemail(language: str, kind: str) -> None:
    facts = sample_facts(kind, language)
    app = render_message(kind, language, "app", facts)
    findings = voicemail_findings(dataclasses.replace(app, variant="voicemail"), facts)
    assert "patient_name is said in full (only the first name may be)" in findings
    if kind in ("appointment_reminder", "appointment_changed"):
        for fact in ("provider", "location", "instructions"):
            assert f"{fact} is said" in findings
    elif kind == "appointment_cancelled":
        assert "provider is said" in findings
    elif kind == "result_ready":
        assert "ordered_by is said" in findings
        assert any(f.startswith("private word said") for f in findings)


def test_the_lint_catches_a_hand_written_bad_voicemail() -> None:
    facts = sample_facts("result_ready")
    bad = Message(
        text="Hi Maria Lopez, your HIV TEST RESULTS from Dr. Chen are in. Call Riverside Clinic.",
        spoken="Hi Maria Lopez, your test results from Doctor Chen are in. Call Riverside Clinic.",
        kind="result_ready",
        language="en",
        variant="voicemail",
    )
    findings = voicemail_findings(bad, facts)
    assert "ordered_by is said" in findings
    assert "patient_name is said in full (only the first name may be)" in findings
    assert "private word said: 'test'" in findings
    assert "private word said: 'results'" in findings
    assert "clinic_phone (the call-back number) is missing" in findings
    assert "clinic_name is missing" not in findings
    # Findings name fields, never the patient's data, so they are safe to log.
    assert not any("Lopez" in f or "López" in f or "Chen" in f for f in findings)


def test_a_clinic_name_with_a_private_word_is_still_allowed() -> None:
    facts = dataclasses.replace(sample_facts("result_ready"), clinic_name="Lakeside Lab Center")
    message = render_message("result_ready", "en", "voicemail", facts)
    assert voicemail_findings(message, facts) == []


@pytest.mark.parametrize("language", languages())
def test_every_language_lists_its_private_words(language: str) -> None:
    profile = load_profile(language)
    assert profile is not None and len(profile.private_words) >= 5


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("zh", "您好。这里是Riverside Clinic。您的检查结果出来了。请回电：(312) 555-0100。"),
        ("ja", "こんにちは。こちらはRiverside Clinicです。検査の結果が出ました。(312) 555-0100"),
        ("ko", "안녕하세요. Riverside Clinic입니다. 검사 결과가 나왔습니다. (312) 555-0100"),
        ("ar", "مَرْحَبًا. نَحْنُ Riverside Clinic. النَّتَائِجُ جَاهِزَةٌ. (312) 555-0100"),
        ("ru", "Здравствуйте. Это Riverside Clinic. РЕЗУЛЬТАТЫ готовы. (312) 555-0100"),
    ],
)
def test_the_lint_finds_private_words_in_scripts_without_word_edges(
    language: str, text: str
) -> None:
    facts = sample_facts("result_ready", language)
    spoken = text.replace("(312) 555-0100", "3 1 2, 5 5 5, 0 1 0 0")
    bad = Message(text, spoken, "result_ready", language, "voicemail")
    findings = voicemail_findings(bad, facts)
    assert any(f.startswith("private word said") for f in findings), findings
    assert "clinic_phone (the call-back number) is missing" not in findings
