"""The call limits and the lost-call lookup, decided against real records without waiting days.

Earlier calls are written with the times they would have had; the retry decision then runs
through ``Pipeline.settle`` exactly as a Twilio callback drives it. The lookup runs the
real ``TwilioChannel`` against the Twilio simulator over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from devtools.twilio_sim import TwilioSimulator
from service.app import create_app
from service.config import Settings
from service.db import utcnow
from service.models import Attempt, Reminder, Status
from tests.support.api import Keys, reminder_body
from tests.support.clock import OffsetClock
from workers import jobs
from workers.channels import PENDING, Delivery, Outcome
from workers.channels.twilio import TwilioChannel
from workers.pacing import Pacer

DAY = timedelta(days=1)
BACKOFF = timedelta(minutes=10)
LIMITS = {"calls_per_day": 2, "calls_per_week": 3, "call_retry_backoff_s": BACKOFF.total_seconds()}
BUSY = Outcome(status=Status.FAILED, provider_ref=None, detail="busy", retryable=True)


@pytest.fixture
def phone_client(make_settings: Callable[..., Settings], keys: Keys) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(**LIMITS))) as client:
        yield client


def dispatching_reminder(client: TestClient, keys: Keys) -> str:
    """A phone reminder mid-dispatch (sent tomorrow, so no worker touches it meanwhile)."""
    body = reminder_body(send_at=(utcnow() + DAY).isoformat())
    answer = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert answer.status_code == 202, answer.text
    reminder_id = str(answer.json()["id"])
    with jobs.pipeline().db.session() as session:
        session.execute(
            update(Reminder).where(Reminder.id == reminder_id).values(status=Status.DISPATCHING)
        )
    return reminder_id


def dialled(session: Session, reminder_id: str, at: datetime, outcome: str | None) -> Attempt:
    attempt = Attempt(
        reminder_id=reminder_id,
        channel="twilio",
        started_at=at,
        provider_ref=f"CA{at.timestamp():032.0f}",
        outcome=outcome,
    )
    session.add(attempt)
    session.flush()
    return attempt


def busy_now_after(
    client: TestClient, keys: Keys, *earlier: timedelta
) -> tuple[Reminder, datetime]:
    """Calls ``earlier`` ago were busy; the call placed just now is busy too: what next?"""
    reminder_id = dispatching_reminder(client, keys)
    pipeline = jobs.pipeline()
    now = utcnow()
    with pipeline.db.session() as session:
        for ago in earlier:
            dialled(session, reminder_id, now - ago, "busy")
        current = dialled(session, reminder_id, now, None)
        pipeline.settle(session, current.id, BUSY)
    with pipeline.db.session() as session:
        reminder = session.get_one(Reminder, reminder_id)
        session.expunge(reminder)
        return reminder, now


def test_second_call_within_a_day_waits_only_the_backoff(
    phone_client: TestClient, keys: Keys
) -> None:
    reminder, now = busy_now_after(phone_client, keys)
    assert reminder.status == Status.DISPATCHING
    assert reminder.lease_until is not None
    assert now + BACKOFF <= reminder.lease_until < now + BACKOFF + timedelta(seconds=5)


def test_third_call_waits_a_day_after_the_first_of_the_last_two(
    phone_client: TestClient, keys: Keys
) -> None:
    # 2 a day: busy 5 h ago and now, so the next call may come 24 h after the one 5 h ago.
    reminder, now = busy_now_after(phone_client, keys, timedelta(hours=5))
    assert reminder.status == Status.DISPATCHING
    assert reminder.lease_until == now - timedelta(hours=5) + DAY
    assert "calling again after" in (reminder.events[-1].detail or "")


def test_a_call_more_than_a_day_ago_does_not_count_for_the_day(
    phone_client: TestClient, keys: Keys
) -> None:
    reminder, now = busy_now_after(phone_client, keys, timedelta(hours=25))
    assert reminder.lease_until is not None
    assert reminder.lease_until < now + BACKOFF + timedelta(seconds=5)


def test_weekly_limit_ends_the_reminder_failed(phone_client: TestClient, keys: Keys) -> None:
    reminder, _ = busy_now_after(phone_client, keys, timedelta(days=6), timedelta(days=3))
    assert reminder.status == Status.FAILED
    assert "no more calls allowed" in (reminder.events[-1].detail or "")


class LateContact:
    """A call placed at mid-day, the patient's time, that was ``busy`` (to be tried again
    after the backoff) or ``unplaced`` (its worker died before the provider had it, its
    attempt left open); the workers are down until later, when its job runs."""

    def __init__(
        self, make_settings: Callable[..., Settings], keys: Keys, earlier: str, **changes: Any
    ) -> None:
        self.clock = OffsetClock()
        self.settings = make_settings(**LIMITS)
        self.keys = keys
        self.earlier = earlier
        soon = (utcnow() + timedelta(minutes=5)).isoformat()
        self.body = reminder_body(send_at=soon, **changes)

    def run(self, *skips: timedelta) -> dict[str, Any]:
        """The job, run after each of ``skips``; the reminder as staff see it."""
        app = create_app(self.settings, clock=self.clock, run_sweeper=False)
        with TestClient(app) as client:
            pipeline = jobs.pipeline()
            answer = client.post(
                "/v1/reminders", json=self.body, headers=self.keys.header(self.keys.scheduler)
            )
            reminder_id = answer.json()["id"]
            pipeline.render(reminder_id)  # ahead: ready, not yet due
            now = self.clock.now()
            with pipeline.db.session() as session:
                session.execute(
                    update(Reminder)
                    .where(Reminder.id == reminder_id)
                    .values(status=Status.DISPATCHING, lease_until=now)
                )
                if self.earlier == "busy":
                    pipeline.settle(session, dialled(session, reminder_id, now, None).id, BUSY)
                else:
                    session.add(Attempt(reminder_id=reminder_id, channel="outbox", started_at=now))
            for skip in skips:
                self.clock.skip(skip.total_seconds())
                pipeline.dispatch(reminder_id)
            shown = client.get(
                f"/v1/reminders/{reminder_id}", headers=self.keys.header(self.keys.staff)
            )
        return dict(shown.json())

    def calls_placed(self) -> int:
        return len(list(self.settings.outbox_dir.glob("*.json")))


EARLIER = {"busy": ["busy"], "unplaced": [None]}
"""How each earlier contact shows among the attempts while the job holds back."""


@pytest.mark.parametrize("earlier", EARLIER)
def test_a_late_job_at_night_waits_for_the_calling_hours(
    make_settings: Callable[..., Settings], keys: Keys, earlier: str
) -> None:
    late = LateContact(make_settings, keys, earlier)
    zone = ZoneInfo(late.body["patient"]["timezone"])
    night = (late.clock.now() + timedelta(hours=12)).astimezone(zone)  # about midnight
    opening_day = night.date() if night.time() < time(8) else night.date() + DAY
    opens = datetime.combine(opening_day, time(8), zone)

    held = late.run(timedelta(hours=12))

    assert held["status"] == "dispatching"
    assert [a["outcome"] for a in held["attempts"]] == EARLIER[earlier]
    assert late.calls_placed() == 0
    waiting = held["events"][-1]["detail"]
    assert waiting.startswith("outside the calling hours; waiting until ")
    assert datetime.fromisoformat(waiting.rsplit(" ", 1)[1]) == opens

    called = LateContact(make_settings, keys, earlier).run(timedelta(hours=12), opens - night)
    assert [a["outcome"] for a in called["attempts"]][-1] == "delivered"
    assert len(called["attempts"]) == len(EARLIER[earlier]) + (earlier == "busy")


def test_a_late_escalation_step_at_night_waits_as_that_step(
    make_settings: Callable[..., Settings], keys: Keys
) -> None:
    """With a policy its phone steps are the retries: the step's wait is a step event,
    which a scheduler with a callback_url hears as reminder.escalated."""
    policy = {"steps": [{"channel": "phone", "wait_minutes": 10}]}
    late = LateContact(make_settings, keys, "busy", escalation=policy)

    held = late.run(timedelta(hours=12))

    assert held["status"] == "dispatching" and late.calls_placed() == 0
    waiting = held["events"][-1]
    assert waiting["step"] == 1
    assert waiting["detail"].startswith("step 1 (phone): outside the calling hours; waiting until ")


@pytest.mark.parametrize("earlier", EARLIER)
def test_a_late_job_after_the_visit_began_calls_no_one(
    make_settings: Callable[..., Settings], keys: Keys, earlier: str
) -> None:
    late = LateContact(make_settings, keys, earlier)

    ended = late.run(timedelta(days=4))  # the visit was three days out

    assert ended["status"] == "failed"
    assert ended["events"][-1]["detail"] == "the appointment has begun; no more contact"
    assert [a["outcome"] for a in ended["attempts"]] == ["busy" if earlier == "busy" else "failed"]
    assert late.calls_placed() == 0


def test_lost_call_lookup_skips_a_call_another_attempt_owns(
    make_settings: Callable[..., Settings], keys: Keys
) -> None:
    """Two reminders for one patient: the first one's call, already recorded, is not taken
    for the second one's lost call; the second one's own call is."""
    sim = TwilioSimulator("AC" + "3" * 32, "sim-token", place_calls=False).start()
    settings = make_settings(
        twilio_account_sid=sim.account_sid,
        twilio_auth_token=sim.auth_token,
        twilio_from_number="+13125550199",
        twilio_api_base=sim.url,
    )
    try:
        with TestClient(create_app(settings)) as client:
            first, second = dispatching_reminder(client, keys), dispatching_reminder(client, keys)
            pipeline = jobs.pipeline()
            channel = TwilioChannel(
                settings, pipeline.db, Pacer(0), pipeline.links, pipeline.never_call
            )
            with jobs.pipeline().db.session() as session:
                owned = Attempt(reminder_id=first, channel="twilio")
                lost = Attempt(reminder_id=second, channel="twilio")
                session.add_all([owned, lost])
            placed = channel.send(delivery(owned.id, first))
            with jobs.pipeline().db.session() as session:
                session.get_one(Attempt, owned.id).provider_ref = placed.provider_ref
            assert channel.reconcile(lost.id) is None  # only the other attempt's call exists

            channel.send(delivery(lost.id, second))  # the worker dies before saving this
            found = channel.reconcile(lost.id)
            assert found is not None and found.status == PENDING
            (own_call,) = [c for c in sim.calls.values() if c.sid != placed.provider_ref]
            assert found.provider_ref == own_call.sid
    finally:
        sim.stop()


def delivery(attempt_id: str, reminder_id: str) -> Delivery:
    return Delivery(
        attempt_id=attempt_id,
        reminder_id=reminder_id,
        channel="phone",
        language="es",
        transcript="",
        audio_path=Path("unused"),
        audio_media_type="audio/wav",
        duration_s=1.0,
        audio_key="unused",
        audio_format="phone",
        to=reminder_body()["patient"]["phone"],
    )
