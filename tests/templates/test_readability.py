"""Plain language is measured: every message must read at grade 6 or below."""

from __future__ import annotations

import pytest

from templates import Message, reading_grade, render_message, sample_facts

GRADE_LIMIT = 6.0


def test_every_message_reads_at_grade_six_or_below(rendered: Message) -> None:
    grade = reading_grade(rendered.text, rendered.language)
    assert grade is not None
    assert grade <= GRADE_LIMIT, f"{rendered.language} {rendered.kind} {rendered.variant}: {grade}"


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("variant", ["call", "app"])
def test_calls_and_app_messages_are_plain(language: str, variant: str) -> None:
    for kind in ("appointment_reminder", "result_ready"):
        message = render_message(kind, language, variant, sample_facts(kind, language))
        grade = reading_grade(message.text, language)
        assert grade is not None and grade <= GRADE_LIMIT


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
