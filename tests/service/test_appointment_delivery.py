"""Planned reminders are ordinary reminders: the sweeper finds them when due, the real
renderer speaks them (espeak-ng) and the local outbox delivers them, with the clinic's
facts; a moved visit the patient heard about is delivered as one change message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from devtools.timezones import daytime_zone
from tests.support.api import Keys
from tests.support.appointments import appointment_body
from tests.support.clinics import store_clinic
from tests.support.clock import OffsetClock
from tests.support.waiting import wait_for

URL = "/v1/appointments/riverside/A-1"
LEAD_S = 120
"""The reminder is planned this far ahead; the clock skips past it instead of waiting."""


def test_a_planned_reminder_and_a_change_notice_reach_the_patient(
    client: TestClient, keys: Keys, database_url: str, clock: OffsetClock
) -> None:
    store_clinic(database_url, schedule={"appointment_reminder": [{"hours_before": 2}]})
    start = (datetime.now(UTC) + timedelta(hours=2, seconds=LEAD_S)).replace(microsecond=0)
    body = appointment_body(start)
    body["patient"] |= {"timezone": daytime_zone(), "language": "en", "name": "Ana Ruiz"}
    header = keys.header(keys.scheduler)
    created = client.put(URL, json=body, headers=header)
    assert created.status_code == 201, created.text
    (planned,) = created.json()["reminders"]
    assert planned["status"] == "scheduled"

    clock.skip(LEAD_S + 1)
    staff = keys.header(keys.staff)

    def status_of(reminder_id: str) -> str:
        answer: str = client.get(f"/v1/reminders/{reminder_id}", headers=staff).json()["status"]
        return answer

    wait_for(lambda: status_of(planned["id"]) == "delivered")
    message = client.get(f"/v1/reminders/{planned['id']}", headers=staff).json()["message"]
    assert "Ana Ruiz" in message["text"] and "Riverside Clinic" in message["text"]

    moved = client.put(
        URL,
        json={**body, "start": (start + timedelta(days=1)).isoformat(), "version": 2},
        headers=header,
    )
    changed = [r for r in moved.json()["reminders"] if r["kind"] == "appointment_changed"]
    assert len(changed) == 1
    wait_for(lambda: status_of(changed[0]["id"]) == "delivered")
    text = client.get(f"/v1/reminders/{changed[0]['id']}", headers=staff).json()["message"]["text"]
    assert "Ana Ruiz" in text
