"""Text as a voice needs to read it: sentences, and scripts an engine reads better.

Some espeak-ng voices cannot read their language's own script correctly (espeak-ng 1.51):
its ``cmn`` voice reads Hanzi as tone numbers in English, so Mandarin is fed to the
``cmn-latn-pinyin`` voice as pinyin with tone numbers (pypinyin); its Japanese voice reads
kanji as "Chinese letter", so Japanese is fed as hiragana (pykakasi); its Nepali voice reads
Latin digits in English ("(en)t'u:"), so Nepali digits are fed as Devanagari digits. Only
the engine sees the converted text: the patient's transcript stays in the native script.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: a quarter of a second saved where neither is spoken
    import pykakasi

__all__ = ["closes_sentence", "for_script", "phrases", "sentences"]

# A sentence ends at . ! ? and their CJK, Arabic, Urdu, Devanagari and Armenian forms, when the
# mark is followed by a space or the end (decimals such as "2.5" do not split), unless the
# full stop closes a title or an initial (``_closes_a_name_part``).
_SENTENCE_END = re.compile(r"(?<=[.!?。！？؟۔।։])(?:\s+|$)|(?<=[。！？])")

# Titles written before a name, with the full stop the languages here give them. A name
# cut after one was spoken as two sentences: "Hello, Mr." and a pause, then "John Smith.",
# each with a sentence's fall.
_TITLES = frozenset(
    {"Dr", "Mr", "Mrs", "Ms", "Mx", "Prof", "St", "Mt"}  # English
    | {"Dra", "Sr", "Sra", "Srta", "Profa"}  # Spanish, Portuguese ("Sr." is also "senior")
    | {"Mme", "Mlle", "Pr", "Ste"}  # French
    | {"Hr", "Fr"}  # German
    | {"Sig", "Sigra"}  # Italian
)

# A phrase ends at a comma, semicolon or colon followed by a space ("1,000" stays whole).
_PHRASE_MARKS = ",;:"
_PHRASE_END = re.compile(rf"(?<=[{_PHRASE_MARKS}])\s+")

# pykakasi reads a counter kanji after a number on its own ("10時" becomes "10とき",
# "十時" becomes "ととき"); the hour counter is the one every reminder has, so it is
# written out first ("十じ" then reads "じゅうじ").
_HOUR_AFTER_NUMBER = re.compile(r"(?<=[\d〇一二三四五六七八九十])時")


# Phone numbers, times and keys are written in Latin digits (the transcript's and the
# keypad's); espeak-ng's Nepali voice reads only Devanagari digits in Nepali.
_DEVANAGARI_DIGITS = str.maketrans("0123456789", "०१२३४५६७८९")


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences, each stripped, none empty; a title or an initial
    stays with the name after it ("Mr. John A. Smith")."""
    joined: list[str] = []
    for part in _SENTENCE_END.split(text):
        if not (said := part.strip()):
            continue
        if joined and _closes_a_name_part(joined[-1]):
            joined[-1] = f"{joined[-1]} {said}"
        else:
            joined.append(said)
    return joined


def _closes_a_name_part(sentence: str) -> bool:
    """Whether the full stop ending ``sentence`` belongs to a title ("Dr.") or to a
    capital initial after a capitalised word ("Ana A."), not to the sentence. A letter
    after a word in lower case still ends one ("in room B.")."""
    *before, last = sentence.split()
    if not last.endswith(".") or last.endswith(".."):
        return False
    stem = last.removesuffix(".").lstrip("(\"'“‘«")
    if stem in _TITLES:
        return True
    return len(stem) == 1 and stem.isupper() and bool(before) and before[-1][:1].isupper()


def phrases(sentence: str) -> list[str]:
    """``sentence`` cut at its commas, semicolons and colons, each part keeping its mark.

    A neural voice says "Again," with the rise of an unfinished sentence and leaves about
    the pause it leaves at that comma inside the whole sentence, so parts spoken on their
    own and put back end to end sound like the sentence, and a date, a time or a
    provider's name repeated across thousands of messages is spoken once.
    """
    return [part for part in _PHRASE_END.split(sentence.strip()) if part]


def closes_sentence(phrase: str) -> bool:
    """Whether ``phrase`` (one of ``phrases``) ends its sentence rather than a part of it."""
    return not phrase.rstrip().endswith(tuple(_PHRASE_MARKS))


def for_script(text: str, script: str) -> str:
    """``text`` written in the script a voice reads (``""`` leaves it as it is)."""
    if script == "pinyin":
        return _pinyin(text)
    if script == "kana":
        return _kana(text)
    if script == "devanagari-digits":
        return text.translate(_DEVANAGARI_DIGITS)
    return text


def _pinyin(text: str) -> str:
    """Hanzi as tone-numbered pinyin ("ni3 hao3"), what ``cmn-latn-pinyin`` reads.

    Everything that is not Hanzi (digits, Latin names, punctuation) passes through, so
    espeak-ng still pauses at the Chinese commas and full stops.
    """
    from pypinyin import Style, lazy_pinyin

    return " ".join(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True))


@cache
def _kakasi() -> pykakasi.Kakasi:
    """One converter per process: loading its dictionary takes about 100 ms."""
    import pykakasi

    return pykakasi.Kakasi()


def _kana(text: str) -> str:
    """Japanese with kanji read out as hiragana, which espeak-ng's ``ja`` voice speaks."""
    text = _HOUR_AFTER_NUMBER.sub("じ", text)
    return "".join(part["hira"] for part in _kakasi().convert(text))
