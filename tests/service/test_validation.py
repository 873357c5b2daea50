"""Bad input gets a problem+json that names the field, and nothing is stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.api import Keys, count_reminders, reminder_body


def without(body: dict[str, Any], dotted: str) -> dict[str, Any]:
    *path, last = dotted.split(".")
    target = body
    for part in path:
        target = target[part]
    del target[last]
    return body


def patched(dotted: str, value: Any) -> dict[str, Any]:
    body = reminder_body()
    *path, last = dotted.split(".")
    target = body
    for part in path:
        target = target[part]
    target[last] = value
    return body


PAST = (datetime.now(UTC) - timedelta(days=1)).isoformat()

CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("phone not E.164", patched("patient.phone", "(312) 555-0123"), "patient.phone", "E.164"),
    ("phone impossible", patched("patient.phone", "+1555"), "patient.phone", "E.164"),
    (
        "clinic phone bad",
        patched("clinic.callback_phone", "call us"),
        "clinic.callback_phone",
        "E.164",
    ),
    ("time zone unknown", patched("patient.timezone", "Mars/Olympus"), "patient.timezone", "IANA"),
    (
        "time zone as a path",
        patched("patient.timezone", "../../etc/passwd"),
        "patient.timezone",
        "IANA",
    ),
    ("language unsupported", patched("language", "xx"), "language", "must be one of"),
    (
        "appointment in the past",
        patched("appointment.start", PAST),
        "appointment.start",
        "in the past",
    ),
    (
        "appointment without zone",
        patched("appointment.start", "2030-01-01T10:00:00"),
        "appointment.start",
        "timezone",
    ),
    ("appointment missing", without(reminder_body(), "appointment"), "appointment", "required"),
    (
        "phone missing for a call",
        without(reminder_body(), "patient.phone"),
        "patient.phone",
        "required",
    ),
    (
        "app id missing for the app",
        reminder_body(channel="app"),
        "patient.app_recipient_id",
        "required",
    ),
    ("unknown field", reminder_body(apointment={}), "apointment", "not a known field"),
    (
        "unknown nested field",
        patched("patient.ssn", "123-45-6789"),
        "patient.ssn",
        "not a known field",
    ),
    ("unknown kind", reminder_body(kind="lab_result_value"), "kind", ""),
    ("unknown channel", reminder_body(channel="fax"), "channel", ""),
    ("speech rate", patched("patient.speech_rate", "fast"), "patient.speech_rate", ""),
    (
        "sentence pause",
        patched("patient.sentence_pause", "longer"),
        "patient.sentence_pause",
        "'normal' or 'long'",
    ),
    (
        "repeat as a word",
        patched("patient.repeat_message", "yes"),
        "patient.repeat_message",
        "boolean",
    ),
    (
        "repeat offer as a number",
        patched("patient.offer_repeat_twice", 2),
        "patient.offer_repeat_twice",
        "boolean",
    ),
    (
        "unknown profile key",
        patched("patient.repeat_menu", True),
        "patient.repeat_menu",
        "not a known field",
    ),
    (
        "result on a reminder",
        reminder_body(result={"ordered_by": "Dr. Chen"}),
        "result",
        "only for result_ready",
    ),
    ("callback not a URL", reminder_body(callback_url="not a url"), "callback_url", "URL"),
    ("patient name missing", without(reminder_body(), "patient.name"), "patient.name", "required"),
]


@pytest.mark.parametrize(("case", "body", "field", "reason"), CASES, ids=[c[0] for c in CASES])
def test_invalid_reminder_names_the_field_and_stores_nothing(
    client: TestClient,
    keys: Keys,
    database_url: str,
    case: str,
    body: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    response = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert problem["title"] and problem["type"] and field in problem["detail"]
    named = {e["field"]: e["message"] for e in problem["errors"]}
    assert field in named, named
    assert reason.lower() in named[field].lower()
    assert count_reminders(database_url) == 0


def test_unsupported_language_lists_the_supported_ones(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/v1/reminders", json=patched("language", "tlh"), headers=keys.header(keys.scheduler)
    )
    message = {e["field"]: e["message"] for e in response.json()["errors"]}["language"]
    listed = {
        lang["code"]
        for lang in client.get("/v1/languages", headers=keys.header(keys.scheduler)).json()
    }
    assert {"en", "es"} <= listed
    assert all(code in message for code in listed)


def test_result_notice_must_not_carry_an_appointment(client: TestClient, keys: Keys) -> None:
    body = reminder_body(kind="result_ready", result={"ordered_by": "Dr. Chen"})
    response = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert response.status_code == 422
    assert "appointment" in {e["field"] for e in response.json()["errors"]}


@pytest.mark.parametrize(
    ("sent", "where"),
    [
        (b'{"kind": "appointment_reminder", "channel": }', "line 1, column 45"),
        (b'{\n  "kind": "result_ready",\n  "language": es\n}', "line 3, column 15"),
    ],
)
def test_malformed_json_says_where_it_broke(
    client: TestClient, keys: Keys, database_url: str, sent: bytes, where: str
) -> None:
    response = client.post(
        "/v1/reminders",
        content=sent,
        headers={**keys.header(keys.scheduler), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    (error,) = response.json()["errors"]
    assert error == {"field": "body", "message": f"is not valid JSON at {where} (Expecting value)"}
    assert response.json()["detail"] == f"body is not valid JSON at {where} (Expecting value)."
    assert count_reminders(database_url) == 0


@pytest.mark.parametrize(
    ("content_type", "said"), [(None, "none was sent"), ("text/plain", "not text/plain")]
)
def test_a_body_not_sent_as_json_names_the_content_type(
    client: TestClient, keys: Keys, content_type: str | None, said: str
) -> None:
    headers = keys.header(keys.scheduler)
    if content_type is not None:
        headers["content-type"] = content_type
    response = client.post(
        "/v1/reminders", content=json.dumps(reminder_body()).encode(), headers=headers
    )
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "body"
    assert error["message"] == f"needs the header Content-Type: application/json ({said})"


def test_a_body_that_is_not_utf8_is_a_400_problem(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/v1/reminders",
        content=b'{"kind": "\xff"}',
        headers={**keys.header(keys.scheduler), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Bad request" and response.json()["errors"] == []


def test_oversized_body_is_refused_with_413(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    body = patched("appointment.instructions", "x" * 100_000)
    response = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "limit" in response.json()["detail"]
    assert count_reminders(database_url) == 0


def test_oversized_chunked_body_is_refused_too(client: TestClient, keys: Keys) -> None:
    def chunks():  # no Content-Length: the limit must hold while reading
        for _ in range(100):
            yield b" " * 1024

    response = client.post(
        "/v1/reminders",
        content=chunks(),
        headers={**keys.header(keys.scheduler), "content-type": "application/json"},
    )
    assert response.status_code == 413
