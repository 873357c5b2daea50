"""Racing updates of one appointment, over real HTTP on PostgreSQL: one creation, one
re-plan per change, and never two messages for one change.

Each round starts its requests together (a barrier) from separate threads against the app
served by uvicorn, so they really overlap in the database.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from devtools.timezones import daytime_zone
from service.config import Settings
from tests.support.api import Keys, LiveServer
from tests.support.appointments import appointment_body, deliver, stored_reminders
from tests.support.clinics import store_clinic

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)

RACERS = 12
PATH = "/v1/appointments/riverside/RACE-1"


@pytest.fixture
def settings(make_settings: Callable[..., Settings], redis_url: str, database_url: str) -> Settings:
    """A Redis queue no worker reads: reminders stay as the API left them."""
    store_clinic(database_url)
    return make_settings(redis_url=redis_url)


def race(server: LiveServer, key: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    """PUT every body at once, one thread each."""
    start_together = threading.Barrier(len(bodies))

    def put(body: dict[str, Any]) -> httpx.Response:
        with httpx.Client(base_url=server.url, headers=Keys.header(key), timeout=60) as http:
            start_together.wait()
            return http.put(PATH, json=body)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(put, bodies))


def visit_body(start: datetime, version: int) -> dict[str, Any]:
    body = appointment_body(start, version)
    body["patient"]["timezone"] = daytime_zone()
    return body


def test_racing_first_puts_create_one_appointment_with_one_plan(
    live_server: LiveServer, keys: Keys, database_url: str
) -> None:
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    answers = race(live_server, keys.scheduler, [visit_body(start, 1)] * RACERS)
    assert Counter(a.status_code for a in answers) == {201: 1, 200: RACERS - 1}
    assert {a.json()["id"] for a in answers} == {answers[0].json()["id"]}
    assert len(stored_reminders(database_url, answers[0].json()["id"])) == 2


def test_racing_updates_send_one_changed_message(
    live_server: LiveServer, keys: Keys, database_url: str
) -> None:
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    with live_server.client(keys.scheduler) as http:
        created = http.put(PATH, json=visit_body(start, 1)).json()
    deliver(database_url, created["reminders"][0]["id"])

    moved = visit_body(start + timedelta(hours=2), 2)
    answers = race(live_server, keys.scheduler, [moved] * RACERS)
    assert {a.status_code for a in answers} == {200}
    assert Counter(a.json()["change"] for a in answers) == {"updated": 1, "unchanged": RACERS - 1}
    notices = [r for r in stored_reminders(database_url, created["id"]) if r.plan_slot is None]
    assert [(r.kind, r.status) for r in notices] == [("appointment_changed", "scheduled")]

    # Different versions racing: older ones lose or are refused, and at the end one
    # message is waiting, naming the time the patient heard.
    versions = [visit_body(start + timedelta(hours=3 + n), 3 + n) for n in range(RACERS)]
    answers = race(live_server, keys.scheduler, versions)
    for answer in answers:
        assert answer.status_code in (200, 409), answer.text
        if answer.status_code == 409:  # refused as older, or busy under the race: retryable
            assert answer.json()["type"].endswith(("/older-update", "/appointment-busy"))
    newest = answers[-1]
    if newest.status_code == 409 and newest.json()["type"].endswith("/appointment-busy"):
        retried = live_server.put(
            PATH, json=versions[-1], headers=Keys.header(keys.scheduler)
        )  # as a scheduler retries a busy answer
        assert retried.status_code == 200, retried.text
    final = live_server.get(PATH, headers=Keys.header(keys.staff)).json()
    assert final["version"] == 2 + RACERS
    notices = [r for r in stored_reminders(database_url, created["id"]) if r.plan_slot is None]
    waiting = [r for r in notices if r.status == "scheduled"]
    assert len(waiting) == 1
    assert waiting[0].facts["appointment"]["previous_start"].startswith(start.date().isoformat())
    planned = [r for r in stored_reminders(database_url, created["id"]) if r.status == "scheduled"]
    assert Counter(r.plan_slot for r in planned) == {0: 1, 1: 1, None: 1}
