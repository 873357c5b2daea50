"""Spoken replies: the words a patient may say on a call instead of pressing a key.

Each language lists them in its ``language.json`` (``reply_words``, next to the keypad
replies), per action: "yes" and "sí" mean ``confirm`` like key 1. What Twilio heard
(``SpeechResult``) and the words are compared the same way (``normalise``): case folded,
punctuation gone, accents dropped from Latin, Greek, Cyrillic and Arabic letters (Twilio's
transcript may lack them, and Arabic speech comes back without vowel marks), the marks of
other scripts kept (there they are vowels, not accents). A word matches as whole words:
"no" is in "no thanks", not in "nothing". Scripts written without spaces (Chinese,
Japanese) have no word breaks here, so there a reply counts when said on its own.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

from templates.locales import TEMPLATE_ROOT, load_profile

ACCENTED_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC", "ARABIC")
"""Scripts whose combining marks are accents or vowel signs a transcript may leave out."""


def normalise(text: str) -> tuple[str, ...]:
    """The words of ``text`` as compared: folded case, no punctuation, no accents where
    they are accents."""
    kept: list[str] = []
    base = ""
    for char in unicodedata.normalize("NFKD", text.casefold()):
        category = unicodedata.category(char)
        if category == "Mn" and base.startswith(ACCENTED_SCRIPTS):
            continue
        if category == "Cf":  # zero-width joiners inside Persian and Indic words
            continue
        if category[0] in "PZSC":
            kept.append(" ")
            base = ""
            continue
        if category[0] != "M":
            base = unicodedata.name(char, "")
        kept.append(char)
    return tuple(unicodedata.normalize("NFC", "".join(kept)).split())


@lru_cache(maxsize=64)
def reply_words(language: str, root: Path = TEMPLATE_ROOT) -> dict[str, tuple[str, ...]]:
    """Action -> the words for it in ``language`` as written (none for an unknown one)."""
    profile = load_profile(language, root)
    return dict(profile.reply_words) if profile is not None else {}


def heard_action(
    language: str, speech: str, actions: tuple[str, ...], root: Path = TEMPLATE_ROOT
) -> str | None:
    """The one action among ``actions`` whose words ``speech`` contains; None when it
    has none of them, or words of two actions ("no... yes")."""
    said = normalise(speech)
    found = set()
    for action in actions:
        for word in reply_words(language, root).get(action, ()):
            wanted = normalise(word)
            if wanted and any(
                said[i : i + len(wanted)] == wanted for i in range(len(said) - len(wanted) + 1)
            ):
                found.add(action)
    return found.pop() if len(found) == 1 else None


def speech_hints(language: str, actions: tuple[str, ...], root: Path = TEMPLATE_ROOT) -> str:
    """Twilio's ``hints`` for a call acting on ``actions``: their words, comma-separated."""
    words = reply_words(language, root)
    return ", ".join(dict.fromkeys(w for action in actions for w in words.get(action, ())))
