"""Input an attacker or a broken interface engine sends: always a clear 4xx naming the
field, nothing half-stored, and never a reminder stuck short of an end state.

Each case here answered 500, or was accepted and never rendered, before it was refused.
"""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from service.db import Database
from service.models import Reminder
from service.reminders import RESULT_NOTICE_TTL
from tests.support.api import Keys, count_reminders, preview_body, reminder_body
from tests.support.clock import OffsetClock
from tests.support.waiting import wait_for

LEASE_S = 120
"""The default ``TELLWELL_LEASE_S``, which the ``client`` fixture's settings keep."""
CONTROL_CHARACTERS = {
    "NUL": "\x00",
    "ESC": "\x1b",
    "BEL": "\x07",
    "RLO": "\u202e",
    "BOM": "\ufeff",
}
FREE_TEXT_FIELDS = [
    ("patient", "name"),
    ("clinic", "name"),
    ("appointment", "provider"),
    ("appointment", "location"),
    ("appointment", "instructions"),
]


def post(client: TestClient, keys: Keys, body: dict[str, Any]) -> Any:
    return client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))


def field_errors(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {error["field"]: error["message"] for error in response.json()["errors"]}


@pytest.mark.parametrize("name", CONTROL_CHARACTERS)
@pytest.mark.parametrize(("block", "field"), FREE_TEXT_FIELDS)
def test_a_control_character_in_free_text_is_refused_by_name(
    client: TestClient, keys: Keys, database_url: str, block: str, field: str, name: str
) -> None:
    body = reminder_body()
    body[block][field] = f"Ana{CONTROL_CHARACTERS[name]} López"
    errors = field_errors(post(client, keys, body))
    code = f"U+{ord(CONTROL_CHARACTERS[name]):04X}"
    assert errors == {f"{block}.{field}": f"contains the control character {code}"}
    assert count_reminders(database_url) == 0


def test_a_control_character_in_the_external_id_is_refused(client: TestClient, keys: Keys) -> None:
    assert "external_id" in field_errors(post(client, keys, reminder_body(external_id="a\x00b")))


def test_ordinary_whitespace_and_joiners_stay(client: TestClient, keys: Keys) -> None:
    body = reminder_body(language="fa")
    body["patient"]["name"] = "مهرداد\u200cزاده"  # a zero-width non-joiner, as Persian writes
    body["appointment"]["instructions"] = "Bring your list.\nCome early.\tThank you."
    assert post(client, keys, body).status_code == 202


FAR = "9999-12-31T23:59:59-14:00"
ANCIENT = "0001-01-01T00:00:00+14:00"


@pytest.mark.parametrize(
    ("where", "value", "field", "message"),
    [
        ("start", FAR, "appointment.start", "must be between the years 2000 and 2100"),
        ("start", "9999-12-31T23:59:59Z", "appointment.start", "must be between"),
        ("start", "in three years", "appointment.start", "is more than two years ahead"),
        ("send_at", ANCIENT, "send_at", "must be between the years 2000 and 2100"),
        ("send_at", "two days ago", "send_at", "is more than a day in the past"),
        ("send_at", "in three years", "send_at", "is more than two years ahead"),
    ],
)
def test_dates_out_of_range_are_refused(
    client: TestClient,
    keys: Keys,
    database_url: str,
    where: str,
    value: str,
    field: str,
    message: str,
) -> None:
    now = datetime.now(UTC)
    value = {
        "in three years": (now + timedelta(days=3 * 365)).isoformat(),
        "two days ago": (now - timedelta(days=2)).isoformat(),
    }.get(value, value)
    body = reminder_body()
    if where == "start":
        body["appointment"]["start"] = value
        body["patient"]["timezone"] = "Asia/Tokyo"
    else:
        body["send_at"] = value
    assert field_errors(post(client, keys, body))[field].startswith(message)
    assert count_reminders(database_url) == 0


@pytest.mark.parametrize("start", [FAR, ANCIENT])
def test_previews_refuse_far_dates_too(client: TestClient, keys: Keys, start: str) -> None:
    body = preview_body()
    body["appointment"]["start"] = start
    answer = client.post("/v1/previews", json=body, headers=keys.header(keys.staff))
    assert "appointment.start" in field_errors(answer)


def test_a_previous_start_in_year_one_is_refused(client: TestClient, keys: Keys) -> None:
    body = reminder_body(kind="appointment_changed")
    body["appointment"]["previous_start"] = ANCIENT
    assert "appointment.previous_start" in field_errors(post(client, keys, body))


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor("2026-12-02T10:00:00|" + "a" * 32),  # a naive moment
        _cursor("2026-12-02T10:00:00+00:00|\x00"),
        _cursor("2026-12-02T10:00:00+00:00|' OR 1=1 --"),
        "\x00",
        "not base64 at all!",
    ],
)
def test_a_crafted_cursor_is_refused(client: TestClient, keys: Keys, cursor: str) -> None:
    answer = client.get("/v1/reminders", params={"cursor": cursor}, headers=keys.header(keys.staff))
    assert field_errors(answer) == {"cursor": "is not a cursor from a previous page"}


