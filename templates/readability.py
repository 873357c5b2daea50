"""How hard a message is to read, as a school grade: plain language is measured, not hoped.

Formulas, per language (textstat's stateless ``backend.metrics``, so threads do not share a
global language setting):

- English: Flesch-Kincaid grade. textstat counts English syllables with NLTK's CMU
  dictionary, which it downloads from GitHub on first use; a hospital server is offline and
  must not fetch data at run time. So English is scored with textstat's Pyphen syllable
  counter (the one every other language uses) by passing the tag ``en-US``, which textstat
  does not route to the CMU dictionary. Pyphen counts hyphenation points, which for short
  common words is within a syllable or so of the CMU count.
- Spanish: Crawford (1984). It is the one Spanish formula in textstat that gives a school
  grade directly and was built on primary-school texts, which is exactly the range we aim
  for (grade 6 or below). Fernández Huerta and Szigriszt-Pazos give a 0-100 ease score;
  turning that into a grade needs a hand-made table with no agreed source.
- Any other language: None. A score from another language's formula would mislead.
  Those are held to plain-language limits instead (``plain_language_findings``): words per
  sentence, letters per word, and for Chinese, Cantonese and Japanese characters per sentence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache


@cache
def _formulas() -> dict[str, tuple[Callable[[str, str], float], str]]:
    """Imported on first use: textstat brings NLTK (0.2 s), which a worker rarely needs."""
    from textstat.backend import metrics

    return {
        "en": (metrics.flesch_kincaid_grade, "en-US"),
        "es": (metrics.crawford, "es"),
    }


def reading_grade(text: str, language: str) -> float | None:
    """School grade needed to read ``text``; None if no formula fits ``language`` or no text."""
    root = language.replace("-", "_").split("_")[0].lower()
    formula = _formulas().get(root)
    if formula is None or not text.strip():
        return None
    score, tag = formula
    return round(float(score(text, tag)), 1)


SENTENCE_WORDS_MAX = 20
"""Words in one sentence, for languages written with spaces: a listener holds about this many."""
SENTENCE_CHARS_MAX = 40
"""Characters in one sentence for Chinese, Cantonese and Japanese, which put no spaces between
words; 40 characters is about as much as 20 words carry."""
WORD_LETTERS_MAX = 16
"""Letters in one word (vowel signs and diacritics not counted): longer words are jargon."""
CHARACTER_LANGUAGES = frozenset({"zh", "yue", "ja"})

_SENTENCE_END = re.compile(r"(?<=[.!?。！？।۔؟։])\s+|(?<=[。！？])")


def sentences(text: str) -> list[str]:
    """``text`` cut after each full stop, in the marks of every script we write."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def plain_language_findings(text: str, language: str) -> list[str]:
    """Sentences or words longer than the limits above; empty when the text is plain.

    The measure for languages without a reading-grade formula. Findings give positions and
    counts, never the words, so they may be logged.
    """
    root = language.replace("-", "_").split("_")[0].lower()
    findings: list[str] = []
    for number, sentence in enumerate(sentences(text), start=1):
        if root in CHARACTER_LANGUAGES:
            length = sum(1 for c in sentence if not c.isspace())
            if length > SENTENCE_CHARS_MAX:
                findings.append(f"sentence {number}: {length} characters > {SENTENCE_CHARS_MAX}")
            continue
        words = sentence.split()
        if len(words) > SENTENCE_WORDS_MAX:
            findings.append(f"sentence {number}: {len(words)} words > {SENTENCE_WORDS_MAX}")
        for word in words:
            letters = sum(1 for c in word if unicodedata.category(c).startswith("L"))
            if letters > WORD_LETTERS_MAX:
                findings.append(f"sentence {number}: a word of {letters} letters")
    return findings
