"""``GET /metrics`` as Prometheus scrapes it: requests, renders, outcomes, the backlog, no PHI.

The counters belong to the process and every test's app shares them, so a test reads
how much a series grew across its own requests; the gauges come from this test's
database, so they are read as they are.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from tests.support.api import Keys, reminder_body
from tests.support.clock import OffsetClock
from tests.support.metrics import scrape_app as scrape
from tests.support.waiting import wait_for

REQUESTS = "tellwell_http_requests_total"
LATENCY_COUNT = "tellwell_http_request_duration_seconds_count"


def test_a_delivered_reminder_shows_in_the_metrics_without_phi(
    client: TestClient, keys: Keys, settings: Settings
) -> None:
    before = scrape(client)
    name = f"Zelda {uuid.uuid4().hex[:10]}"
    phone = "+13125550187"
    body = reminder_body()
    body["patient"] |= {"name": name, "phone": phone}
    body["clinic"]["name"] = f"Clinic {uuid.uuid4().hex[:10]}"
    created = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert created.status_code == 202, created.text
    reminder_id = created.json()["id"]
    url = f"/v1/reminders/{reminder_id}"
    wait_for(
        lambda: client.get(url, headers=keys.header(keys.scheduler)).json()["status"] == "delivered"
    )
    reminder = client.get(url, headers=keys.header(keys.scheduler)).json()
    audio_path = reminder["message"]["audio_url"].removeprefix(settings.public_base_url)
    assert client.get(audio_path).status_code == 200
    unknown_path = f"/v1/nothing-here-{uuid.uuid4().hex}"
    assert client.get(unknown_path).status_code == 404

    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert grew(REQUESTS, method="POST", route="/v1/reminders", status="202") == 1
    assert grew(LATENCY_COUNT, method="POST", route="/v1/reminders") == 1
    assert grew(REQUESTS, method="GET", route="/v1/reminders/{reminder_id}", status="200") >= 2
    assert grew(REQUESTS, method="GET", route="/v1/audio/{token}", status="200") == 1
    assert grew(REQUESTS, method="GET", route="unmatched", status="404") == 1
    assert grew(REQUESTS, method="GET", route="/metrics", status="200") == 1
    engine = reminder["message"]["engine"]
    assert grew("tellwell_render_seconds_count", engine=engine, language="es") == 1
    assert grew("tellwell_render_seconds_sum", engine=engine, language="es") > 0
    (attempt,) = reminder["attempts"]
    outcome = {"channel": attempt["channel"], "outcome": "delivered"}
    assert grew("tellwell_delivery_outcomes_total", **outcome) == 1

    # Gauges read from this test's database.
    assert after.value("tellwell_reminders", status="delivered") == 1
    assert after.has("tellwell_reminders", status="scheduled")
    assert after.value("tellwell_reminders", status="scheduled") == 0
    assert after.value("tellwell_due_reminders", stage="render") == 0
    assert after.value("tellwell_oldest_due_reminder_age_seconds", stage="dispatch") == 0

    # Nothing about the patient, the message or its links is in any label or anywhere else.
    secrets = [name, phone, phone.removeprefix("+"), body["clinic"]["name"], reminder_id]
    secrets += [attempt["id"], audio_path.rsplit("/", 1)[1], unknown_path]
    secrets += [reminder["message"]["text"], keys.scheduler]
    for secret in secrets:
        assert secret not in after.text
    assert not [value for value in after.label_values() if reminder_id in value]


def test_the_backlog_gauges_count_due_reminders_and_their_age(
    make_settings: Callable[..., Settings], keys: Keys
) -> None:
    clock = OffsetClock()
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    # No sweeper: the due reminder stays waiting for the job a lost queue would never run.
    app = create_app(make_settings(), run_sweeper=False, clock=clock)
    with TestClient(app) as client:
        created = client.post(
            "/v1/reminders", json=reminder_body(send_at=later), headers=keys.header(keys.scheduler)
        ).json()
        send_at = datetime.fromisoformat(created["send_at"])
        assert scrape(client).value("tellwell_due_reminders", stage="render") == 0

        clock.skip(2 * 3600)
        gauges = scrape(client)
        expected_age_s = (clock.now() - send_at).total_seconds()

    assert gauges.value("tellwell_reminders", status="scheduled") == 1
    assert gauges.value("tellwell_due_reminders", stage="render") == 1
    assert gauges.value("tellwell_due_reminders", stage="dispatch") == 0
    age_s = gauges.value("tellwell_oldest_due_reminder_age_seconds", stage="render")
    assert 3600 < age_s <= expected_age_s


def test_a_metrics_token_keeps_the_scrape_private(
    make_settings: Callable[..., Settings], keys: Keys
) -> None:
    settings = make_settings(metrics_token="scrape-token-1234")
    with TestClient(create_app(settings)) as client:
        refused = client.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["www-authenticate"] == "Bearer"
        # An API key is not the metrics token, even an admin's.
        assert client.get("/metrics", headers=keys.header(keys.admin)).status_code == 401
        assert scrape(client, authorization="Bearer scrape-token-1234").has(
            "tellwell_reminders", status="scheduled"
        )
