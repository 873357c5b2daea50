"""appointment_changed and appointment_cancelled through the API: accepted, checked, previewed."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from tests.support.api import Keys, count_reminders, reminder_body

NEW_KINDS = ("appointment_changed", "appointment_cancelled")


def body_for(kind: str, **appointment: Any) -> dict[str, Any]:
    body = reminder_body(kind=kind, language="en")
    body["appointment"].update(appointment)
    return body


def errors_of(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def test_a_changed_visit_with_its_previous_time_is_accepted_and_stored(
    client: TestClient, keys: Keys
) -> None:
    body = reminder_body(kind="appointment_changed")
    start = datetime.fromisoformat(body["appointment"]["start"])
    body["appointment"]["previous_start"] = (start - timedelta(days=1)).isoformat()
    response = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert response.status_code == 202, response.text
    stored = client.get(
        f"/v1/reminders/{response.json()['id']}", headers=keys.header(keys.scheduler)
    ).json()
    assert stored["kind"] == "appointment_changed"


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_the_new_kinds_need_a_future_appointment(
    client: TestClient, keys: Keys, database_url: str, kind: str
) -> None:
    missing = reminder_body(kind=kind)
    del missing["appointment"]
    response = client.post("/v1/reminders", json=missing, headers=keys.header(keys.scheduler))
    assert errors_of(response)["appointment"] == f"is required for {kind}"
    past = body_for(kind, start=(datetime.now(UTC) - timedelta(hours=1)).isoformat())
    response = client.post("/v1/reminders", json=past, headers=keys.header(keys.scheduler))
    assert "past" in errors_of(response)["appointment.start"]
    with_result = reminder_body(kind=kind, result={"ordered_by": "Dr. Chen"})
    response = client.post("/v1/reminders", json=with_result, headers=keys.header(keys.scheduler))
    assert "result" in errors_of(response)
    assert count_reminders(database_url) == 0


@pytest.mark.parametrize("kind", ["appointment_reminder", "appointment_cancelled"])
def test_previous_start_belongs_to_a_changed_visit_only(
    client: TestClient, keys: Keys, kind: str
) -> None:
    body = reminder_body(kind=kind)
    body["appointment"]["previous_start"] = body["appointment"]["start"]
    response = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert errors_of(response)["appointment.previous_start"] == "is only for appointment_changed"


def test_a_change_to_the_same_time_is_no_change(client: TestClient, keys: Keys) -> None:
    body = reminder_body(kind="appointment_changed")
    body["appointment"]["previous_start"] = body["appointment"]["start"]
    response = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert "same" in errors_of(response)["appointment.previous_start"]


def test_a_previous_start_without_a_zone_is_refused(client: TestClient, keys: Keys) -> None:
    body = reminder_body(kind="appointment_changed")
    body["appointment"]["previous_start"] = "2030-01-01T10:00:00"
    response = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert "appointment.previous_start" in errors_of(response)


def test_languages_offer_the_new_kinds(client: TestClient, keys: Keys) -> None:
    languages = client.get("/v1/languages", headers=keys.header(keys.scheduler)).json()
    for language in languages:
        assert set(NEW_KINDS) <= set(language["kinds"]), language["code"]
        assert language["reviewed"] is False


def test_a_changed_visit_preview_says_both_times(client: TestClient, keys: Keys) -> None:
    body = reminder_body(kind="appointment_changed", language="en", variant="app")
    del body["external_id"]
    chicago = ZoneInfo("America/Chicago")
    soon = datetime.now(chicago) + timedelta(days=20)  # within the year: said without it
    tuesday = soon + timedelta(days=(1 - soon.weekday()) % 7)
    start = datetime(tuesday.year, tuesday.month, tuesday.day, 14, 30, tzinfo=chicago)
    previous = datetime.combine(start.date() - timedelta(days=2), time(10, 30), chicago)
    body["patient"]["timezone"] = "America/Chicago"
    body["appointment"]["start"] = start.isoformat()
    body["appointment"]["previous_start"] = previous.isoformat()
    response = client.post("/v1/previews", json=body, headers=keys.header(keys.staff))
    assert response.status_code == 200, response.text
    preview = response.json()
    said_before = f"It was on Sunday, {previous:%B} {previous.day}, at 10:30 AM."
    assert said_before in preview["text"]
    assert f"Your visit is on Tuesday, {start:%B} {start.day}, at 2:30 PM." in preview["text"]
    assert preview["reviewed"] is False


def test_a_cancellation_voicemail_preview_says_only_the_minimum(
    client: TestClient, keys: Keys
) -> None:
    body = reminder_body(kind="appointment_cancelled", language="es", variant="voicemail")
    del body["external_id"]
    response = client.post("/v1/previews", json=body, headers=keys.header(keys.staff))
    assert response.status_code == 200, response.text
    text = response.json()["text"]
    assert "Cancelamos su cita" in text and "Riverside Clinic" in text
    for detail in ("Chen", "210", "medicine", "López"):
        assert detail not in text
