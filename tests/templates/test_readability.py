"""Plain language is measured: every message must read at grade 6 or below."""

from __future__ import annotations

import pytest

from templates import (
    KINDS,
    Message,
    plain_language_findings,
    reading_grade,
    render_message,
    sample_facts,
)
from templates.readability import sentences

GRADE_LIMIT = 6.0
GRADED = ("en", "es")


def test_every_message_is_plain_by_its_languages_measure(rendered: Message) -> None:
    """Grade 6 where a formula exists; sentence and word limits everywhere."""
    grade = reading_grade(rendered.text, rendered.language)
    where = f"{rendered.language} {rendered.kind} {rendered.variant}"
    if rendered.language in GRADED:
        assert grade is not None and grade <= GRADE_LIMIT, f"{where}: {grade}"
    else:
        assert grade is None
    assert plain_language_findings(rendered.text, rendered.language) == [], where


@pytest.mark.parametrize("language", GRADED)
@pytest.mark.parametrize("variant", ["call", "app"])
@pytest.mark.parametrize("kind", KINDS)
def test_calls_and_app_messages_are_plain(language: str, variant: str, kind: str) -> None:
    message = render_message(kind, language, variant, sample_facts(kind, language))
    grade = reading_grade(message.text, language)
    assert grade is not None and grade <= GRADE_LIMIT


def test_the_limits_catch_long_sentences_and_long_words() -> None:
    long_sentence = " ".join(["word"] * 25) + "."
    assert plain_language_findings(long_sentence, "fr") == ["sentence 1: 25 words > 20"]
    jargon = "Votre préautorisation est interdépartementalisée."
    assert plain_language_findings(jargon, "fr") == ["sentence 1: a word of 22 letters"]
    chinese = "您的" + "预约" * 25 + "。"
    assert plain_language_findings(chinese, "zh") == ["sentence 1: 53 characters > 40"]
    assert plain_language_findings("您的预约在星期四。请带上药物清单。", "zh") == []
    # Vowel signs and tashkeel are not letters of their own: a short word stays short.
    assert plain_language_findings("مَوْعِدُكُمْ يَوْمَ الخَمِيسِ.", "ar") == []


def test_sentences_are_cut_in_every_script() -> None:
    assert sentences("Hello. This is us.") == ["Hello.", "This is us."]
    assert sentences("您好。这里是诊所。") == ["您好。", "这里是诊所。"]
    assert sentences("नमस्ते। यह क्लिनिक है।") == ["नमस्ते।", "यह क्लिनिक है।"]
    assert sentences("شکریہ۔ یہ ہم ہیں۔") == ["شکریہ۔", "یہ ہم ہیں۔"]


def test_the_measure_tells_hard_text_from_plain_text() -> None:
    hard_en = (
        "Your forthcoming consultation necessitates comprehensive documentation of "
        "pharmaceutical interventions, including supplementary nutritional preparations, "
        "administered concurrently during the preceding evaluation interval."
    )
    hard_es = (
        "Su próxima consulta especializada requiere documentación exhaustiva de las "
        "intervenciones farmacológicas administradas simultáneamente durante el período "
        "de evaluación precedente, incluyendo preparaciones nutricionales complementarias."
    )
    assert (reading_grade(hard_en, "en") or 0) > GRADE_LIMIT + 6
    assert (reading_grade(hard_es, "es") or 0) > GRADE_LIMIT
    assert (reading_grade("Your visit is on Monday. Bring your pills.", "en") or 99) < 4


def test_a_language_without_a_formula_gets_no_grade() -> None:
    assert reading_grade("Bonjour. Votre rendez-vous est lundi.", "fr") is None
    assert reading_grade("", "en") is None
    assert reading_grade("Su cita es el lunes. Traiga sus medicinas.", "es-MX") is not None
