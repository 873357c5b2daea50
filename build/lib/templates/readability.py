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
"""

from __future__ import annotations

from collections.abc import Callable

from textstat.backend import metrics

_FORMULAS: dict[str, tuple[Callable[[str, str], float], str]] = {
    "en": (metrics.flesch_kincaid_grade, "en-US"),
    "es": (metrics.crawford, "es"),
}


def reading_grade(text: str, language: str) -> float | None:
    """School grade needed to read ``text``; None if no formula fits ``language`` or no text."""
    root = language.replace("-", "_").split("_")[0].lower()
    formula = _FORMULAS.get(root)
    if formula is None or not text.strip():
        return None
    score, tag = formula
    return round(float(score(text, tag)), 1)
