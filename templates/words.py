"""Where a word starts and ends, in scripts with and without spaces between words.

``\\b`` in a regular expression fails two ways here: Chinese and Japanese write no spaces, so
"检查" inside "您的检查结果" has no boundary at all; and Korean and Arabic attach particles and
articles to a word ("결과가", "النتائج"), so a whole-word match misses the word people say.
In those scripts a match anywhere counts; elsewhere a word must not run on into letters.
Used by the pronunciation lexicon (what to replace) and the voicemail lint (what was said).
"""

from __future__ import annotations

import re
import unicodedata

ATTACHING_SCRIPTS: tuple[str, ...] = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "ARABIC")
"""Unicode name prefixes of scripts whose words have no reliable edges (see above)."""


def attaching(char: str) -> bool:
    """Whether ``char`` belongs to a script whose words have no reliable edges."""
    return unicodedata.name(char, "").startswith(ATTACHING_SCRIPTS)


def _continues(neighbour: str, edge: str) -> bool:
    """Whether ``neighbour`` runs on from the word whose first or last letter is ``edge``."""
    if attaching(edge):
        return False
    letter = neighbour.isalnum() or unicodedata.category(neighbour).startswith("M")
    return letter and not attaching(neighbour)


def whole_word(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` stands as a word of its own, judged by its script."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not _continues(before, text[start]) and not _continues(after, text[end - 1])


def says_word(text: str, word: str) -> bool:
    """Whether ``word`` occurs in ``text`` as a word (exact characters; fold both first)."""
    if not word:
        return False
    return any(
        whole_word(text, found.start(), found.end()) for found in re.finditer(re.escape(word), text)
    )
