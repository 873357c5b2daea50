"""Idempotency-Key: a retried POST never makes a second reminder (never a second call)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
from fastapi.testclient import TestClient

from tests.support.api import Keys, LiveServer, count_reminders, reminder_body

LATER = (datetime.now(UTC) + timedelta(days=1)).isoformat()
CONCURRENT_DUPLICATES = 20


def test_same_key_same_body_gives_the_first_answer_again(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    headers = {**keys.header(keys.scheduler), "Idempotency-Key": "appt-88123-v1"}
    body = reminder_body(send_at=LATER)
    first = client.post("/v1/reminders", json=body, headers=headers)
    second = client.post("/v1/reminders", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert count_reminders(database_url) == 1


def test_same_key_other_body_is_422(client: TestClient, keys: Keys, database_url: str) -> None:
    headers = {**keys.header(keys.scheduler), "Idempotency-Key": "k-1"}
    client.post("/v1/reminders", json=reminder_body(send_at=LATER), headers=headers)
    other = client.post(
        "/v1/reminders", json=reminder_body(send_at=LATER, language="en"), headers=headers
    )
    assert other.status_code == 422
    assert other.json()["type"].endswith("idempotency-key-reused")
    assert count_reminders(database_url) == 1


def test_keys_are_per_caller(client: TestClient, keys: Keys, database_url: str) -> None:
    body = reminder_body(send_at=LATER)
    for key in (keys.scheduler, keys.other_scheduler):
        response = client.post(
            "/v1/reminders", json=body, headers={**keys.header(key), "Idempotency-Key": "shared"}
        )
        assert response.status_code == 202
    assert count_reminders(database_url) == 2


def test_a_rejected_request_does_not_burn_the_key(client: TestClient, keys: Keys) -> None:
    headers = {**keys.header(keys.scheduler), "Idempotency-Key": "fix-and-retry"}
    bad = reminder_body(send_at=LATER, language="xx")
    assert client.post("/v1/reminders", json=bad, headers=headers).status_code == 422
    good = client.post("/v1/reminders", json=reminder_body(send_at=LATER), headers=headers)
    assert good.status_code == 202


def test_twenty_concurrent_duplicates_make_exactly_one_reminder(
    live_server: LiveServer, keys: Keys, database_url: str
) -> None:
    headers = {**keys.header(keys.scheduler), "Idempotency-Key": "storm"}
    body = reminder_body(send_at=LATER)

    def post(_: int) -> httpx.Response:
        return live_server.post("/v1/reminders", json=body, headers=headers)

    with ThreadPoolExecutor(CONCURRENT_DUPLICATES) as pool:
        responses = list(pool.map(post, range(CONCURRENT_DUPLICATES)))
    codes = [r.status_code for r in responses]
    assert set(codes) <= {202, 409}, codes
    ids = {r.json()["id"] for r in responses if r.status_code == 202}
    assert len(ids) == 1
    assert count_reminders(database_url) == 1
    in_flight = [r for r in responses if r.status_code == 409]
    assert all(r.headers.get("retry-after") for r in in_flight)
