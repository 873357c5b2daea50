"""Which engine and voice speaks each language, and what the named speech rates mean.

The choices live in ``catalog.json`` (data, reviewed like data) rather than in code, so
adding a language or moving it to a better engine is a one-line change that a reviewer
can read without Python. This module only loads, checks and answers questions about it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from voices.base import CatalogError, InvalidRate, UnknownLanguage

__all__ = ["CATALOG_FORMAT", "SCRIPTS", "Catalog", "LanguageVoice", "UnspokenLanguage"]

# The layout version of catalog.json this code understands; bump both together.
CATALOG_FORMAT = 2

# Lowercase BCP 47 shapes: "en", "es", "es-419", "pt-br", "zh-hant".
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})*")

# How a voice wants its text written when that is not the language's own script (see
# voices.scripts): "pinyin" for espeak-ng's cmn-latn-pinyin, "kana" for its Japanese,
# "devanagari-digits" for its Nepali (which reads Latin digits in English).
SCRIPTS = frozenset({"", "pinyin", "kana", "devanagari-digits"})

_LANGUAGE_FIELDS = ("name", "native_name", "sample")
_VOICE_FIELDS = ("engine", "voice", "licence", "provenance")


@dataclass(frozen=True)
class LanguageVoice:
    """One catalog entry: how a language is spoken, and where that voice came from.

    ``licence`` and ``provenance`` are kept beside the choice so a hospital's reviewer
    can see what they are deploying without reading engine documentation. ``sample`` is a
    short reminder in the language's own script, for tests and benchmarks. ``fallback``
    is the voice used when this one's engine is not configured or (online) fails.
    """

    code: str
    name: str
    native_name: str
    engine: str
    voice: str
    licence: str
    provenance: str
    sample: str = ""
    script: str = ""
    fallback: LanguageVoice | None = None

    def chain(self) -> list[LanguageVoice]:
        """This voice, then its fallbacks, in order of preference."""
        return [self, *(self.fallback.chain() if self.fallback else [])]


@dataclass(frozen=True)
class UnspokenLanguage:
    """A language patients need that no engine here can speak, and why (data, not silence)."""

    code: str
    name: str
    native_name: str
    reason: str


class Catalog:
    """The languages Tellwell can speak and the speech rates patients can choose.

    Immutable after construction, so one instance is safely shared between threads.
    """

    def __init__(
        self,
        languages: Iterable[LanguageVoice],
        rates: Mapping[str, int],
        unspoken: Iterable[UnspokenLanguage] = (),
    ) -> None:
        self._languages = {voice.code: voice for voice in languages}
        self._rates = dict(rates)
        self._unspoken = {entry.code: entry for entry in unspoken}

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
    def from_dict(cls, data: object, *, source: str = "catalog") -> Catalog:
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
        languages = [
            _voice(code, _checked(code, entry, _LANGUAGE_FIELDS, source), entry, source)
            for code, entry in entries.items()
        ]
        unspoken_entries = data.get("unspoken", {})
        if not isinstance(unspoken_entries, dict):
            raise CatalogError(f'{source}: "unspoken" must be an object')
        unspoken = []
        for code, entry in unspoken_entries.items():
            facts = _checked(code, entry, ("name", "native_name", "reason"), source)
            if code in entries:
                raise CatalogError(f"{source}: {code!r} is both spoken and unspoken")
            unspoken.append(UnspokenLanguage(code=code, **facts))
        return cls(languages, rates, unspoken)

    def languages(self) -> list[LanguageVoice]:
        """Every language the catalog has a voice for, ordered by code for stable listings.

        Whether the running configuration can use that voice is the Speaker's question
        (``Speaker.languages``); this is the data as written.
        """
        return [self._languages[code] for code in sorted(self._languages)]

    def unspoken(self) -> list[UnspokenLanguage]:
        """Languages recorded as needed but without any engine that speaks them."""
        return [self._unspoken[code] for code in sorted(self._unspoken)]

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
            if candidate in self._unspoken:
                raise UnknownLanguage(
                    f"language {candidate!r} cannot be spoken: {self._unspoken[candidate].reason}"
                )
        known = ", ".join(sorted(self._languages))
        raise UnknownLanguage(f"no voice for language {code!r}; the catalog has {known}")

    def with_leading(self, voice: LanguageVoice) -> Catalog:
        """A catalog where ``voice`` leads its language, the written choice as its fallback.

        How a voice dropped into the Piper voices directory takes over a language (or adds
        one): the shipped choice stays behind it, so the language is never lost.
        """
        languages = dict(self._languages)
        current = languages.get(voice.code)
        if current is not None:
            voice = replace(
                voice,
                name=current.name,
                native_name=current.native_name,
                sample=current.sample,
                fallback=current,
            )
        languages[voice.code] = voice
        unspoken = [entry for code, entry in self._unspoken.items() if code != voice.code]
        return Catalog(languages.values(), self._rates, unspoken)

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


def _checked(code: object, entry: object, wanted: tuple[str, ...], source: str) -> dict[str, str]:
    """The named non-empty string fields of one entry, or a ``CatalogError`` naming it."""
    if not isinstance(code, str) or not _LANGUAGE_CODE.fullmatch(code):
        raise CatalogError(f"{source}: {code!r} is not a lowercase BCP 47 language code")
    if not isinstance(entry, dict):
        raise CatalogError(f"{source}: language {code!r} must be an object")
    missing = [name for name in wanted if not isinstance(entry.get(name), str) or not entry[name]]
    if missing:
        raise CatalogError(f"{source}: language {code!r} lacks {', '.join(missing)}")
    return {name: entry[name] for name in wanted}


def _voice(
    code: str, language: dict[str, str], entry: dict[str, Any], source: str
) -> LanguageVoice:
    """One voice of a language entry, with its fallback chain."""
    script = entry.get("script", "")
    if script not in SCRIPTS:
        raise CatalogError(f"{source}: language {code!r} has unknown script {script!r}")
    fallback_entry = entry.get("fallback")
    fallback = (
        _voice(code, language, fallback_entry, source) if fallback_entry is not None else None
    )
    return LanguageVoice(
        code=code,
        **language,
        **_checked(code, entry, _VOICE_FIELDS, source),
        script=script,
        fallback=fallback,
    )
