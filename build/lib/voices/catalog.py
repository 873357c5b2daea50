"""Which engine and voice speaks each language, and what the named speech rates mean.

The choices live in ``catalog.json`` (data, reviewed like data) rather than in code, so
adding a language or moving it to a better engine is a one-line change that a reviewer
can read without Python. This module only loads, checks and answers questions about it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

from voices.base import CatalogError, InvalidRate, UnknownLanguage

__all__ = ["CATALOG_FORMAT", "Catalog", "LanguageVoice"]

# The layout version of catalog.json this code understands; bump both together.
CATALOG_FORMAT = 1

# Lowercase BCP 47 shapes: "en", "es", "es-419", "pt-br", "zh-hant".
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})*")


@dataclass(frozen=True)
class LanguageVoice:
    """One catalog entry: how a language is spoken, and where that voice came from.

    ``licence`` and ``provenance`` are kept beside the choice so a hospital's reviewer
    can see what they are deploying without reading engine documentation.
    """

    code: str
    name: str
    native_name: str
    engine: str
    voice: str
    licence: str
    provenance: str


class Catalog:
    """The languages Tellwell can speak and the speech rates patients can choose.

    Immutable after construction, so one instance is safely shared between threads.
    """

    def __init__(self, languages: Iterable[LanguageVoice], rates: Mapping[str, int]) -> None:
        self._languages = {voice.code: voice for voice in languages}
        self._rates = dict(rates)

    @classmethod
    def load(cls, path: Path | None = None) -> Catalog:
        """Read a catalog file; without ``path``, the one shipped inside this package."""
        source = str(path) if path is not None else "voices/catalog.json"
        try:
            if path is None:
                raw = resources.files("voices").joinpath("catalog.json").read_text("utf-8")
            else:
                raw = path.read_text(encoding="utf-8")
            data = json.loads(raw)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise CatalogError(f"cannot read the voice catalog {source}: {err}") from err
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "catalog") -> Catalog:
        """Build a catalog from parsed JSON, refusing anything incomplete.

        A bad entry fails the whole load: a half-loaded catalog would show up later as
        one language mysteriously missing.
        """
        if not isinstance(data, dict) or data.get("format") != CATALOG_FORMAT:
            raise CatalogError(f'{source}: expected an object with "format": {CATALOG_FORMAT}')
        rates = data.get("rates_words_per_minute")
        if not isinstance(rates, dict) or not rates:
            raise CatalogError(f'{source}: "rates_words_per_minute" must be a non-empty object')
        for rate, wpm in rates.items():
            # bool is an int in Python; true words-per-minute is never meant.
            if not isinstance(wpm, int) or isinstance(wpm, bool) or wpm <= 0:
                raise CatalogError(f"{source}: rate {rate!r} must be a positive whole number")
        entries = data.get("languages")
        if not isinstance(entries, dict) or not entries:
            raise CatalogError(f'{source}: "languages" must be a non-empty object')
        wanted = [field.name for field in fields(LanguageVoice) if field.name != "code"]
        languages = []
        for code, entry in entries.items():
            if not isinstance(code, str) or not _LANGUAGE_CODE.fullmatch(code):
                raise CatalogError(f"{source}: {code!r} is not a lowercase BCP 47 language code")
            if not isinstance(entry, dict):
                raise CatalogError(f"{source}: language {code!r} must be an object")
            missing = [
                name for name in wanted if not isinstance(entry.get(name), str) or not entry[name]
            ]
            if missing:
                raise CatalogError(f"{source}: language {code!r} lacks {', '.join(missing)}")
            languages.append(LanguageVoice(code=code, **{name: entry[name] for name in wanted}))
        return cls(languages, rates)

    def languages(self) -> list[LanguageVoice]:
        """Every language the catalog speaks, ordered by code for stable listings."""
        return [self._languages[code] for code in sorted(self._languages)]

    def get(self, code: str) -> LanguageVoice:
        """The voice for a language code, as a scheduling system might send it.

        Case and "_" versus "-" are ignored, and a regional code falls back to its
        language ("es-MX" is spoken by "es") when the catalog has no voice for the
        region itself: the patient still hears their language.
        """
        wanted = code.strip().lower().replace("_", "-")
        for candidate in (wanted, wanted.split("-", 1)[0]):
            if candidate in self._languages:
                return self._languages[candidate]
        known = ", ".join(sorted(self._languages))
        raise UnknownLanguage(f"no voice for language {code!r}; the catalog has {known}")

    def rates(self) -> dict[str, int]:
        """The named speech rates and their words per minute (a copy)."""
        return dict(self._rates)

    def words_per_minute(self, rate: str) -> int:
        """Words per minute for a named rate such as ``"normal"`` or ``"slow"``."""
        try:
            return self._rates[rate]
        except KeyError as err:
            known = ", ".join(sorted(self._rates))
            raise InvalidRate(f"no speech rate {rate!r}; the catalog has {known}") from err
