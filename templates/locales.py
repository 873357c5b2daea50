"""Per-language facts that are data, not code: one ``language.json`` per language folder.

A new language is a new folder (``templates/<code>/``) holding its ``language.json`` and its
``<kind>.<variant>.j2`` files; no Python changes. ``language.json`` says::

    {
      "name": "Español",          # the language's own name, for staff and patients
      "locale": "es_US",          # Babel locale for dates, times and phone regions
      "speech_language": "es-US", # Twilio's speech recognition tag for spoken replies;
                                  # null where Twilio has none (the call takes keys only)
      "reviewed": false,          # has a native speaker reviewed these texts?
      "time_skeleton": "Bhm",     # optional CLDR skeleton for times; default: locale's own
      "day_periods": {"night1": "..."},  # optional: a CLDR day period ("B") said otherwise,
                                  # where CLDR's word would place the time wrongly
      "clock_words": {"00:00": "midnight", "12:00": "noon"},  # optional: a time said as
                                  # a word, where it fits the language's sentences
      "time_as_numbers": false,   # say "14:30" as "14 30" and "10:00" as "10": for voices
                                  # that read the colon or dot aloud (Croatian "dvotočka")
      "provenance": "...",        # who wrote the wording and how, while it is unreviewed
      "titles": [{"written": "Dr.", "spoken": "doctor", "article": "el"}],
      "private_words": ["resultado", ...],  # never said on a voicemail
      "ordinal_day": false,       # say the day as a spelled ordinal ("December third")
      "keys": {"#": "numeral", "*": "asterisco"},   # keypad symbols as said aloud
      "calendar": {...},          # only where Babel has no data (Haitian Creole): the
                                  # weekday and month names and the order to say them in
                                  # ("date", and "date_with_year" with {year})
      "keypad_replies": {"confirm": "Thank you. ...", ...}  # said on a call after a key;
                                  # names: templates.render.KEYPAD_REPLIES
      "reply_words": {"confirm": ["sí", ...], ...}  # spoken replies that act like the
                                  # keys (templates.replies)
    }

Beside it, an optional ``lexicon.json`` (``templates.lexicon``) fixes how the engine says
names and words it gets wrong.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from templates.errors import BrokenTemplate

TEMPLATE_ROOT = Path(__file__).resolve().parent
"""Where the language folders live; tests may point the renderer at another root."""

PROFILE_FILE = "language.json"


@dataclass(frozen=True)
class Title:
    """A title written before a name ("Dr.") and how it is said aloud ("Doctor").

    ``article`` is for languages that put one before a titled name ("el Dr. Chen"); its
    gender comes with the title, so templates need not guess it.
    """

    written: str
    spoken: str
    article: str = ""


@dataclass(frozen=True)
class LanguageProfile:
    """What the renderer needs to know about one language besides its templates."""

    code: str
    name: str
    locale: str
    reviewed: bool
    time_skeleton: str | None
    titles: tuple[Title, ...]
    private_words: tuple[str, ...]
    ordinal_day: bool = False
    keys: tuple[tuple[str, str], ...] = ()
    calendar: Calendar | None = None
    keypad_replies: tuple[tuple[str, str], ...] = ()
    day_periods: tuple[tuple[str, str], ...] = ()
    """CLDR day period id -> the words said instead (``templates.speech.spoken_time``)."""
    clock_words: tuple[tuple[str, str], ...] = ()
    """Local "HH:MM" -> the word said for that whole time ("12:00" -> "noon")."""
    time_as_numbers: bool = False
    provenance: str = ""
    speech_language: str | None = None
    """Twilio's speech recognition tag ("es-US"); None: the call takes keys only."""
    reply_words: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Action -> the words a patient may say for it (``templates.replies``)."""

    def key_word(self, key: str) -> str:
        """A keypad key as said aloud: digits stay, "#" becomes "pound" (US English)."""
        return dict(self.keys).get(key, key)


@dataclass(frozen=True)
class Calendar:
    """Weekday and month names for a language Babel has no CLDR data for.

    ``weekdays`` starts on Monday; ``date`` is a ``str.format`` pattern over ``weekday``,
    ``day`` and ``month``, e.g. "{weekday} {day} {month}"; ``date_with_year`` adds
    ``{year}``, for a day far from now (default: ``date`` then the year).
    """

    weekdays: tuple[str, ...]
    months: tuple[str, ...]
    date: str
    date_with_year: str = ""

    def __post_init__(self) -> None:
        if not self.date_with_year:
            object.__setattr__(self, "date_with_year", self.date + " {year}")


def language_codes(root: Path = TEMPLATE_ROOT) -> list[str]:
    """Language folders present under ``root``: a folder counts once it has a profile."""
    return sorted(p.parent.name for p in root.glob(f"*/{PROFILE_FILE}"))


@lru_cache(maxsize=64)
def load_profile(code: str, root: Path = TEMPLATE_ROOT) -> LanguageProfile | None:
    """Read ``<root>/<code>/language.json``; None when that language has no folder.

    Cached: profiles are read on every render and never change while the process runs.
    A malformed file is a BrokenTemplate: a bug in the package, not in the request.
    """
    if code not in language_codes(root):
        return None
    path = root / code / PROFILE_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return _profile(code, raw)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise BrokenTemplate(f"{code}/{PROFILE_FILE}", repr(err)) from err


def _profile(code: str, raw: dict[str, Any]) -> LanguageProfile:
    return LanguageProfile(
        code=code,
        name=str(raw["name"]),
        locale=str(raw["locale"]),
        reviewed=bool(raw.get("reviewed", False)),
        time_skeleton=raw.get("time_skeleton"),
        titles=tuple(
            Title(str(t["written"]), str(t["spoken"]), str(t.get("article", "")))
            for t in raw.get("titles", [])
        ),
        private_words=tuple(str(w) for w in raw.get("private_words", [])),
        ordinal_day=bool(raw.get("ordinal_day", False)),
        keys=tuple((str(k), str(v)) for k, v in raw.get("keys", {}).items()),
        calendar=_calendar(raw["calendar"]) if "calendar" in raw else None,
        keypad_replies=tuple((str(k), str(v)) for k, v in raw.get("keypad_replies", {}).items()),
        day_periods=tuple((str(k), str(v)) for k, v in raw.get("day_periods", {}).items()),
        clock_words=_clock_words(raw.get("clock_words", {})),
        time_as_numbers=bool(raw.get("time_as_numbers", False)),
        provenance=str(raw.get("provenance", "")),
        speech_language=str(raw["speech_language"]) if raw.get("speech_language") else None,
        reply_words=tuple(
            (str(action), tuple(str(w) for w in words))
            for action, words in raw.get("reply_words", {}).items()
        ),
    )


def _clock_words(raw: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """``clock_words`` keyed by local "HH:MM"; any other key would never match a time."""
    for clock in raw:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", clock):
            raise ValueError(f"clock_words key {clock!r} is not a time such as 12:00")
    return tuple((str(k), str(v)) for k, v in raw.items())


def _calendar(raw: dict[str, Any]) -> Calendar:
    weekdays = tuple(str(w) for w in raw["weekdays"])
    months = tuple(str(m) for m in raw["months"])
    if len(weekdays) != 7 or len(months) != 12:
        raise ValueError("a calendar needs 7 weekdays and 12 months")
    return Calendar(
        weekdays=weekdays,
        months=months,
        date=str(raw["date"]),
        date_with_year=str(raw.get("date_with_year", "")),
    )
