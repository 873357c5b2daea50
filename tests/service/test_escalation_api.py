"""Escalation policies through the API: per clinic (admin), per reminder, and the 422s
that name the field, with nothing stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from service.app import create_app
from service.config import Settings
from service.db import Database, utcnow
from service.models import Reminder, step_event
from tests.support.api import Keys, reminder_body
from tests.support.clinics import clinic_body

POLICY = {
    "steps": [
        {"channel": "phone", "wait_minutes": 180},
        {"channel": "sms", "wait_minutes": 60},
        {"channel": "staff", "wait_minutes": 240},
    ],
    "on_voicemail": "continue",
}


def problems(answer: Any) -> dict[str, str]:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    return {error["field"]: error["message"] for error in answer.json()["errors"]}


def reminders_stored(database_url: str) -> int:
    with Database(database_url).session() as session:
        return int(session.scalar(select(func.count()).select_from(Reminder)) or 0)


def test_a_clinic_keeps_its_policy_and_a_patch_can_clear_it(client: TestClient, keys: Keys) -> None:
    admin = keys.header(keys.admin)
    created = client.post("/v1/clinics", json=clinic_body(escalation=POLICY), headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["escalation"] == POLICY
    plain = client.post("/v1/clinics", json=clinic_body(id="lakeside"), headers=admin).json()
    assert plain["escalation"] is None  # no policy: today's behaviour
    cleared = client.patch("/v1/clinics/riverside", json={"escalation": None}, headers=admin)
    assert cleared.status_code == 200 and cleared.json()["escalation"] is None
    audit = client.get("/v1/audit", params={"action": "clinic.update"}, headers=admin).json()
    assert audit["items"][0]["detail"] == {"fields": ["escalation"]}
    refused = client.patch(
        "/v1/clinics/riverside", json={"escalation": {"steps": [{"channel": "fax"}]}}, headers=admin
    )
    found = problems(refused)
    assert "escalation.steps.0.channel" in found and "escalation.steps.0.wait_minutes" in found
    staff = client.patch(
        "/v1/clinics/riverside", json={"escalation": POLICY}, headers=keys.header(keys.staff)
    )
    assert staff.status_code == 403


def test_a_reminder_by_clinic_id_takes_the_clinic_policy_and_may_override_it(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    client.post("/v1/clinics", json=clinic_body(escalation=POLICY), headers=keys.header(keys.admin))
    scheduler = keys.header(keys.scheduler)
    body = reminder_body(clinic={"id": "riverside"})
    taken = client.post("/v1/reminders", json=body, headers=scheduler)
    assert taken.status_code == 202, taken.text
    off = client.post("/v1/reminders", json=body | {"escalation": {"steps": []}}, headers=scheduler)
    assert off.status_code == 202, off.text
    with Database(database_url).session() as session:
        facts = {r.id: r.facts for r in session.scalars(select(Reminder))}
    assert facts[taken.json()["id"]]["clinic"]["escalation"] == POLICY
    assert facts[off.json()["id"]]["escalation"] == {"steps": [], "on_voicemail": "stop"}
    read = client.get(f"/v1/reminders/{taken.json()['id']}", headers=keys.header(keys.staff))
    assert read.json()["escalation_step"] == 0
    assert read.json()["events"][0]["step"] is None


def test_a_reminder_policy_that_could_never_run_is_a_422_naming_the_step(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    scheduler = keys.header(keys.scheduler)
    app_reminder = reminder_body(
        channel="app",
        escalation={
            "steps": [
                {"channel": "phone", "wait_minutes": 60},
                {"channel": "sms", "wait_minutes": 5},
            ]
        },
    )
    app_reminder["patient"] = app_reminder["patient"] | {"phone": None, "app_recipient_id": "u-1"}
    found = problems(client.post("/v1/reminders", json=app_reminder, headers=scheduler))
    assert found == {
        "escalation.steps.0.channel": "needs patient.phone",
        "escalation.steps.1.channel": "needs patient.phone",
    }
    phone_only = reminder_body(escalation={"steps": [{"channel": "app", "wait_minutes": 5}]})
    found = problems(client.post("/v1/reminders", json=phone_only, headers=scheduler))
    assert found == {"escalation.steps.0.channel": "needs patient.app_recipient_id"}
    staff_first = reminder_body(
        escalation={
            "steps": [
                {"channel": "staff", "wait_minutes": 5},
                {"channel": "sms", "wait_minutes": 5},
            ]
        }
    )
    found = problems(client.post("/v1/reminders", json=staff_first, headers=scheduler))
    assert "a staff step can only be the last" in found["escalation.steps"]
    too_long = reminder_body(escalation={"steps": [{"channel": "sms", "wait_minutes": 10081}]})
    assert "escalation.steps.0.wait_minutes" in problems(
        client.post("/v1/reminders", json=too_long, headers=scheduler)
    )
    assert reminders_stored(database_url) == 0


def test_only_a_reminder_still_in_its_loop_can_be_marked_handled(
    client: TestClient, keys: Keys
) -> None:
    tomorrow = (utcnow() + timedelta(days=1)).isoformat()
    created = client.post(
        "/v1/reminders", json=reminder_body(send_at=tomorrow), headers=keys.header(keys.scheduler)
    )
    handled = f"/v1/reminders/{created.json()['id']}/handled"
    # A reminder not yet under way is its scheduler's to cancel, not staff's to handle.
    too_early = client.post(handled, headers=keys.header(keys.staff))
    assert too_early.status_code == 409
    assert too_early.json()["type"].endswith("not-handleable")
    assert client.post(handled, headers=keys.header(keys.scheduler)).status_code == 403
    missing = client.post("/v1/reminders/" + "0" * 32 + "/handled", headers=keys.header(keys.staff))
    assert missing.status_code == 404


def test_a_read_never_shows_a_step_event_without_its_step(
    make_settings: Callable[..., Settings], keys: Keys, database_url: str, redis_url: str
) -> None:
    """The worker writes a step's number and its event in one transaction; a read that
    lands while it commits shows both or neither (it once showed the event of a step the
    reminder was not yet on, under PostgreSQL's READ COMMITTED). With Redis the app runs
    no worker or sweeper, so the only reads of the reminder are the requests'."""
    with TestClient(create_app(make_settings(redis_url=redis_url))) as client:
        read, listed = read_while_a_step_commits(client, keys, database_url)
    step_events = [e for e in read["events"] if e["step"] == 1]
    assert (read["escalation_step"] == 1) == bool(step_events), read
    assert listed["escalation_step"] == 1 and listed["events"][-1]["step"] == 1


def read_while_a_step_commits(
    client: TestClient, keys: Keys, database_url: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The reminder as ``GET`` shows it when the worker's step commits just after the
    reminder's row was read, and then as the list shows it."""
    client.post("/v1/clinics", json=clinic_body(escalation=POLICY), headers=keys.header(keys.admin))
    body = reminder_body(clinic={"id": "riverside"})
    taken = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    reminder_id = taken.json()["id"]
    worker = Database(database_url)
    commits_during_the_read: list[bool] = []

    def commit_a_step(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if commits_during_the_read or "FROM reminders" not in statement:
            return
        with worker.session() as session:  # the worker's transaction, mid-read
            reminder = session.get(Reminder, reminder_id)
            assert reminder is not None
            reminder.escalation_step = 1
            step_event(session, reminder, 1, "no answer; text message after 09:00")
        commits_during_the_read.append(True)

    engine = client.app.state.services.db.engine  # type: ignore[attr-defined]
    event.listen(engine, "after_cursor_execute", commit_a_step)
    try:
        read = client.get(f"/v1/reminders/{reminder_id}", headers=keys.header(keys.staff))
    finally:
        event.remove(engine, "after_cursor_execute", commit_a_step)
        worker.dispose()
    assert commits_during_the_read, "the read never reached the reminder's row"
    listed = client.get("/v1/reminders", headers=keys.header(keys.staff)).json()["items"]
    return read.json(), listed[0]
