"""A clinic's calls come from its own number: placed, and looked up again, through the
Twilio simulator (which checks every request against Twilio's API description)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from devtools.timezones import daytime_zone
from devtools.twilio_sim import TwilioSimulator
from service.app import create_app
from service.config import Settings
from service.db import utcnow
from service.models import Attempt
from tests.support.api import Keys, LiveServer, reminder_body
from tests.support.clinics import add_clinic
from tests.support.phone import FROM_NUMBER, phone_settings
from tests.support.waiting import wait_for
from tests.support.workers import run_burst_worker, settings_env
from workers import jobs
from workers.channels import PENDING, Delivery
from workers.channels.twilio import TwilioChannel
from workers.pacing import Pacer

PATIENT = "+13125550123"
CALLER_ID = "+13125550177"


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings], redis_url: str, sim: TwilioSimulator
) -> Settings:
    return phone_settings(make_settings, redis_url, sim)


def by_clinic() -> dict[str, object]:
    body = reminder_body(clinic={"id": "riverside"})
    del body["patient"]["timezone"]
    return body


@pytest.mark.redis
def test_a_call_comes_from_the_clinic_caller_id(
    live_server: LiveServer, keys: Keys, settings: Settings, sim: TwilioSimulator
) -> None:
    with live_server.client() as http:
        add_clinic(http, keys.admin, timezone=daytime_zone())
        answer = http.post("/v1/reminders", json=by_clinic(), headers=keys.header(keys.scheduler))
        assert answer.status_code == 202, answer.text
        run_burst_worker(settings, settings_env(settings))
        (call,) = sim.calls_to(PATIENT)
        assert call.param("From") == CALLER_ID != FROM_NUMBER
        sim.wait_idle()
        assert sim.problems == []
        reminder_url = f"/v1/reminders/{answer.json()['id']}"
        staff = keys.header(keys.staff)
        done = wait_for(
            lambda: (r := http.get(reminder_url, headers=staff).json())["attempts"] and r
        )
        assert done["attempts"][0]["channel"] == "twilio"


def test_a_lost_call_is_found_under_the_clinic_caller_id(
    make_settings: Callable[..., Settings], keys: Keys
) -> None:
    """The worker died before saving the call's id: the lookup must search the calls from
    the clinic's number, not the service's, or the patient would be called twice."""
    sim = TwilioSimulator("AC" + "4" * 32, "sim-token", place_calls=False).start()
    settings = make_settings(
        twilio_account_sid=sim.account_sid,
        twilio_auth_token=sim.auth_token,
        twilio_from_number=FROM_NUMBER,
        twilio_api_base=sim.url,
    )
    try:
        with TestClient(create_app(settings, run_sweeper=False)) as client:
            add_clinic(client, keys.admin, timezone=daytime_zone())
            # Sent tomorrow, so no worker touches it meanwhile.
            body = by_clinic() | {"send_at": (utcnow() + timedelta(days=1)).isoformat()}
            answer = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
            assert answer.status_code == 202, answer.text
            reminder_id = answer.json()["id"]
            pipeline = jobs.pipeline()
            channel = TwilioChannel(
                settings, pipeline.db, Pacer(0), pipeline.links, pipeline.never_call
            )
            with pipeline.db.session() as session:
                lost = Attempt(reminder_id=reminder_id, channel="twilio")
                session.add(lost)
            placed = channel.send(
                Delivery(
                    attempt_id=lost.id,
                    reminder_id=reminder_id,
                    channel="phone",
                    language="es",
                    transcript="",
                    audio_path=Path("unused"),
                    audio_media_type="audio/wav",
                    duration_s=1.0,
                    audio_key="unused",
                    audio_format="phone",
                    to=PATIENT,
                    caller_id=CALLER_ID,
                )
            )
            found = channel.reconcile(lost.id)  # the attempt row never got the call's id
            assert found is not None and found.status == PENDING
            assert found.provider_ref == placed.provider_ref
    finally:
        sim.stop()
