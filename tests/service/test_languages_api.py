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


def listed(settings: Any, keys: Keys) -> dict[str, dict[str, Any]]:
    with TestClient(create_app(settings)) as client:
        answer = client.get("/v1/languages", headers=keys.header(keys.staff))
    assert answer.status_code == 200, answer.text
    return {entry["code"]: entry for entry in answer.json()}


def test_tagalog_only_with_gtts_and_somali_never(make_settings, keys):
    written = set(template_languages())
    offline = listed(make_settings(), keys)
    online = listed(make_settings(gtts_enabled=True), keys)

    assert "tl" not in offline and "so" not in offline and "so" not in online
    assert set(offline) <= written
    # Enabling gtts adds Tagalog (where its templates exist) and changes nothing else.
    assert set(online) == set(offline) | ({"tl"} & written)
    assert {code: entry["voice"] for code, entry in online.items() if code != "tl"} == {
        code: entry["voice"] for code, entry in offline.items()
    }
    # Spanish: SVOX Pico where make voices installed it, else the espeak-ng fallback.
    spanish = "pico" if shutil.which(PicoEngine.program) else "espeak"
    assert offline["en"]["engine"] == "piper" and offline["es"]["engine"] == spanish


def test_the_configured_speaker_says_what_it_can_speak(make_settings):
    default = speaker_from_settings(make_settings())
    with_google = speaker_from_settings(make_settings(gtts_enabled=True))
    without_piper = speaker_from_settings(make_settings(piper_enabled=False))

    assert not default.can_speak("tl") and with_google.can_speak("tl")
    assert not default.can_speak("so") and not with_google.can_speak("so")
    assert default.voice_for("en").engine == "piper"
    assert without_piper.voice_for("en").voice == "en-us"  # the catalog's fallback
    assert len(default.languages()) == 19 and len(with_google.languages()) == 20


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
