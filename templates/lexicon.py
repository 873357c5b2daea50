"""A pronunciation lexicon per language: how to say the names the speech engine gets wrong.

Clinic, provider and medicine names are where a speech engine stumbles ("Nguyen" read as
"nuh-goo-yen"). Each language folder may hold a ``lexicon.json`` the clinic edits::

    {
      "entries": [
        {"written": "Nguyen", "spoken": "Win"},
        {"written": "metformin", "spoken": "met FOR min"},
        {"written": "ER", "spoken": "E R", "match_case": true}
      ]
    }

Entries are applied to the spoken text only (the transcript keeps the real spelling), just
before it goes to the engine. Matching is whole-word and ignores case, unless an entry says
``match_case`` (so "ER" the department does not change the English word "er"). Longer entries
win over shorter ones, and a replacement is never matched again. A word's edges are judged by
script (``templates.words``): "Nguyen" inside "请找Nguyen医生" is a whole word, "Win" inside
"Winston" is not. The file is read again when it changes, so
an edit takes effect without a restart.

A clinic may add its own entries per language (kept in the service's database); ``layered``
puts them over the shipped file's, the clinic's entry winning for the same written form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from templates.errors import BrokenTemplate
from templates.locales import TEMPLATE_ROOT
from templates.words import whole_word

LEXICON_FILE = "lexicon.json"


@dataclass(frozen=True)
class Entry:
    """One word or phrase and how the engine should be told to say it."""

    written: str
    spoken: str
    match_case: bool = False


@dataclass(frozen=True)
class Lexicon:
    """The entries of one language, compiled into one pattern."""

    entries: tuple[Entry, ...] = ()

    def apply(self, text: str) -> str:
        """``text`` with every whole-word match of an entry replaced by its spoken form."""
        if not self.entries:
            return text
        out: list[str] = []
        position = 0
        for found in _pattern(self.entries).finditer(text):
            start, end = found.span()
            entry = _entry_for(self.entries, found)
            if entry is None or not whole_word(text, start, end):
                continue
            out.append(text[position:start])
            out.append(entry.spoken)
            position = end
        out.append(text[position:])
        return "".join(out)


@lru_cache(maxsize=64)
def _pattern(entries: tuple[Entry, ...]) -> re.Pattern[str]:
    # One alternation, longest first, each entry its own named group so its case rule holds.
    ordered = sorted(range(len(entries)), key=lambda i: -len(entries[i].written))
    parts = [
        f"(?P<e{i}>{'' if entries[i].match_case else '(?i:'}"
        f"{re.escape(entries[i].written)}{'' if entries[i].match_case else ')'})"
        for i in ordered
    ]
    return re.compile("|".join(parts))


def _entry_for(entries: tuple[Entry, ...], found: re.Match[str]) -> Entry | None:
    name = found.lastgroup
    return entries[int(name[1:])] if name else None


def layered(shipped: Lexicon, clinic: Iterable[Entry]) -> Lexicon:
    """``clinic``'s entries over ``shipped``: a shipped entry with the same written form
    (ignoring case) gives way, so the clinic decides how its own names are said."""
    own = tuple(clinic)
    if not own:
        return shipped
    taken = {entry.written.casefold() for entry in own}
    kept = tuple(e for e in shipped.entries if e.written.casefold() not in taken)
    return Lexicon(own + kept)


def load_lexicon(language: str, root: Path = TEMPLATE_ROOT) -> Lexicon:
    """The lexicon of ``language`` under ``root``; empty when it has none.

    A malformed file is a BrokenTemplate: better no message than a wrong name said.
    """
    path = root / language / LEXICON_FILE
    try:
        modified = path.stat().st_mtime_ns
    except FileNotFoundError:
        return Lexicon()
    return _read(path, modified)


@lru_cache(maxsize=64)
def _read(path: Path, modified_ns: int) -> Lexicon:
    """Parsed once per version of the file (``modified_ns`` is part of the cache key)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        entries = tuple(
            Entry(str(e["written"]), str(e["spoken"]), bool(e.get("match_case", False)))
            for e in raw["entries"]
        )
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BrokenTemplate(f"{path.parent.name}/{LEXICON_FILE}", repr(err)) from err
    if any(not e.written.strip() for e in entries):
        raise BrokenTemplate(f"{path.parent.name}/{LEXICON_FILE}", "an entry has no written form")
    return Lexicon(entries)
