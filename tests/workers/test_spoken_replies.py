"""Spoken replies end to end: a real RQ worker, the app on uvicorn, the Twilio simulator.

The simulated patient says words to the call's ``<Gather>``: the simulator posts them as
Twilio's speech recognition does (``SpeechResult`` and ``Confidence``, signed) and checks
every ``<Gather>`` against Twilio's TwiML reference. Several patients are called in one
worker run, each on their own number, about the same visit (so its audio is made once).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from devtools.timezones import daytime_zone
from devtools.twilio_sim import Said, Scenario, SimCall, TwilioSimulator
from service.config import Settings
from tests.support.api import Keys, LiveServer, reminder_body
from tests.support.phone import create, phone_settings, reminder, run_phone_worker, settled

pytestmark = [pytest.mark.redis]

CLINIC_PHONE = "+13125550100"


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings], redis_url: str, sim: TwilioSimulator
) -> Settings:
    return phone_settings(
        make_settings, redis_url, sim, calls_per_day=3, lease_s=2, requeue_after_s=0
    )


APPOINTMENT = reminder_body()["appointment"]


def patient(number: str, language: str) -> dict[str, Any]:
    return {
        "appointment": APPOINTMENT,
        "language": language,
        "patient": {
            "name": "María López",
            "phone": number,
            "timezone": daytime_zone(),
            "speech_rate": "normal",
        },
    }


def call_to(sim: TwilioSimulator, number: str) -> SimCall:
    (call,) = sim.calls_to(number)
    return call


def call_each(
    live_server: LiveServer,
    keys: Keys,
    settings: Settings,
    sim: TwilioSimulator,
    said: dict[str, list[str | Said]],
    language: str,
) -> dict[str, str]:
    """A reminder in ``language`` to each number, whose patient answers as ``said``; a
    worker places the calls. The reminders' ids by number."""
    for number, answers in said.items():
        sim.scenario_for(number, Scenario(keys=answers))
    ids = {number: create(live_server, keys, **patient(number, language)) for number in said}
    run_phone_worker(settings)
    return ids


def test_english_words_act_like_the_keys(
    live_server: LiveServer, keys: Keys, settings: Settings, sim: TwilioSimulator
) -> None:
    said = {
        "+13125550201": [Said("Yes, I'll be there.", 0.92)],
        "+13125550202": [Said("Cancel", 0.88)],
        "+13125550203": [Said("Can you repeat that?", 0.81), Said("yeah", 0.9)],
        "+13125550204": [Said("I want to talk to a person", 0.77)],
    }
    ids = call_each(live_server, keys, settings, sim, said, "en")
    final = {
        number: settled(live_server, keys, ids[number], "confirmed", "cancel_requested")
        for number in said
        if number != "+13125550204"
    }
    sim.wait_idle()
    assert sim.problems == []

    first = call_to(sim, "+13125550201").gathers[0]
    assert first["input"] == "dtmf speech" and first["language"] == "en-US"
    assert first["numDigits"] == "1" and first["speechTimeout"] == "auto"
    hints = first["hints"].split(", ")
    assert {"yes", "cancel", "repeat", "agent", "stop"} <= set(hints)
    assert "5550201" not in first["action"]

    assert final["+13125550201"]["status"] == "confirmed"
    (attempt,) = final["+13125550201"]["attempts"]
    assert attempt["speech_result"] == "Yes, I'll be there."
    assert attempt["speech_confidence"] == pytest.approx(0.92)
    assert attempt["digits"] is None

    assert final["+13125550202"]["status"] == "cancel_requested"

    repeated = call_to(sim, "+13125550203")
    assert final["+13125550203"]["status"] == "confirmed"
    assert len(repeated.gathers) == 2  # the message again, listening again
    assert repeated.said == ["Can you repeat that?", "yeah"]

    agent = call_to(sim, "+13125550204")
    assert agent.dialed == [CLINIC_PHONE]
    assert reminder(live_server, keys, ids["+13125550204"])["status"] == "delivered"


def test_english_words_heard_unsurely_or_not_replies(
    live_server: LiveServer, keys: Keys, settings: Settings, sim: TwilioSimulator
) -> None:
    said = {
        "+13125550205": [Said("cancel", 0.31), "2"],
        "+13125550206": [Said("Tuesday afternoon maybe", 0.85), "1"],
    }
    ids = call_each(live_server, keys, settings, sim, said, "en")
    final = {
        number: settled(live_server, keys, ids[number], "confirmed", "cancel_requested")
        for number in said
    }
    sim.wait_idle()
    assert sim.problems == []

    # Heard unsurely: asked once, by key only, then the key decides.
    unsure = call_to(sim, "+13125550205")
    assert final["+13125550205"]["status"] == "cancel_requested"
    assert "input" not in unsure.gathers[1] and "language" not in unsure.gathers[1]
    (checked,) = final["+13125550205"]["attempts"]
    assert checked["speech_result"] == "cancel" and checked["digits"] == "2"

    # Words that are no reply: the "unknown" path, the menu again; then a key.
    unmatched = call_to(sim, "+13125550206")
    assert final["+13125550206"]["status"] == "confirmed"
    assert len(unmatched.gathers) == 2 and unmatched.gathers[1]["input"] == "dtmf speech"


def test_spanish_words_and_a_low_confidence_answer_confirmed_by_key(
    live_server: LiveServer, keys: Keys, settings: Settings, sim: TwilioSimulator
) -> None:
    said = {
        "+13125550211": [Said("Sí, claro.", 0.95)],
        "+13125550212": [Said("quiero cancelar", 0.9)],
        "+13125550213": [Said("sí", 0.2), "1"],
        "+13125550214": [Said("sí", 0.2), Said("sí", 0.99)],
    }
    ids = call_each(live_server, keys, settings, sim, said, "es")
    final = {
        number: settled(live_server, keys, ids[number], "confirmed", "cancel_requested")
        for number in said
        if number != "+13125550214"
    }
    sim.wait_idle()
    assert sim.problems == []
    gather = call_to(sim, "+13125550211").gathers[0]
    assert gather["language"] == "es-US" and "sí" in gather["hints"].split(", ")
    assert final["+13125550211"]["status"] == "confirmed"
    assert final["+13125550212"]["status"] == "cancel_requested"
    assert final["+13125550213"]["status"] == "confirmed"
    # The check takes keys only: a second "sí" to it does nothing, and the call ends
    # heard but not confirmed.
    words_only = call_to(sim, "+13125550214")
    assert words_only.said == ["sí"] and len(words_only.gathers) == 2
    assert reminder(live_server, keys, ids["+13125550214"])["status"] == "delivered"
    # The check says a reply of its own: one more audio than a plain "sí" call.
    assert len(call_to(sim, "+13125550213").played) == len(call_to(sim, "+13125550211").played) + 1


def test_a_language_twilio_cannot_recognise_takes_keys_only(
    live_server: LiveServer, keys: Keys, settings: Settings, sim: TwilioSimulator
) -> None:
    number = "+13125550221"
    sim.scenario_for(number, Scenario(keys=[Said("wi", 0.9)]))
    reminder_id = create(live_server, keys, **patient(number, "ht"))
    run_phone_worker(settings)
    done = settled(live_server, keys, reminder_id, "delivered")
    sim.wait_idle()
    assert sim.problems == []
    call = call_to(sim, number)
    assert "input" not in call.gathers[0] and call.said == []
    assert done["attempts"][0]["speech_result"] is None
