"""Free text in another language than the message: warned in the reminder's answer and the
preview, or refused by a clinic that asks for it (``refuse_other_language_text``).

The Spanish message of issue 15 said "Venga a: Second floor, suite 210. Bring your
medicine list." and its preview said "No warnings".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.api import Keys, count_reminders, preview_body, reminder_body
from tests.support.clinics import add_clinic

SPANISH = {"location": "Segundo piso, consultorio 210", "instructions": "Traiga su lista."}


def in_spanish(body: dict[str, Any]) -> dict[str, Any]:
    body["appointment"].update(SPANISH)
    return body


def by_clinic(body: dict[str, Any]) -> dict[str, Any]:
    body["clinic"] = {"id": "riverside"}
    return body


def test_the_issue_example_is_accepted_with_a_warning_per_field(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    body = reminder_body()  # Spanish, with the clinic's English location and instructions
    answer = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert answer.status_code == 202, answer.text
    warnings = answer.json()["warnings"]
    assert len(warnings) == 2
    assert warnings[0].startswith("appointment.location reads as English ('en'")
    assert warnings[1].startswith("appointment.instructions reads as English ('en'")
    assert all("not the message's language ('es')" in warning for warning in warnings)
    assert count_reminders(database_url) == 1


def test_text_in_the_message_language_brings_no_warning(client: TestClient, keys: Keys) -> None:
    answer = client.post(
        "/v1/reminders", json=in_spanish(reminder_body()), headers=keys.header(keys.scheduler)
    )
    assert answer.status_code == 202 and answer.json()["warnings"] == []


def test_a_replayed_request_answers_the_same_warnings(client: TestClient, keys: Keys) -> None:
    headers = keys.header(keys.scheduler) | {"Idempotency-Key": "words-1"}
    body = reminder_body()
    first = client.post("/v1/reminders", json=body, headers=headers)
    again = client.post("/v1/reminders", json=body, headers=headers)
    assert first.status_code == 202 and again.json() == first.json()
    assert len(again.json()["warnings"]) == 2


def test_the_preview_warns_instead_of_saying_no_warnings(client: TestClient, keys: Keys) -> None:
    answer = client.post("/v1/previews", json=preview_body(), headers=keys.header(keys.staff))
    assert answer.status_code == 200, answer.text
    warnings = answer.json()["warnings"]
    assert [w.split(" ")[0] for w in warnings[:2]] == [
        "appointment.location",
        "appointment.instructions",
    ]
    assert "English" in warnings[0]
    assert "Second floor, suite 210" in answer.json()["text"]  # still rendered, as sent
    spanish = client.post(
        "/v1/previews", json=in_spanish(preview_body()), headers=keys.header(keys.staff)
    )
    assert not [w for w in spanish.json()["warnings"] if w.startswith("appointment.")]


def test_a_clinic_that_refuses_it_answers_422_naming_field_and_language(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    add_clinic(client, keys.admin, refuse_other_language_text=True)
    answer = client.post(
        "/v1/reminders", json=by_clinic(reminder_body()), headers=keys.header(keys.scheduler)
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    errors = {e["field"]: e["message"] for e in answer.json()["errors"]}
    assert set(errors) == {"appointment.location", "appointment.instructions"}
    assert errors["appointment.instructions"].startswith("reads as English ('en'")
    assert "not 'es'" in errors["appointment.instructions"]
    assert count_reminders(database_url) == 0
    accepted = client.post(
        "/v1/reminders",
        json=in_spanish(by_clinic(reminder_body())),
        headers=keys.header(keys.scheduler),
    )
    assert accepted.status_code == 202 and accepted.json()["warnings"] == []


def test_the_preview_of_a_refusing_clinic_says_it_would_be_refused(
    client: TestClient, keys: Keys
) -> None:
    add_clinic(client, keys.admin, refuse_other_language_text=True)
    answer = client.post(
        "/v1/previews", json=by_clinic(preview_body()), headers=keys.header(keys.staff)
    )
    assert answer.status_code == 200
    assert any("This clinic refuses such reminders" in w for w in answer.json()["warnings"])


def test_the_setting_is_off_by_default_and_an_admin_turns_it_on(
    client: TestClient, keys: Keys
) -> None:
    admin = keys.header(keys.admin)
    assert add_clinic(client, keys.admin)["refuse_other_language_text"] is False
    patched = client.patch(
        "/v1/clinics/riverside", json={"refuse_other_language_text": True}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    assert client.get("/v1/clinics/riverside", headers=admin).json()["refuse_other_language_text"]
    refused = client.post(
        "/v1/reminders", json=by_clinic(reminder_body()), headers=keys.header(keys.scheduler)
    )
    assert refused.status_code == 422
    wrong = client.patch(
        "/v1/clinics/riverside", json={"refuse_other_language_text": "sometimes"}, headers=admin
    )
    assert wrong.status_code == 422
    assert [e["field"] for e in wrong.json()["errors"]] == ["refuse_other_language_text"]


def test_room_numbers_bring_no_warning_in_any_language(client: TestClient, keys: Keys) -> None:
    for language in ("es", "fr", "zh", "ar", "ru"):
        body = reminder_body(language=language)
        body["appointment"].update(location="Suite 210", instructions=None)
        answer = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
        assert answer.status_code == 202, answer.text
        assert answer.json()["warnings"] == [], language


@pytest.mark.parametrize(
    ("previous", "message"),
    [
        ("0001-01-01T00:00:00+09:00", "must be between the years 2000 and 2100"),
        ("three years ago", "is more than two years from now"),
    ],
)
def test_a_previous_start_far_away_is_refused_by_the_preview_too(
    client: TestClient, keys: Keys, previous: str, message: str
) -> None:
    if previous == "three years ago":
        previous = (datetime.now(UTC) - timedelta(days=3 * 365)).isoformat()
    body = preview_body(kind="appointment_changed")
    body["appointment"]["previous_start"] = previous
    body["patient"]["timezone"] = "Asia/Tokyo"
    answer = client.post("/v1/previews", json=body, headers=keys.header(keys.staff))
    assert answer.status_code == 422
    errors = {e["field"]: e["message"] for e in answer.json()["errors"]}
    assert errors["appointment.previous_start"].startswith(message)
