"""The reminders contract as a hospital's integration engineer would exercise it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select

from service.db import Database
from service.models import ApiKey, AuditEntry, Reminder
from tests.support.api import TIMESTAMP, Keys, reminder_body
from tests.support.waiting import wait_for


def test_accepted_reminder_answers_202_with_id_and_link(client: TestClient, keys: Keys) -> None:
    send_at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    body = reminder_body(
        send_at=send_at.isoformat(),
        channel="app",
        patient={**reminder_body()["patient"], "app_recipient_id": "u-1"},
    )
    response = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["status"] == "scheduled"
    assert datetime.fromisoformat(answer["send_at"]) == send_at
    assert answer["links"]["self"] == f"http://testserver/v1/reminders/{answer['id']}"

    shown = client.get(f"/v1/reminders/{answer['id']}", headers=keys.header(keys.scheduler))
    assert shown.status_code == 200
    reminder = shown.json()
    assert reminder["status"] == "scheduled"
    assert [e["status"] for e in reminder["events"]] == ["scheduled"]
    assert reminder["attempts"] == []
    assert reminder["message"] is None


def test_phone_reminder_at_night_moves_to_eight_in_the_morning(
    client: TestClient, keys: Keys
) -> None:
    chicago = ZoneInfo("America/Chicago")
    tomorrow = datetime.now(chicago).date() + timedelta(days=1)
    three_am = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 3, 0, tzinfo=chicago)
    body = reminder_body(send_at=three_am.isoformat())
    body["patient"]["timezone"] = "America/Chicago"
    response = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert response.status_code == 202, response.text
    moved = datetime.fromisoformat(response.json()["send_at"]).astimezone(chicago)
    assert (moved.date(), moved.hour, moved.minute) == (tomorrow, 8, 0)


def test_list_filters_by_external_id_and_pages_without_repeats(
    client: TestClient, keys: Keys
) -> None:
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for n in range(5):
        client.post(
            "/v1/reminders",
            json=reminder_body(external_id=f"batch-{n % 2}", send_at=later),
            headers=keys.header(keys.scheduler),
        )
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(
            "/v1/reminders", params=params, headers=keys.header(keys.scheduler)
        ).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    batch = client.get(
        "/v1/reminders", params={"external_id": "batch-0"}, headers=keys.header(keys.scheduler)
    ).json()
    assert len(batch["items"]) == 3
    assert {item["external_id"] for item in batch["items"]} == {"batch-0"}


def test_cancel_before_dispatch_then_cancel_again_is_harmless(
    client: TestClient, keys: Keys
) -> None:
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = client.post(
        "/v1/reminders", json=reminder_body(send_at=later), headers=keys.header(keys.scheduler)
    ).json()
    url = f"/v1/reminders/{created['id']}"
    cancelled = client.delete(url, headers=keys.header(keys.scheduler))
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = client.delete(url, headers=keys.header(keys.scheduler))
    assert again.status_code == 200
    events = [
        e["status"] for e in client.get(url, headers=keys.header(keys.admin)).json()["events"]
    ]
    assert events == ["scheduled", "cancelled"]


def test_every_read_is_audited_with_the_readers_key(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = client.post(
        "/v1/reminders", json=reminder_body(send_at=later), headers=keys.header(keys.scheduler)
    ).json()
    client.get(f"/v1/reminders/{created['id']}", headers=keys.header(keys.staff))
    client.get(f"/v1/reminders/{created['id']}", headers=keys.header(keys.admin))
    db = Database(database_url)
    with db.session() as session:
        readers = session.scalars(
            select(ApiKey.role)
            .join(AuditEntry, AuditEntry.actor_key_id == ApiKey.id)
            .where(AuditEntry.action == "reminder.read", AuditEntry.subject_id == created["id"])
            .order_by(AuditEntry.id)
        ).all()
        owner = session.scalar(
            select(ApiKey.role).join(Reminder, Reminder.owner_key_id == ApiKey.id)
        )
    db.dispose()
    assert readers == ["staff", "admin"]
    assert owner == "scheduler"  # who created it is on the reminder itself


def test_every_moment_is_answered_in_one_format(client: TestClient, keys: Keys) -> None:
    headers = {**keys.header(keys.scheduler), "Idempotency-Key": "appt-88123-r1"}
    body = reminder_body()
    accepted = client.post("/v1/reminders", json=body, headers=headers)
    replayed = client.post("/v1/reminders", json=body, headers=headers)
    assert accepted.status_code == replayed.status_code == 202, accepted.text
    assert replayed.json() == accepted.json()
    url = f"/v1/reminders/{accepted.json()['id']}"

    def delivered() -> dict[str, Any] | None:
        reminder: dict[str, Any] = client.get(url, headers=keys.header(keys.scheduler)).json()
        return reminder if reminder["status"] == "delivered" else None

    reminder = wait_for(delivered)
    (listed,) = client.get("/v1/reminders", headers=keys.header(keys.scheduler)).json()["items"]
    # An audio link is signed when it is read, so two reads a second apart differ in the
    # token; both must still play the same file.
    heard = [client.get(r["message"].pop("audio_url")).content for r in (listed, reminder)]
    assert heard[0] == heard[1] != b""
    assert listed == reminder
    moments = [
        accepted.json()["send_at"],
        reminder["send_at"],
        reminder["created_at"],
        *(event["at"] for event in reminder["events"]),
        *(attempt[key] for attempt in reminder["attempts"] for key in ("started_at", "ended_at")),
    ]
    assert len(moments) >= 8  # four events (scheduled to delivered) and one attempt
    for moment in moments:
        assert TIMESTAMP.fullmatch(moment), moment
    assert reminder["send_at"] == accepted.json()["send_at"]
