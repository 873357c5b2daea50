"""Reminders and previews that name their clinic by id, and keys limited to some clinics.

The clinic's record fills what the messages say (its spoken name, call-back number) and
how it calls (its caller ID, its calling hours, its time zone); an inline clinic works
exactly as before. (Calls from the clinic's caller ID: test_clinic_calls.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from devtools.timezones import daytime_zone
from service.app import create_app
from service.call_policy import CallingHours, CallPolicy
from service.config import Settings
from service.db import Database, utcnow
from service.models import Reminder, Status
from tests.support.api import Keys, count_reminders, preview_body, reminder_body
from tests.support.clinics import add_clinic, limited_key
from tests.support.clock import OffsetClock
from workers import jobs

CALLER_ID = "+13125550177"


@pytest.fixture
def app_client(settings: Settings, keys: Keys, clock: OffsetClock) -> Iterator[TestClient]:
    """The app on the test's clock, with no sweeper: only the test moves a reminder."""
    with TestClient(create_app(settings, run_sweeper=False, clock=clock)) as test_client:
        yield test_client


def by_clinic(clinic_id: str = "riverside", **changes: Any) -> dict[str, Any]:
    """A reminder naming its clinic by id and leaving the time zone to it."""
    body = reminder_body(clinic={"id": clinic_id}, **changes)
    del body["patient"]["timezone"]
    return body


def stored_reminder(database_url: str, reminder_id: str) -> Reminder:
    db = Database(database_url)
    with db.session() as session:
        reminder = session.get_one(Reminder, reminder_id)
        session.expunge(reminder)
    db.dispose()
    return reminder


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


def test_a_clinic_by_id_fills_the_facts(
    app_client: TestClient, keys: Keys, database_url: str
) -> None:
    zone = daytime_zone()
    add_clinic(
        app_client, keys.admin, timezone=zone, calling_hours={"start": "08:00", "end": "21:00"}
    )
    answer = app_client.post("/v1/reminders", json=by_clinic(), headers=keys.header(keys.scheduler))
    assert answer.status_code == 202, answer.text
    facts = stored_reminder(database_url, answer.json()["id"]).facts
    assert facts["clinic"] == {
        "id": "riverside",
        "name": "River side clinic",
        "callback_phone": "+13125550100",
        "caller_id": CALLER_ID,
        "calling_hours": {"start": "08:00", "end": "21:00"},
    }
    assert facts["patient"]["timezone"] == zone
    # Editing the clinic later does not change a reminder already made.
    patched = app_client.patch(
        "/v1/clinics/riverside", json={"caller_id": None}, headers=keys.header(keys.admin)
    )
    assert patched.status_code == 200
    assert stored_reminder(database_url, answer.json()["id"]).facts["clinic"]["caller_id"]


def test_an_unknown_or_deleted_clinic_is_refused_on_clinic_id(
    app_client: TestClient, keys: Keys, database_url: str
) -> None:
    scheduler = keys.header(keys.scheduler)
    unknown = app_client.post("/v1/reminders", json=by_clinic("nowhere"), headers=scheduler)
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["errors"]] == ["clinic.id"]
    add_clinic(app_client, keys.admin)
    app_client.delete("/v1/clinics/riverside", headers=keys.header(keys.admin))
    deleted = app_client.post("/v1/reminders", json=by_clinic(), headers=scheduler)
    assert deleted.status_code == 422
    assert [e["field"] for e in deleted.json()["errors"]] == ["clinic.id"]
    malformed = app_client.post("/v1/reminders", json=by_clinic("Not A Slug"), headers=scheduler)
    assert [e["field"] for e in malformed.json()["errors"]] == ["clinic.id"]
    assert count_reminders(database_url) == 0


def test_inline_clinics_work_as_before(app_client: TestClient, keys: Keys) -> None:
    scheduler = keys.header(keys.scheduler)
    body = reminder_body()
    del body["patient"]["timezone"]
    no_zone = app_client.post("/v1/reminders", json=body, headers=scheduler)
    assert no_zone.status_code == 422
    assert [e["field"] for e in no_zone.json()["errors"]] == ["patient.timezone"]
    bad_phone = reminder_body(clinic={"name": "Riverside", "callback_phone": "12"})
    refused = app_client.post("/v1/reminders", json=bad_phone, headers=scheduler)
    assert [e["field"] for e in refused.json()["errors"]] == ["clinic.callback_phone"]
    mixed = reminder_body(clinic={"id": "riverside", "name": "Riverside"})
    refused = app_client.post("/v1/reminders", json=mixed, headers=scheduler)
    assert [e["field"] for e in refused.json()["errors"]] == ["clinic.name"]
    assert (
        app_client.post("/v1/reminders", json=reminder_body(), headers=scheduler).status_code == 202
    )


