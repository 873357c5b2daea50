"""A patient's language as scheduling systems write it, read as one of our language codes.

Senders write "spa", "SPA^Spanish^HL70296", "ara^^HL70296^eng^English-us", "es", "en-US"
or "Spanish". Our codes are the template folders (``templates.language_codes``: "en",
"es", "tl", "yue", …). Babel (already a dependency) holds the tables: CLDR's language
aliases turn ISO 639-2 codes, bibliographic and terminologic alike ("ger", "deu"), into
ISO 639-1 ones, and its English display names turn "Spanish" into "es". The few places
where our folders differ from CLDR's preferred code are listed in ``OUR_CODES``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cache

from babel import Locale
from babel.core import get_global

from templates.locales import language_codes

OUR_CODES = {"fil": "tl", "iw": "he", "cmn": "zh", "mandarin": "zh", "farsi": "fa"}
"""CLDR code or name → our folder, where they differ (CLDR prefers "fil" for Tagalog)."""
_LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(?:[-_][a-z0-9]{1,8})*")
"""A code: ISO 639 ("es", "spa") or a BCP 47 / POSIX tag ("en-US", "zh_Hant")."""


@dataclass(frozen=True)
class LanguageReading:
    """What a language value says: ``code`` one we offer, else None and ``reason``.

    ``recognised`` is the language understood even when we have no voice for it ("he"),
    so staff see which language a patient needs.
    """

    code: str | None
    recognised: str | None
    reason: str = ""


def read_language(
    candidates: Iterable[str], offered: Collection[str] | None = None
) -> LanguageReading:
    """The first of ``candidates`` (codes first, then names) that names a language.

    ``candidates`` are the parts of a coded value in the order to trust them, e.g.
    identifier, alternate identifier, text, alternate text; empty ones are skipped.
    """
    offered = language_codes() if offered is None else offered
    recognised, given = None, False
    for candidate in candidates:
        given = given or bool(candidate.strip())
        code = _code_of(candidate.strip())
        if code is None:
            continue
        if code in offered:
            return LanguageReading(code, code)
        recognised = recognised or code
    if not given:
        return LanguageReading(None, None, "no language is given")
    if recognised is None:
        return LanguageReading(None, None, "the language is not one we recognise")
    return LanguageReading(None, recognised, "we have no voice for this language")


def _code_of(value: str) -> str | None:
    if not value:
        return None
    lowered = value.lower()
    # "English-us", "Arabic_QWI": a name with a sender's own suffix.
    first = re.split(r"[-_(/]", lowered, maxsplit=1)[0].strip()
    for name in (lowered, first):
        if name in _names():
            return _names()[name]
    if not _LANGUAGE_TAG.fullmatch(lowered):
        return None
    subtag = first
    aliases = get_global("language_aliases")
    code = str(aliases.get(subtag, subtag)).split("_")[0]
    code = OUR_CODES.get(code, code)
    return code if code in _known_codes() else None


@cache
def _known_codes() -> frozenset[str]:
    return frozenset(Locale("en").languages) | frozenset(OUR_CODES.values())


@cache
def _names() -> dict[str, str]:
    """Language names, lower-cased, to codes: English names from CLDR, plus each of our
    languages' own name ("español") so a name typed in the patient's language works too.
    """
    names = {str(name).lower(): code for code, name in Locale("en").languages.items()}
    for code in language_codes():
        try:
            own = Locale.parse(code).get_display_name(code)
        except (ValueError, LookupError):
            continue
        if own:
            names.setdefault(own.lower(), code)
    for name, code in OUR_CODES.items():
        names[name] = code
    return {name: OUR_CODES.get(code, code) for name, code in names.items()}
