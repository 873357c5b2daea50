"""A live call says everything in 60 seconds or less, even at the slow speech rate.

Parametrised over the languages the running configuration can both write and speak
(``Renderer.languages()``): when the voice catalog gains a language, this covers it too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from templates import KINDS, render_message, sample_facts
from voices import AudioFormat, Speaker
from workers.rendering import Renderer

CALL_SECONDS_MAX = 60.0
"""Phone rules for healthcare reminders cap a message at 60 seconds."""
SLOW = "slow"

# Only the catalog is read here; no audio is made while collecting.
SPOKEN = sorted(
    language.voice.code
    for language in Renderer(Speaker(Path(tempfile.gettempdir()) / "unused")).languages()
)


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> Renderer:
    return Renderer(Speaker(tmp_path_factory.mktemp("audio")))


def test_english_and_spanish_at_least_are_spoken() -> None:
    assert {"en", "es"} <= set(SPOKEN)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", SPOKEN)
def test_a_slow_call_lasts_a_minute_or_less(renderer: Renderer, language: str, kind: str) -> None:
    message = render_message(kind, language, "call", sample_facts(kind, language))
    audio = renderer.speaker.speak(message.spoken, language, SLOW, AudioFormat.PHONE)
    normal = renderer.speaker.speak(message.spoken, language, "normal", AudioFormat.PHONE)
    assert audio.duration_s <= CALL_SECONDS_MAX, f"{language} {kind}: {audio.duration_s:.1f} s"
    # The slow rate really is slower, and the audio is the whole message, not a stub.
    assert audio.duration_s > normal.duration_s
    assert audio.duration_s > len(message.spoken.split()) / 4
