"""Worklist items from real calls: the app on uvicorn with its in-process workers, and the
Twilio simulator placing the calls, pressing the keys and ending the ``<Dial>`` to the
clinic, every callback signed over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devtools.twilio_sim import Scenario, TwilioSimulator
from service.app import create_app
from service.config import Settings
from tests.support.api import Keys, LiveServer, reminder_body
from tests.support.clock import OffsetClock
from tests.support.phone import phone_settings
from tests.support.serving import serving
from tests.support.waiting import wait_for

CANCELS, NOBODY_AT_CLINIC, CLINIC_ANSWERS = "+13125550131", "+13125550132", "+13125550133"
NEVER_ANSWERS = "+13125550134"
CLINIC_LINE = "+13125550100"
WAIT_S = 240
"""Generous: the first render loads the voices while other test processes share 2 cores."""


@pytest.fixture
def settings(make_settings: Callable[..., Settings], sim: TwilioSimulator) -> Settings:
    return phone_settings(make_settings, "", sim, calls_per_day=1, calls_per_week=3)


@pytest.fixture
def live(settings: Settings, keys: Keys, clock: OffsetClock) -> Iterator[LiveServer]:
    port = int(settings.public_base_url.rsplit(":", 1)[1])
    with serving(create_app(settings, clock=clock), port) as server:
        yield server


def call(live: LiveServer, keys: Keys, phone: str, **changes: Any) -> str:
    body = reminder_body(**changes)
    body["patient"] = body["patient"] | {"phone": phone}
    answer = live.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def worklist(live: LiveServer, keys: Keys, **query: Any) -> list[dict[str, Any]]:
    answer = live.get("/v1/worklist", params=query, headers=keys.header(keys.staff))
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def test_a_cancel_request_and_a_clinic_that_did_not_answer_reach_the_worklist(
    live: LiveServer, keys: Keys, sim: TwilioSimulator
) -> None:
    sim.scenario_for(CANCELS, Scenario(answer="human", keys=["2"]))
    sim.scenario_for(NOBODY_AT_CLINIC, Scenario(answer="human", keys=["0"], dial="no-answer"))
    sim.scenario_for(CLINIC_ANSWERS, Scenario(answer="human", keys=["0"], dial="completed"))
    cancels = call(live, keys, CANCELS)
    unanswered = call(live, keys, NOBODY_AT_CLINIC)
    answered = call(live, keys, CLINIC_ANSWERS)

    reasons = {"cancel_request", "clinic_unanswered"}
    items = wait_for(
        lambda: (
            (found := worklist(live, keys, reason=sorted(reasons))) and len(found) == 2 and found
        ),
        timeout_s=WAIT_S,
    )
    sim.wait_idle()
    assert sim.problems == []
    by_reason = {item["reason"]: item for item in items}
    assert by_reason["cancel_request"]["reminder"]["id"] == cancels
    assert by_reason["cancel_request"]["reminder"]["status"] == "cancel_requested"
    nobody = by_reason["clinic_unanswered"]
    assert nobody["reminder"]["id"] == unanswered
    assert nobody["detail"].endswith("the clinic's line: no-answer")
    assert nobody["patient"]["phone"] == NOBODY_AT_CLINIC
    assert nobody["actions"] == ["handled", "call_back"]
    (dialled,) = sim.calls_to(NOBODY_AT_CLINIC)
    assert dialled.dialed == [CLINIC_LINE] and dialled.pressed == ["0"]
    # The patient the clinic answered needs nobody.
    wait_for(lambda: sim.calls_to(CLINIC_ANSWERS) and sim.calls_to(CLINIC_ANSWERS)[0].dialed)
    assert answered not in {item["subject_id"] for item in worklist(live, keys)}
    for url in (dialled.param("Url"), dialled.param("StatusCallback")):
        assert "5550132" not in url

    handled = live.post(
        f"/v1/worklist/{nobody['id']}/handled",
        json={"note": "Called back, booked a new time"},
        headers=keys.header(keys.staff),
    )
    assert handled.status_code == 200, handled.text
    left = worklist(live, keys, reason=sorted(reasons))
    assert [item["reason"] for item in left] == ["cancel_request"]


def test_a_call_nobody_answers_with_no_step_left_before_the_visit_is_a_failure_to_act_on(
    live: LiveServer, keys: Keys, sim: TwilioSimulator
) -> None:
    sim.scenario_for(NEVER_ANSWERS, Scenario(answer="no-answer"))
    soon = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    appointment = reminder_body()["appointment"] | {"start": soon.isoformat()}
    # A second call would break the 1-a-day limit before the visit: the step is skipped.
    policy = {"steps": [{"channel": "phone", "wait_minutes": 60}]}
    failed = call(live, keys, NEVER_ANSWERS, appointment=appointment, escalation=policy)
    (item,) = wait_for(lambda: worklist(live, keys, reason="failed"), timeout_s=WAIT_S)
    assert item["reminder"]["id"] == failed and item["reminder"]["status"] == "failed"
    assert item["actions"] == ["handled", "call_back", "resend", "change_language"]
    assert len(sim.calls_to(NEVER_ANSWERS)) == 1


def test_a_dial_callback_without_twilios_signature_is_refused(live: LiveServer, keys: Keys) -> None:
    answer = live.post(
        "/v1/twilio/dial",
        params={"attempt": "0" * 32},
        data={"DialCallStatus": "no-answer"},
    )
    assert answer.status_code == 403
