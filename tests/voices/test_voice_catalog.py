"""The voice catalog: every voice it names is real, speaks its language, and loads safely."""

from __future__ import annotations

import dataclasses
import json
import subprocess

import pytest

from voices import Catalog, CatalogError, InvalidRate, LanguageVoice, UnknownLanguage


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


def test_every_catalog_voice_is_installed_and_renders(catalog, espeak):
    installed = installed_espeak_voices()
    for voice in catalog.languages():
        assert voice.engine == "espeak", f"{voice.code}: only espeak is available so far"
        assert voice.voice in installed, f"{voice.code}: espeak-ng has no voice {voice.voice}"
        audio = espeak.synthesize("1, 2, 3", voice.code, voice.voice, 150)
        assert audio[:4] == b"RIFF" and len(audio) > 10_000


def test_spanish_is_spoken_by_a_latin_american_spanish_voice(catalog, espeak, samples):
    """Phonemes show the language: Spanish ñ, and seseo ("diez" with s, not Spain's θ)."""
    spanish = espeak.phonemes(samples.es, catalog.get("es").voice)
    english = espeak.phonemes(samples.es, catalog.get("en").voice)

    assert "man^'ana" in spanish  # "mañana" with the palatal ñ
    assert "Dj'es" in spanish  # "diez" as Latin America says it
    assert "n^" not in english  # the English voice would mangle it


def test_languages_lists_complete_frozen_entries_in_code_order(catalog):
    voices = catalog.languages()

    assert [voice.code for voice in voices] == sorted(voice.code for voice in voices)
    assert {"en", "es"} <= {voice.code for voice in voices}
    for voice in voices:
        assert all(getattr(voice, field.name) for field in dataclasses.fields(LanguageVoice))
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


@pytest.mark.parametrize("code", ["fr", "", "english", "x-es"])
def test_unknown_language_names_what_is_available(catalog, code):
    with pytest.raises(UnknownLanguage, match="en, es"):
        catalog.get(code)


def test_named_rates(catalog):
    assert catalog.words_per_minute("normal") == 150
    assert catalog.words_per_minute("slow") == 125
    assert catalog.rates() == {"normal": 150, "slow": 125}
    with pytest.raises(InvalidRate, match="fast"):
        catalog.words_per_minute("fast")


def good_catalog() -> dict:
    return {
        "format": 1,
        "rates_words_per_minute": {"normal": 150},
        "languages": {
            "en": {
                "name": "English",
                "native_name": "English",
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
        lambda c: c.update(format=2),
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
