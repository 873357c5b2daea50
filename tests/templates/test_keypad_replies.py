"""Every language answers every key a call acts on, in its own words."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from templates import (
    CALL_KEYS,
    KEYPAD,
    KEYPAD_REPLIES,
    SENTENCE_ENDS,
    BrokenTemplate,
    UnknownTemplate,
    keypad_replies,
    keypad_reply,
    languages,
    load_profile,
)
from templates.locales import TEMPLATE_ROOT
from tests.support.languages import LANGUAGES

ARABIC_LETTER = re.compile(r"[\u0621-\u064A]")
ARABIC_MARK = re.compile(r"[\u064B-\u0652\u0670]")


def test_there_is_a_reply_for_every_action_a_call_takes() -> None:
    actions = {a for keys in (*KEYPAD.values(), CALL_KEYS) for a in keys.values()}
    # The Twilio flow also says "unknown" after a key that does nothing, offers opt-out,
    # and asks to confirm a spoken answer heard unsurely.
    assert set(KEYPAD_REPLIES) == actions | {"unknown", "offer_opt_out", "speech_check"}
    assert set(languages()) == set(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_has_every_reply(language: str) -> None:
    profile = load_profile(language)
    assert profile is not None
    written = dict(profile.keypad_replies)
    assert set(written) == set(KEYPAD_REPLIES), "exactly the replies the call uses"
    replies = keypad_replies(language)
    assert len(set(replies.values())) == len(KEYPAD_REPLIES), "each reply says something else"
    for reply, text in replies.items():
        assert text.strip() == text and text.endswith(SENTENCE_ENDS), reply
        assert "{" not in text, reply
    # The offer names the key that opts out, and no other key.
    (opt_out_key,) = [key for key, action in CALL_KEYS.items() if action == "opt_out"]
    assert re.findall(r"\d", replies["offer_opt_out"]) == [opt_out_key]


def test_arabic_replies_are_fully_diacritised() -> None:
    for reply, text in keypad_replies("ar").items():
        for word in text.split():
            if ARABIC_LETTER.search(word):
                assert ARABIC_MARK.search(word), f"{reply}: {word}"


def test_english_replies_read_as_before() -> None:
    assert keypad_reply("en", "confirm") == "Thank you. Your answer is saved. Goodbye."
    assert keypad_reply("en", "offer_opt_out") == "To stop these calls, press 8."


def test_unknown_language_or_reply_is_refused() -> None:
    with pytest.raises(UnknownTemplate):
        keypad_reply("xx", "confirm")
    with pytest.raises(UnknownTemplate):
        keypad_reply("en", "menu_end")


def _copy_language(tmp_path: Path, code: str) -> Path:
    shutil.copytree(TEMPLATE_ROOT / code, tmp_path / code)
    return tmp_path / code / "language.json"


def test_a_missing_or_broken_reply_is_an_error(tmp_path: Path) -> None:
    profile_file = _copy_language(tmp_path, "en")
    data = json.loads(profile_file.read_text(encoding="utf-8"))
    del data["keypad_replies"]["repeat"]
    data["keypad_replies"]["offer_opt_out"] = "Press {nine}."
    profile_file.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(UnknownTemplate):
        keypad_reply("en", "repeat", root=tmp_path)
    with pytest.raises(BrokenTemplate):
        keypad_reply("en", "offer_opt_out", root=tmp_path)
    assert keypad_reply("en", "confirm", root=tmp_path).startswith("Thank you")
