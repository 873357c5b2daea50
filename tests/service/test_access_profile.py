"""A patient's accessibility profile, as staff hear it in a preview (``/v1/previews``):
the same ``Renderer.render`` the call's audio comes from, with real espeak-ng."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from pydub import AudioSegment

from tests.support.api import Keys, preview_body

OFFER = "Press 9 to hear this again."
AGAIN = "Here is the message again."
STANDARD = {
    "speech_rate": "normal",
    "sentence_pause": "normal",
    "repeat_message": False,
    "offer_repeat_twice": False,
}


START = (datetime.now(UTC) + timedelta(days=3)).replace(minute=30, second=0, microsecond=0)


def preview(client: TestClient, keys: Keys, variant: str = "call", **profile: Any) -> Any:
    """The English preview of one visit (the same time in every call of a test)."""
    body = preview_body(language="en", variant=variant)
    body["appointment"]["start"] = START.isoformat()
    body["patient"] |= profile
    answer = client.post("/v1/previews", json=body, headers=keys.header(keys.staff))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_long_pauses_lengthen_the_same_words_by_the_pause_between_each_sentence(
    client: TestClient, keys: Keys
) -> None:
    standard = preview(client, keys)
    paced = preview(client, keys, sentence_pause="long")
    assert standard["profile"] == STANDARD
    assert paced["profile"] == {**STANDARD, "sentence_pause": "long"}
    assert paced["text"] == standard["text"]
    gaps = standard["text"].count(". ") + standard["text"].count(", 0 1 0 0. ")
    # 1 s instead of 0.35 s after every sentence but the last.
    added = paced["duration_s"] - standard["duration_s"]
    assert 0.5 * gaps < added < 0.8 * gaps, (added, gaps)
    assert paced["hearing_s"] == paced["duration_s"]
    assert paced["audio_url"] != standard["audio_url"]


def test_the_repeat_key_is_offered_twice_last_and_the_message_said_twice(
    client: TestClient, keys: Keys, tmp_path: Any
) -> None:
    standard = preview(client, keys)
    assert standard["text"].count(OFFER) == 1 and AGAIN not in standard["text"]
    offered = preview(client, keys, offer_repeat_twice=True)
    assert offered["text"] == f"{standard['text']} {OFFER}"
    assert offered["hearing_s"] > standard["hearing_s"] + 1

    twice = preview(client, keys, repeat_message=True, offer_repeat_twice=True)
    assert twice["text"] == f"{offered['text']} {AGAIN} {offered['text']}"
    assert twice["hearing_s"] == offered["hearing_s"]
    # Two hearings and the lead-in between, in one file the call plays.
    assert 2 * twice["hearing_s"] + 1 < twice["duration_s"] < 2 * twice["hearing_s"] + 4
    audio = client.get(twice["audio_url"].removeprefix("http://testserver"))
    (tmp_path / "twice.mp3").write_bytes(audio.content)
    heard = AudioSegment.from_file(tmp_path / "twice.mp3").duration_seconds
    assert abs(heard - twice["duration_s"]) < 0.5
    assert not twice["warnings"]


def test_a_voicemail_or_app_message_is_not_repeated_but_keeps_the_pace(
    client: TestClient, keys: Keys
) -> None:
    for variant in ("voicemail", "app"):
        plain = preview(client, keys, variant)
        profiled = preview(
            client, keys, variant, repeat_message=True, offer_repeat_twice=True, speech_rate="slow"
        )
        assert profiled["text"] == plain["text"] and AGAIN not in profiled["text"]
        assert profiled["duration_s"] == profiled["hearing_s"] > plain["duration_s"]


def test_a_bad_profile_in_a_preview_names_the_field(client: TestClient, keys: Keys) -> None:
    body = preview_body(language="en")
    body["patient"]["sentence_pause"] = "very long"
    answer = client.post("/v1/previews", json=body, headers=keys.header(keys.staff))
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["patient.sentence_pause"]
