"""A live call says everything in 60 seconds or less, even at the slow speech rate: the
message with its keypad menu, and after it the opt-out offer ("To stop these calls, press
8."), which every call says in its own language.

For a patient whose accessibility profile asks for long pauses and the repeat key offered
twice, one hearing lasts 80 seconds or less (``PACED_HEARING_MAX_S``); a profile that
repeats the message plays that hearing twice with a lead-in between, so the limit is per
hearing (``service.call_policy``).

Parametrised over the languages the running configuration can both write and speak
(``Renderer.languages()``): when the voice catalog gains a language, this covers it too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from service.call_policy import PACED_HEARING_MAX_S
from templates import KINDS, keypad_reply, render_message, sample_facts
from voices import AudioFormat, Speaker
from workers.rendering import SLOWEST, AccessProfile, Renderer

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


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", SPOKEN)
def test_a_slow_call_with_its_opt_out_offer_lasts_a_minute_or_less(
    renderer: Renderer, language: str, kind: str
) -> None:
    message = render_message(kind, language, "call", sample_facts(kind, language))
    audio = renderer.speaker.speak(message.spoken, language, SLOW, AudioFormat.PHONE)
    offer = renderer.speaker.speak(
        keypad_reply(language, "offer_opt_out"), language, SLOW, AudioFormat.PHONE
    )
    said = audio.duration_s + offer.duration_s
    assert offer.duration_s > 1.0, "the offer is said, not a stub"
    assert said <= CALL_SECONDS_MAX, (
        f"{language} {kind}: the message {audio.duration_s:.1f} s and the offer "
        f"{offer.duration_s:.1f} s, {said:.1f} s"
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", SPOKEN)
def test_one_hearing_for_the_slowest_profile_lasts_80_seconds_or_less(
    renderer: Renderer, language: str, kind: str
) -> None:
    facts = sample_facts(kind, language)
    message = render_message(kind, language, "call", facts, offer_repeat_twice=True)
    paced = renderer.speaker.speak(
        message.spoken, language, SLOW, AudioFormat.PHONE, pause_s=SLOWEST.pause_s
    )
    offer = renderer.speaker.speak(
        keypad_reply(language, "offer_opt_out"),
        language,
        SLOW,
        AudioFormat.PHONE,
        pause_s=SLOWEST.pause_s,
    )
    plain = render_message(kind, language, "call", facts)
    slow = renderer.speaker.speak(plain.spoken, language, SLOW, AudioFormat.PHONE)
    said = paced.duration_s + offer.duration_s
    assert said <= PACED_HEARING_MAX_S, f"{language} {kind}: {said:.1f} s with the opt-out offer"
    assert paced.duration_s > slow.duration_s + 2


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_repeated_call_is_two_hearings_and_the_lead_in(renderer: Renderer, language: str) -> None:
    kind = "appointment_changed"
    facts = {
        "patient": {
            "name": "María López",
            "timezone": "America/Chicago",
            "speech_rate": SLOW,
            "sentence_pause": "long",
            "repeat_message": True,
            "offer_repeat_twice": True,
        },
        "clinic": {"name": "Riverside Clinic", "callback_phone": "+13125550100"},
        "appointment": {"start": "2030-01-08T20:30:00+00:00", "previous_start": None},
    }
    rendered = renderer.render(kind, language, "call", facts, AudioFormat.PHONE)
    assert rendered.profile == AccessProfile(SLOW, "long", True, True)
    lead_in = renderer.reply(language, "repeat", facts, AudioFormat.PHONE)
    assert keypad_reply(language, "repeat") in rendered.message.spoken
    assert rendered.hearing_s <= rendered.profile.hearing_max_s == PACED_HEARING_MAX_S
    # The pauses around the lead-in are the profile's second each.
    two_hearings = 2 * rendered.hearing_s + lead_in.duration_s
    assert two_hearings < rendered.audio.duration_s < two_hearings + 4
