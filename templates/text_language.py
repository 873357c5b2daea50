"""Which language a clinic's free text is written in, so a voice never reads another one.

A Spanish message once said "Venga a: Second floor, suite 210. Bring your medicine list.":
the location and the instructions come from the clinic as typed, and the Spanish voice read
English words with Spanish sounds. ``foreign_text`` finds a free-text fact that is
confidently in another language than the message, so the preview, the API answer and the
console can say so (and a clinic may refuse such reminders, ``service.reminders``).

Only ``location`` and ``instructions`` are judged (``FREE_TEXT_FACTS``): the patient's,
provider's and clinic's names and ``ordered_by`` are names, and a name has no language.

The detector is lingua (``lingua-language-detector``, offline, Apache-2.0), made once per
process from only the languages we write (``templates.languages``) and loading each
language's model the first time a text in its script is judged. A message in a language
lingua does not know (Haitian Creole) is never judged: lingua would call it French.

Short text cannot be judged: "Suite 210", "Piso 3" or "Salle 12" are a word and a number
that several languages share, and lingua spreads its confidence over them. So a fact is
called foreign only when it has at least ``MIN_WORDS`` words (a Chinese or Japanese
character counts as one), the most likely language holds ``MIN_CONFIDENCE`` of the
confidence, and at least ``MIN_RATIO`` times what the message's own language holds.
Chinese characters alone (Japanese "東京病院") are not told from Chinese, so a Japanese
message is never warned about Chinese.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

from templates.locales import TEMPLATE_ROOT, language_codes, load_profile

FREE_TEXT_FACTS: tuple[str, ...] = ("location", "instructions")
"""The facts a clinic writes in words; every other text fact is a name or a number."""

MIN_WORDS = 3
"""Fewer words than this ("Suite 210", "Edificio B") are shared by too many languages."""
MIN_CONFIDENCE = 0.25
"""The other language's share of lingua's confidence. It is spread over all forty-odd
languages we write, so a clear "Second floor, suite 210" holds only ~0.3 for English
(Dutch and French share its words); the ratio below is the stricter test."""
MIN_RATIO = 4.0
"""How many times the message language's share the other language must hold: Spanish and
Portuguese share most short phrases ("Segundo piso"), and such a text is not flagged."""

_SAME_LANGUAGE: dict[str, tuple[str, ...]] = {"yue": ("zh",), "ja": ("ja", "zh")}
"""Our codes lingua knows under another: Cantonese is written in Chinese characters, and a
Japanese text of characters alone reads as Chinese."""

_SPACELESS = ("CJK", "HIRAGANA", "KATAKANA")
"""Scripts written without spaces: each character counts as a word."""


@dataclass(frozen=True)
class ForeignText:
    """A free-text fact that reads as another language than the message's."""

    fact: str
    """``location`` or ``instructions``."""
    language: str
    """Our code for the language it reads as, e.g. ``en``."""
    language_name: str
    """That language's own name, e.g. "English", for staff."""
    confidence: float


def foreign_text(
    facts: Mapping[str, str | None], language: str, *, root: Path = TEMPLATE_ROOT
) -> list[ForeignText]:
    """The free-text facts (by name, as in ``MessageFacts``) confidently in another language
    than ``language``, in ``FREE_TEXT_FACTS`` order; other names are not judged."""
    found: list[ForeignText] = []
    for fact in FREE_TEXT_FACTS:
        text = facts.get(fact)
        if text and (other := reads_as_other_language(text, language, root=root)):
            code, confidence = other
            profile = load_profile(code, root)
            name = profile.name if profile else code
            found.append(ForeignText(fact, code, name, round(confidence, 2)))
    return found


def reads_as_other_language(
    text: str, language: str, *, root: Path = TEMPLATE_ROOT
) -> tuple[str, float] | None:
    """(our code, confidence) when ``text`` is confidently not in ``language``; else None."""
    detector = _detector(root)
    own = _lingua_languages(language)
    if detector is None or not own or word_count(text) < MIN_WORDS:
        return None
    values = detector.lingua.compute_language_confidence_values(text)
    if not values:
        return None
    top = values[0]
    if top.language in own or top.value < MIN_CONFIDENCE:
        return None
    own_share = max((v.value for v in values if v.language in own), default=0.0)
    if top.value < MIN_RATIO * own_share:
        return None
    code = detector.codes.get(top.language)
    return (code, top.value) if code else None


WARM_UP_TEXTS: tuple[str, ...] = (
    "Bring your medicine list.",
    "أحضر قائمة أدويتك.",
    "Возьмите список лекарств.",
    "请带上您的药物清单。",
    "お薬手帳を持ってきてください。",
    "약 목록을 가져오세요.",
    "अपनी दवाओं की सूची साथ लाएँ।",
    "আপনার ওষুধের তালিকা সঙ্গে আনুন।",
)
"""One text per script we write: judging each loads its languages' models."""


def warm_up(root: Path = TEMPLATE_ROOT) -> None:
    """Load the models ahead of the first request, which would otherwise wait for them
    (seconds per script: bench/text_language.py). ``tellwell serve`` runs it in a thread."""
    detector = _detector(root)
    if detector is not None:
        for text in WARM_UP_TEXTS:
            detector.lingua.compute_language_confidence_values(text)


def word_count(text: str) -> int:
    """Words of two letters or more; in Chinese and Japanese script, each character."""
    count = 0
    for token in text.split():
        letters = [c for c in token if unicodedata.category(c)[0] in "LM"]
        spaceless = sum(1 for c in letters if unicodedata.name(c, "").startswith(_SPACELESS))
        count += spaceless
        if len(letters) - spaceless >= 2:
            count += 1
    return count


@dataclass(frozen=True)
class _Detector:
    lingua: LanguageDetector
    codes: dict[Language, str]
    """lingua's language -> our code, for the languages we write."""


def _lingua_languages(code: str) -> frozenset[Language]:
    """The lingua languages that count as ``code``; empty when lingua has none."""
    found = set()
    for iso in _SAME_LANGUAGE.get(code, (code,)):
        try:
            found.add(Language.from_iso_code_639_1(getattr(IsoCode639_1, iso.upper())))
        except (AttributeError, ValueError):
            continue
    return frozenset(found)


@lru_cache(maxsize=4)
def _detector(root: Path = TEMPLATE_ROOT) -> _Detector | None:
    """Made once per process from the languages we write (the models load lazily)."""
    ours = language_codes(root)
    codes: dict[Language, str] = {}
    for code in ours:  # a language's own code first: Chinese is "zh", not "yue" or "ja"
        for lingua_language in _lingua_languages(code) - _aliases(code):
            codes[lingua_language] = code
    for code in ours:
        for lingua_language in _aliases(code):
            codes.setdefault(lingua_language, code)
    if len(codes) < 2:
        return None
    return _Detector(lingua=LanguageDetectorBuilder.from_languages(*codes).build(), codes=codes)


def _aliases(code: str) -> frozenset[Language]:
    """The lingua languages ``code`` counts as besides its own (``_SAME_LANGUAGE``)."""
    others = [iso for iso in _SAME_LANGUAGE.get(code, ()) if iso != code]
    return frozenset(lang for iso in others for lang in _lingua_languages(iso))