def test_a_limited_key_uses_only_its_clinics_and_only_by_id(
    app_client: TestClient, keys: Keys, database_url: str
) -> None:
    add_clinic(app_client, keys.admin)
    add_clinic(app_client, keys.admin, id="lakeside", display_name="Lakeside")
    limited = keys.header(limited_key(database_url, "riverside"))
    assert app_client.post("/v1/reminders", json=by_clinic(), headers=limited).status_code == 202
    other = app_client.post("/v1/reminders", json=by_clinic("lakeside"), headers=limited)
    assert other.status_code == 403 and "lakeside" in other.json()["detail"]
    inline = app_client.post("/v1/reminders", json=reminder_body(), headers=limited)
    assert inline.status_code == 403 and "by id" in inline.json()["detail"]
    assert count_reminders(database_url) == 1
    # An unlimited scheduler key may use any clinic, inline or by id.
    anyone = keys.header(keys.scheduler)
    assert (
        app_client.post("/v1/reminders", json=by_clinic("lakeside"), headers=anyone).status_code
        == 202
    )


def test_the_clinic_calling_hours_move_the_first_send_time(
    app_client: TestClient, keys: Keys, database_url: str
) -> None:
    zone = daytime_zone()  # mid-day there now: inside the service's window
    add_clinic(
        app_client, keys.admin, timezone=zone, calling_hours={"start": "08:30", "end": "12:00"}
    )
    scheduler = keys.header(keys.scheduler)
    inline = app_client.post(
        "/v1/reminders",
        json=reminder_body(patient={**reminder_body()["patient"], "timezone": zone}),
        headers=scheduler,
    )
    assert inline.status_code == 202
    sent_inline = datetime.fromisoformat(inline.json()["send_at"])
    assert abs(sent_inline - utcnow()) < timedelta(minutes=5)

    answer = app_client.post("/v1/reminders", json=by_clinic(), headers=scheduler)
    assert answer.status_code == 202, answer.text
    send_at = local(datetime.fromisoformat(answer.json()["send_at"]), zone)
    tomorrow = local(utcnow(), zone).date() + timedelta(days=1)
    assert (send_at.date(), send_at.time()) == (tomorrow, time(8, 30))


def test_the_dispatcher_holds_a_call_outside_the_clinic_hours(
    app_client: TestClient, keys: Keys, database_url: str, clock: OffsetClock
) -> None:
    zone = daytime_zone()  # 13:xx there now
    add_clinic(
        app_client, keys.admin, timezone=zone, calling_hours={"start": "08:00", "end": "15:00"}
    )
    tomorrow = (utcnow() + timedelta(days=1)).isoformat()
    answer = app_client.post(
        "/v1/reminders", json=by_clinic(send_at=tomorrow), headers=keys.header(keys.scheduler)
    )
    assert answer.status_code == 202, answer.text
    reminder_id = answer.json()["id"]
    pipeline = jobs.pipeline()
    with pipeline.db.session() as session:  # rendered; now due to be called
        session.execute(
            update(Reminder).where(Reminder.id == reminder_id).values(status=Status.READY)
        )
    clock.skip(timedelta(days=1, hours=3).total_seconds())  # 16:xx tomorrow there
    now = clock.now()
    assert pipeline.call_policy.window.next_allowed(now, zone) == now  # the service would call

    pipeline.dispatch(reminder_id)
    held = stored_reminder(database_url, reminder_id)
    assert held.status == Status.READY and held.attempts == []
    opens = local(held.send_at, zone)
    assert (opens.date(), opens.time()) == (local(now, zone).date() + timedelta(days=1), time(8))


def test_retries_stay_inside_the_clinic_hours() -> None:
    policy = CallPolicy(8, 21, calls_per_day=3, calls_per_week=5, retry_backoff=timedelta(hours=1))
    zone = "America/Chicago"
    busy_at = datetime(2026, 12, 3, 11, 30, tzinfo=ZoneInfo(zone))
    hours = policy.calling_hours({"clinic": {"calling_hours": {"start": "09:00", "end": "12:00"}}})
    assert hours == CallingHours(time(9), time(12))
    retry = policy.next_call_at([busy_at], busy_at, zone, None, hours)
    assert retry is not None and local(retry, zone) == datetime(
        2026, 12, 4, 9, tzinfo=ZoneInfo(zone)
    )
    inline = policy.next_call_at(
        [busy_at], busy_at, zone, None, policy.calling_hours({"clinic": {}})
    )
    assert inline is not None and local(inline, zone) == busy_at + timedelta(hours=1)


def test_a_preview_by_clinic_id_speaks_the_spoken_name(app_client: TestClient, keys: Keys) -> None:
    add_clinic(app_client, keys.admin)
    body = preview_body(clinic={"id": "riverside"})
    del body["patient"]["timezone"]
    answer = app_client.post("/v1/previews", json=body, headers=keys.header(keys.staff))
    assert answer.status_code == 200, answer.text
    assert "River side clinic" in answer.json()["text"]
    unknown = app_client.post(
        "/v1/previews", json=preview_body(clinic={"id": "nowhere"}), headers=keys.header(keys.staff)
    )
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["errors"]] == ["clinic.id"]
