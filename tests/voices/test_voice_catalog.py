"""The voice catalog: every voice it names is real, speaks its language, and loads safely."""

from __future__ import annotations

import dataclasses
import json
import subprocess

import pytest

from tests.support.languages import LANGUAGES
from tests.support.voices import voice_of
from voices import (
    Catalog,
    CatalogError,
    InvalidRate,
    LanguageVoice,
    PiperEngine,
    UnknownLanguage,
)


def installed_espeak_voices() -> set[str]:
    """Voice names as ``espeak-ng --voices`` lists them: the Language and File columns."""
    listing = subprocess.run(
        ["espeak-ng", "--voices"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    names = set()
    for line in listing.splitlines()[1:]:
        columns = line.split()
        names.add(columns[1])  # Language, e.g. "es-419"
        names.add(columns[4])  # File, e.g. "roa/es-419"
    return names


def test_every_catalog_voice_exists_for_its_engine(catalog, espeak):
    """Each voice of each language's chain: espeak-ng renders it, Piper has it, Google
    lists it (gtts's own language table, no network), an optional voice has espeak-ng
    behind it."""
    from gtts.lang import tts_langs

    installed = installed_espeak_voices()
    piper = PiperEngine()
    google = tts_langs()
    engines = set()
    for language in catalog.languages():
        for voice in language.chain():
            engines.add(voice.engine)
            if voice.engine == "espeak":
                assert voice.voice in installed, f"{voice.code}: no espeak-ng voice {voice.voice}"
                audio = espeak.synthesize("1, 2, 3", voice.code, voice.voice, 150)
                assert audio[:4] == b"RIFF" and len(audio) > 10_000
            elif voice.engine == "piper":
                assert voice.voice in piper._files, f"{voice.code}: no Piper voice {voice.voice}"
            elif voice.engine in ("pico", "rhvoice"):
                # The optional voices: each leads with espeak-ng behind it, so a machine
                # without them still speaks the language (test_optional_engines renders them).
                assert voice.fallback is not None and voice.fallback.engine == "espeak", voice
            else:
                assert voice.engine == "gtts", voice
                assert voice.voice in google, f"{voice.code}: Google has no voice {voice.voice}"
    assert engines == {"espeak", "piper", "gtts", "pico", "rhvoice"}


def test_every_language_is_in_the_catalog_and_somali_says_why_not(catalog):
    assert [voice.code for voice in catalog.languages()] == sorted(set(LANGUAGES) - {"so"})
    (somali,) = catalog.unspoken()
    assert somali.code == "so" and "Somali" in somali.reason
    with pytest.raises(UnknownLanguage, match="cannot be spoken"):
        catalog.get("so")
    # Only Tagalog depends on the online engine; every other language has an offline voice.
    online_only = [v.code for v in catalog.languages() if {x.engine for x in v.chain()} == {"gtts"}]
    assert online_only == ["tl"]


def test_spanish_is_spoken_by_a_latin_american_spanish_voice(catalog, espeak, samples):
    """Phonemes show the language: Spanish ñ, and seseo ("diez" with s, not Spain's θ)."""
    spanish = espeak.phonemes(samples.es, voice_of(catalog, "es", "espeak").voice)
    english = espeak.phonemes(samples.es, voice_of(catalog, "en", "espeak").voice)

    assert "man^'ana" in spanish  # "mañana" with the palatal ñ
    assert "Dj'es" in spanish  # "diez" as Latin America says it
    assert "n^" not in english  # the English voice would mangle it


def test_languages_lists_complete_frozen_entries_in_code_order(catalog):
    voices = catalog.languages()

    assert [voice.code for voice in voices] == sorted(voice.code for voice in voices)
    assert {"en", "es"} <= {voice.code for voice in voices}
    for voice in voices:
        required = [f.name for f in dataclasses.fields(LanguageVoice) if f.default is not None]
        assert all(getattr(voice, name) for name in required if name != "script"), voice.code
        with pytest.raises(dataclasses.FrozenInstanceError):
            voice.voice = "other"  # type: ignore[misc]
    assert catalog.get("es").native_name == "Español"


@pytest.mark.parametrize(
    ("asked", "spoken_by"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("es-MX", "es"),
        ("es_419", "es"),
        (" es ", "es"),
    ],
)
def test_language_codes_as_scheduling_systems_send_them(catalog, asked, spoken_by):
    assert catalog.get(asked).code == spoken_by


@pytest.mark.parametrize("code", ["sw", "", "english", "x-es"])
def test_unknown_language_names_what_is_available(catalog, code):
    with pytest.raises(UnknownLanguage, match="en, es, fa"):
        catalog.get(code)


def test_named_rates(catalog):
    assert catalog.words_per_minute("normal") == 150
    assert catalog.words_per_minute("slow") == 125
    assert catalog.rates() == {"normal": 150, "slow": 125}
    with pytest.raises(InvalidRate, match="fast"):
        catalog.words_per_minute("fast")


def good_catalog() -> dict:
    return {
        "format": 2,
        "rates_words_per_minute": {"normal": 150},
        "languages": {
            "en": {
                "name": "English",
                "native_name": "English",
                "sample": "Hello.",
                "engine": "espeak",
                "voice": "en-us",
                "licence": "GPL-3.0-or-later",
                "provenance": "test",
            }
        },
    }


def test_a_catalog_file_elsewhere_loads(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(good_catalog()), encoding="utf-8")

    assert Catalog.load(path).get("en").voice == "en-us"


@pytest.mark.parametrize(
    "breakage",
    [
        lambda c: c.update(format=1),
        lambda c: c["languages"]["en"].update(script="morse"),
        lambda c: c["languages"]["en"].update(fallback={"engine": "espeak"}),
        lambda c: c.update(unspoken={"en": {"name": "x", "native_name": "x", "reason": "x"}}),
        lambda c: c["languages"]["en"].pop("licence"),
        lambda c: c["languages"]["en"].update(voice=""),
        lambda c: c["languages"].update({"EN-US": c["languages"]["en"]}),
        lambda c: c["rates_words_per_minute"].update(slow=0),
        lambda c: c["rates_words_per_minute"].update(slow=True),
        lambda c: c.update(languages={}),
    ],
)
def test_a_malformed_catalog_is_refused_whole(tmp_path, breakage):
    data = good_catalog()
    breakage(data)
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data), encoding="utf-8")

    with pytest.raises(CatalogError):
        Catalog.load(path)


@pytest.mark.parametrize("content", ["{not json", None])
def test_an_unreadable_catalog_file_is_a_catalog_error(tmp_path, content):
    path = tmp_path / "catalog.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")

    with pytest.raises(CatalogError) as caught:
        Catalog.load(path)

    assert caught.value.__cause__ is not None
