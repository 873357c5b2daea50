"""The follow_up kind in every language: the question asked is the one the phone acts on."""

from __future__ import annotations

import dataclasses
import re

import pytest

from templates import (
    FOLLOW_UP_ANSWERS,
    KEYPAD,
    InvalidFact,
    languages,
    render_message,
    sample_facts,
)

LONE_DIGIT = re.compile(r"(?<!\d)\d(?!\d)")
QUESTIONS = sorted(FOLLOW_UP_ANSWERS)


def asked(language: str, variant: str, question: str) -> str:
    facts = dataclasses.replace(sample_facts("follow_up", language), question=question)
    return render_message("follow_up", language, variant, facts).text


@pytest.mark.parametrize("language", languages())
def test_the_call_offers_exactly_the_questions_answer_keys_then_the_menu(language: str) -> None:
    rating = LONE_DIGIT.findall(asked(language, "call", "visit_rating"))
    resolved = LONE_DIGIT.findall(asked(language, "call", "resolved"))
    menu = list(KEYPAD["follow_up"])
    # "Press 1 for poor, up to 5 for very good": the lowest and highest score, then the menu.
    assert rating[-len(menu) :] == resolved[-len(menu) :] == menu
    assert set(rating[: -len(menu)]) == {"1", "5"}
    assert resolved[: -len(menu)] == list(FOLLOW_UP_ANSWERS["resolved"])  # 1 yes, 2 no


@pytest.mark.parametrize("language", languages())
def test_the_app_asks_without_keys_and_the_voicemail_is_one_for_both(
    language: str,
) -> None:
    apps = {question: asked(language, "app", question) for question in QUESTIONS}
    assert len(set(apps.values())) == len(QUESTIONS)  # each asks its own question
    assert all(LONE_DIGIT.findall(text) == [] for text in apps.values())
    voicemails = {asked(language, "voicemail", question) for question in QUESTIONS}
    assert len(voicemails) == 1


def test_the_default_question_is_the_visit_rating() -> None:
    default = render_message("follow_up", "en", "call", sample_facts("follow_up", "en")).text
    assert default == asked("en", "call", "visit_rating")
    assert "How was your visit? Press 1 for poor, up to 5 for very good." in default


def test_an_unknown_question_is_refused_not_guessed() -> None:
    with pytest.raises(InvalidFact) as err:
        asked("en", "call", "net_promoter")
    assert err.value.fact == "question"