@pytest.mark.parametrize("name", ["external_id", "language"])
def test_a_nul_in_a_filter_is_refused(client: TestClient, keys: Keys, name: str) -> None:
    answer = client.get("/v1/reminders", params={name: "es\x00"}, headers=keys.header(keys.staff))
    assert name in field_errors(answer)


@pytest.mark.parametrize("reminder_id", ["%00", "abc%00def", "x" * 32, "'; DROP TABLE reminders"])
def test_a_malformed_reminder_id_is_not_found(
    client: TestClient, keys: Keys, reminder_id: str
) -> None:
    for method in ("GET", "DELETE"):
        answer = client.request(
            method, f"/v1/reminders/{reminder_id}", headers=keys.header(keys.scheduler)
        )
        assert answer.status_code == 404, answer.text


def test_a_result_notice_expires_a_week_after_its_send_time(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    body = reminder_body(kind="result_ready", result={"ordered_by": "Dr. Chen"})
    del body["appointment"]
    send_at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    body["send_at"] = send_at.isoformat()
    created = post(client, keys, body)
    assert created.status_code == 202, created.text
    db = Database(database_url)
    with db.session() as session:
        reminder = session.get_one(Reminder, created.json()["id"])
        assert reminder.expires_at == reminder.send_at + RESULT_NOTICE_TTL
    db.dispose()


def status_of(client: TestClient, keys: Keys, reminder_id: str) -> dict[str, Any]:
    return dict(client.get(f"/v1/reminders/{reminder_id}", headers=keys.header(keys.staff)).json())


def test_a_call_too_long_at_the_patients_rate_ends_failed_and_says_why(
    client: TestClient, keys: Keys
) -> None:
    body = reminder_body()
    body["patient"]["speech_rate"] = "slow"
    body["appointment"]["location"] = ("Edificio de consultas externas, tercera planta, " * 5)[:200]
    body["appointment"]["instructions"] = ("Traiga su lista de medicinas y su tarjeta. " * 8)[:300]
    preview = client.post(
        "/v1/previews", json=preview_body(**copy.deepcopy(body)), headers=keys.header(keys.staff)
    ).json()
    assert preview["duration_s"] > 60, "the sample must be over the limit to test it"
    answer = post(client, keys, body)
    assert answer.status_code == 202, answer.text
    created = answer.json()
    done = wait_for(
        lambda: (r := status_of(client, keys, created["id"]))["status"] == "failed" and r
    )
    assert done["events"][-1]["detail"].startswith("message too long: the call message lasts")
    assert done["attempts"] == [], "nobody was called"


def test_an_unexpected_job_error_ends_the_reminder_failed_after_a_few_tries(
    client: TestClient, keys: Keys, database_url: str, clock: OffsetClock
) -> None:
    """Data the checks let through that breaks rendering (here: a clinic block gone from
    the stored facts) is retried, then the reminder ends failed instead of rendering again
    every two minutes forever."""
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = reminder_body(channel="app", send_at=later)
    body["patient"] |= {"phone": None, "app_recipient_id": "app-user-1"}
    created = post(client, keys, body).json()
    db = Database(database_url)
    with db.session() as session:
        facts = session.get_one(Reminder, created["id"]).facts
        del facts["clinic"]
        session.execute(
            update(Reminder)
            .where(Reminder.id == created["id"])
            .values(facts=facts, send_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    failures_seen = 0

    def ended() -> dict[str, Any] | None:
        nonlocal failures_seen
        with db.session() as session:
            failures = session.get_one(Reminder, created["id"]).job_failures
        if failures > failures_seen:  # past that try's lease: the sweeper takes it again
            failures_seen = failures
            clock.skip(LEASE_S + 1)
        reminder = status_of(client, keys, created["id"])
        return reminder if reminder["status"] == "failed" else None

    done = wait_for(ended, timeout_s=120)
    with db.session() as session:
        assert session.get_one(Reminder, created["id"]).job_failures == 3
    db.dispose()
    assert done["events"][-1]["detail"] == "gave up after 3 failed tries (KeyError)"
