"""Every language has words for every reply a call takes, and they say one thing each."""

from __future__ import annotations

import re

import pytest

from devtools.twilio_sim import HINT_MAX_CHARS, SPEECH_LANGUAGES
from service.call_policy import call_actions, reply_action, speech_input
from templates import (
    ACTION_KEYS,
    CALL_KEYS,
    KEYPAD,
    KINDS,
    heard_action,
    keypad_reply,
    load_profile,
    normalise,
    reply_words,
)
from tests.support.languages import LANGUAGES

ACTIONS = tuple(dict.fromkeys(a for keys in (*KEYPAD.values(), CALL_KEYS) for a in keys.values()))
KEYS_ONLY = {"ht", "pa", "so", "sq"}
"""Languages Twilio's speech recognition does not take: their calls listen for keys only."""


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_has_words_for_every_action_and_none_twice(language: str) -> None:
    words = reply_words(language)
    assert set(words) == set(ACTIONS)
    owner: dict[tuple[str, ...], str] = {}
    for action, written in words.items():
        assert written, action
        for word in written:
            said = normalise(word)
            assert said, f"{action}: {word!r}"
            assert owner.setdefault(said, action) == action, f"{word!r}: two actions"
            assert heard_action(language, word, ACTIONS) == action, word
    profile = load_profile(language)
    assert profile is not None and not profile.reviewed
    assert "reply_words" in profile.provenance, "machine-drafted words say so"


@pytest.mark.parametrize("language", LANGUAGES)
def test_speech_is_recognised_where_twilio_can_and_hints_fit(language: str) -> None:
    listen = speech_input("appointment_reminder", language)
    if language in KEYS_ONLY:
        assert listen is None
        return
    assert listen is not None and listen.language in SPEECH_LANGUAGES
    hints = listen.hints.split(", ")
    assert all(0 < len(hint) <= HINT_MAX_CHARS for hint in hints)
    assert len(hints) == len(set(hints))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_check_names_the_word_and_the_key_of_each_action(language: str) -> None:
    for action in ACTIONS:
        text = keypad_reply(language, "speech_check", action=action)
        assert reply_words(language)[action][0] in text
        assert re.findall(r"\d", text) == [ACTION_KEYS[action]], text


def test_matching_is_whole_words_folded_and_without_accents() -> None:
    actions = call_actions("appointment_reminder")
    assert heard_action("en", "YES!", actions) == "confirm"
    assert heard_action("en", "No thanks.", actions) == "cancel"
    assert heard_action("en", "nothing", actions) is None  # "no" is not in "nothing"
    assert heard_action("en", "no, yes", actions) is None  # two answers: none
    assert heard_action("es", "Si, claro", actions) == "confirm"  # "sí" said without accent
    assert heard_action("es", "otra vez por favor", actions) == "repeat"
    assert heard_action("fr", "D'accord !", actions) == "confirm"
    assert heard_action("ar", "نعم", actions) == "confirm"  # Twilio's Arabic has no vowel marks
    assert heard_action("zh", "是的。", actions) == "confirm"
    assert heard_action("zh", "不是", actions) == "cancel"  # not "是" inside it


def test_a_word_acts_only_where_the_kind_takes_its_action() -> None:
    # Nothing to cancel on a result: "cancel" is no reply there, as key 2 is not.
    assert reply_action("result_ready", "en", "", "cancel") is None
    assert reply_action("result_ready", "en", "2", "") is None
    assert reply_action("appointment_reminder", "en", "", "cancel") == "cancel"
    assert reply_action("appointment_reminder", "en", "1", "cancel") == "confirm"  # the key wins
    for kind in KINDS:
        assert reply_action(kind, "en", "", "stop") == "opt_out"
