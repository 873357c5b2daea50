"""The keypad menu a patient hears is exactly KEYPAD, the one the phone channel acts on."""

from __future__ import annotations

import re

import pytest

from templates import (
    CALL_KEYS,
    FOLLOW_UP_ANSWERS,
    KEYPAD,
    KINDS,
    languages,
    load_profile,
    render_message,
    sample_facts,
)
from templates.render import environment

CALLS = [(language, kind) for language in languages() for kind in KINDS]
LONE_DIGIT = re.compile(r"(?<!\d)\d(?!\d)")


def menu(language: str, kind: str, *, for_ear: bool = False) -> str:
    """The language's menu for ``kind`` on its own, as the call template includes it."""
    profile = load_profile(language)
    assert profile is not None
    template = environment().from_string(f'{{% include "{language}/_menu.j2" %}}')
    said = template.render(
        keypad=KEYPAD[kind],
        kind=kind,
        language=language,
        locale=profile.locale,
        for_ear=for_ear,
    )
    return " ".join(said.split())


def test_the_keypad_policy() -> None:
    assert set(KEYPAD) == set(KINDS)
    for kind, keys in KEYPAD.items():
        assert keys["9"] == "repeat" and keys["0"] == "clinic"
        assert kind == "follow_up" or keys["1"] == "confirm"
    # A follow-up's own keys answer its question: none of them is also a menu or call key.
    answer_keys = {key for answers in FOLLOW_UP_ANSWERS.values() for key in answers}
    assert not answer_keys & (set(KEYPAD["follow_up"]) | set(CALL_KEYS))
    # Nothing to cancel once results are out or the visit is already off.
    assert "2" not in KEYPAD["result_ready"]
    assert "2" not in KEYPAD["appointment_cancelled"]
    assert KEYPAD["appointment_reminder"]["2"] == KEYPAD["appointment_changed"]["2"] == "cancel"


@pytest.mark.parametrize(("language", "kind"), CALLS, ids=["-".join(c) for c in CALLS])
def test_every_call_ends_with_the_menu_of_exactly_the_keypad_keys(language: str, kind: str) -> None:
    facts = sample_facts(kind, language)
    call = render_message(kind, language, "call", facts)
    said = menu(language, kind)
    assert LONE_DIGIT.findall(said) == list(KEYPAD[kind])
    assert call.text.endswith(said)
    # One sentence per key, each a different phrase.
    offers = [s for s in re.split(r"(?<=[.。।۔։])\s*", said) if s]
    assert len(offers) == len(KEYPAD[kind]) == len(set(LONE_DIGIT.sub("#", o) for o in offers))
    app = render_message(kind, language, "app", facts)
    assert not any(offer in app.text for offer in offers)


@pytest.mark.parametrize("language", languages())
def test_results_and_cancellations_ask_to_acknowledge_not_to_confirm(language: str) -> None:
    confirm = menu(language, "appointment_reminder").split("2")[0]
    got_it = menu(language, "result_ready").split("9")[0]
    assert LONE_DIGIT.sub("#", confirm) != LONE_DIGIT.sub("#", got_it)
    assert menu(language, "appointment_cancelled") == menu(language, "result_ready")


def test_the_pound_key_is_said_as_the_local_word() -> None:
    env = environment()
    template = env.from_string("{{ '#' | key }} {{ '*' | key }} {{ '5' | key }}")
    assert template.render(language="en", for_ear=True) == "pound star 5"
    assert template.render(language="en", for_ear=False) == "# * 5"
    assert template.render(language="es", for_ear=True) == "numeral asterisco 5"
    for language in languages():
        profile = load_profile(language)
        assert profile is not None and profile.key_word("#") != "#", language
