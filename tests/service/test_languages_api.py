"""GET /v1/languages lists only what the running configuration can both write and speak."""

from __future__ import annotations

import shutil
from typing import Any

from fastapi.testclient import TestClient

from service.app import create_app
from templates import languages as template_languages
from tests.support.api import Keys, preview_body
from voices import Catalog, PicoEngine
from workers.jobs import speaker_from_settings


def listed(settings: Any, keys: Keys, query: str = "") -> dict[str, dict[str, Any]]:
    with TestClient(create_app(settings)) as client:
        answer = client.get(f"/v1/languages{query}", headers=keys.header(keys.staff))
    assert answer.status_code == 200, answer.text
    return {entry["code"]: entry for entry in answer.json()}


def test_tagalog_only_with_gtts_and_somali_never(make_settings, keys):
    written = set(template_languages())
    offline = listed(make_settings(), keys)
    online = listed(make_settings(gtts_enabled=True), keys)

    assert "tl" not in offline and "so" not in offline and "so" not in online
    assert set(offline) <= written
    assert all(entry["available"] for entry in (*offline.values(), *online.values()))
    # Enabling gtts adds Tagalog (where its templates exist) and changes nothing else.
    assert set(online) == set(offline) | ({"tl"} & written)
    assert {code: entry["voice"] for code, entry in online.items() if code != "tl"} == {
        code: entry["voice"] for code, entry in offline.items()
    }
    # Spanish: SVOX Pico where make voices installed it, else the espeak-ng fallback.
    spanish = "pico" if shutil.which(PicoEngine.program) else "espeak"
    assert offline["en"]["engine"] == "piper" and offline["es"]["engine"] == spanish


def test_languages_without_a_voice_here_are_listed_as_unavailable_with_the_reason(
    make_settings, keys
):
    everything = "?include_unavailable=true"
    offline = listed(make_settings(), keys, everything)
    online = listed(make_settings(gtts_enabled=True), keys, everything)

    # Every written language is listed; the ones this configuration cannot speak say why.
    assert set(offline) == set(template_languages())
    silent = {code: entry for code, entry in offline.items() if not entry["available"]}
    assert set(silent) == {"tl", "so"}
    assert silent["tl"]["unavailable_reason"] == (
        "no offline voice; needs the online engine gtts (Google's voice), which is off"
    )
    assert "Somali" in silent["so"]["unavailable_reason"]
    for entry in silent.values():
        assert entry["engine"] is None and entry["voice"] is None and entry["kinds"] == []
        assert entry["native_name"] and len(entry["version"]) == 64
    # A spoken language carries no reason; with gtts on only Somali is still silent.
    assert offline["es"]["available"] is True and offline["es"]["unavailable_reason"] is None
    assert {code for code, entry in online.items() if not entry["available"]} == {"so"}
    assert online["tl"]["engine"] == "gtts"


def test_an_unavailable_language_cannot_be_previewed(client, keys):
    answer = client.post(
        "/v1/previews", json=preview_body(language="tl"), headers=keys.header(keys.staff)
    )
    assert answer.status_code == 422, answer.text


def test_the_configured_speaker_says_what_it_can_speak(make_settings):
    default = speaker_from_settings(make_settings())
    with_google = speaker_from_settings(make_settings(gtts_enabled=True))
    without_piper = speaker_from_settings(make_settings(piper_enabled=False))

    assert not default.can_speak("tl") and with_google.can_speak("tl")
    assert not default.can_speak("so") and not with_google.can_speak("so")
    assert default.voice_for("en").engine == "piper"
    assert without_piper.voice_for("en").voice == "en-us"  # the catalog's fallback
    assert len(default.languages()) == 40 and len(with_google.languages()) == 41
    silent = {x.code: x.reason for x in default.unavailable()}
    assert set(silent) == {"so", "tl"} and silent["tl"].startswith("no offline voice")
    assert [x.code for x in with_google.unavailable()] == ["so"]


def test_english_preview_speaks_with_the_catalog_piper_voice(client, keys):
    preview = client.post(
        "/v1/previews", json=preview_body(language="en"), headers=keys.header(keys.staff)
    ).json()

    english = Catalog.load().get("en")
    assert (
        (preview["engine"], preview["voice"])
        == (english.engine, english.voice)
        == (
            "piper",
            "en_US-joe-medium",
        )
    )


def test_a_language_given_a_speech_server_is_listed_with_it(make_settings, keys):
    server = {"url": "http://tts.internal:8880/v1/audio/speech", "voice": "af_heart"}
    entries = listed(make_settings(http_tts={"en": server}), keys)
    without = listed(make_settings(), keys)

    assert (entries["en"]["engine"], entries["en"]["voice"]) == ("http", "af_heart")
    assert entries["es"]["engine"] == without["es"]["engine"] != "http"  # only "en" moves


def test_include_unavailable_must_be_a_boolean(client, keys):
    answer = client.get("/v1/languages?include_unavailable=maybe", headers=keys.header(keys.staff))
    assert answer.status_code == 422
    assert "include_unavailable" in answer.text
