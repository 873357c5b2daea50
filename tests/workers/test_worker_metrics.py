"""What the workers record: renders, outcomes, webhook failures and the sweeper's finds.

A ``tellwell worker`` serves them on its metrics port, its sweeper process's included;
the API process, which runs the pipeline and the sweeper itself on the embedded set-up,
serves them on ``/metrics``. The counters there belong to the test process, so those
tests read how much a series grew.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from rq import Queue
from rq.serializers import JSONSerializer

from devtools.ports import free_port
from service.app import create_app
from service.config import Settings
from tests.support.api import Keys, reminder_body
from tests.support.clock import OffsetClock
from tests.support.metrics import Scrape, scrape_app, scrape_port
from tests.support.waiting import wait_for
from tests.support.webhook_receiver import SECRET, Receiver
from tests.support.workers import BURST_TIMEOUT_S, running_worker, worker_env

WEBHOOK_FAILURES = "tellwell_webhook_failures_total"
SWEEPER_ENQUEUED = "tellwell_sweeper_enqueued_total"
EXPIRED = "tellwell_reminders_expired_total"


def reminder_of(client: TestClient, keys: Keys, reminder_id: str) -> dict[str, Any]:
    url = f"/v1/reminders/{reminder_id}"
    answer: dict[str, Any] = client.get(url, headers=keys.header(keys.staff)).json()
    return answer


def post(client: TestClient, keys: Keys, body: dict[str, Any]) -> str:
    created = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert created.status_code == 202, created.text
    return str(created.json()["id"])


def grown(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


@pytest.mark.redis
def test_a_worker_serves_its_own_and_its_sweepers_metrics(
    make_settings: Callable[..., Settings], keys: Keys, redis_url: str
) -> None:
    settings = make_settings(redis_url=redis_url)
    port = free_port()
    env = worker_env(settings) | {
        "TELLWELL_METRICS_PORT": str(port),
        "TELLWELL_REQUEUE_AFTER_S": "0",
        "TELLWELL_SWEEP_INTERVAL_S": "0.2",
    }
    body = reminder_body()
    body["patient"]["name"] = f"Zelda {uuid.uuid4().hex[:10]}"
    with TestClient(create_app(settings)) as client:
        reminder_id = post(client, keys, body)
        # Redis loses the job: only the worker's sweeper process can find the work again.
        connection = redis.Redis.from_url(redis_url)
        Queue(settings.queue_name, connection=connection, serializer=JSONSerializer).empty()
        connection.close()
        with running_worker(env):
            wait_for(
                lambda: reminder_of(client, keys, reminder_id)["status"] == "delivered",
                timeout_s=BURST_TIMEOUT_S,
            )
            metrics = wait_for(lambda: scrape_port(port))
        delivered = reminder_of(client, keys, reminder_id)

    assert metrics.value(SWEEPER_ENQUEUED, job="render", reason="due") >= 1
    engine = delivered["message"]["engine"]
    assert metrics.value("tellwell_render_seconds_count", engine=engine, language="es") == 1
    (attempt,) = delivered["attempts"]
    outcome = {"channel": attempt["channel"], "outcome": "delivered"}
    assert metrics.value("tellwell_delivery_outcomes_total", **outcome) == 1
    # The records' gauges are the API's to serve; a worker does not repeat them.
    assert not metrics.has("tellwell_reminders", status="delivered")
    for secret in (body["patient"]["name"], body["patient"]["phone"], reminder_id, attempt["id"]):
        assert secret not in metrics.text


def test_a_failed_app_webhook_and_the_sweepers_retry_are_counted(
    make_settings: Callable[..., Settings], keys: Keys, receiver: Receiver
) -> None:
    settings = make_settings(
        app_webhook_url=receiver.url,
        app_webhook_secret=SECRET,
        webhook_allow_private_targets=True,
        webhook_timeout_s=1.0,
    )
    clock = OffsetClock()
    body = reminder_body(channel="app")
    body["patient"] |= {"phone": None, "app_recipient_id": "app-user-7"}
    receiver.fail_next = 4  # every try of the first dispatch
    with TestClient(create_app(settings, clock=clock)) as client:
        before = scrape_app(client)
        reminder_id = post(client, keys, body)
        wait_for(lambda: grown(before, scrape_app(client), WEBHOOK_FAILURES, webhook="app"))
        clock.skip(settings.lease_s + settings.requeue_after_s)  # the dispatch's lease lapses
        wait_for(lambda: reminder_of(client, keys, reminder_id)["status"] == "delivered")
        after = scrape_app(client)

    assert grown(before, after, WEBHOOK_FAILURES, webhook="app") == 1
    assert grown(before, after, SWEEPER_ENQUEUED, job="dispatch", reason="lease_lapsed") >= 1
    outcome = {"channel": "app", "outcome": "delivered"}
    assert grown(before, after, "tellwell_delivery_outcomes_total", **outcome) == 1


def test_each_failed_try_of_a_status_webhook_is_counted(
    make_settings: Callable[..., Settings], keys: Keys, receiver: Receiver
) -> None:
    settings = make_settings(
        client_webhook_secret=SECRET,
        webhook_allow_private_targets=True,
        webhook_retry_base_s=0.05,
        webhook_timeout_s=1.0,
    )
    receiver.fail_next = 2
    with TestClient(create_app(settings)) as client:
        before = scrape_app(client)
        post(client, keys, reminder_body(callback_url=receiver.url))
        wait_for(lambda: len(receiver.accepted()) == 4)  # rendering ... delivered
        after = scrape_app(client)
    assert grown(before, after, WEBHOOK_FAILURES, webhook="status") == 2


def test_a_reminder_the_sweeper_expires_is_counted(
    make_settings: Callable[..., Settings], keys: Keys
) -> None:
    clock = OffsetClock()
    settings = make_settings()
    # Beyond the render-ahead horizon, so no render has begun when the clock jumps: a
    # reminder being rendered then is expired by its worker, not by the sweeper.
    later = datetime.now(UTC) + timedelta(seconds=settings.render_ahead_s + 3600)
    with TestClient(create_app(settings, clock=clock)) as client:
        before = scrape_app(client)
        reminder_id = post(client, keys, reminder_body(send_at=later.isoformat()))
        clock.skip(4 * 24 * 3600)  # past the appointment, three days out

        def expired() -> dict[str, Any] | None:
            reminder = reminder_of(client, keys, reminder_id)
            return reminder if reminder["status"] == "expired" else None

        events = [event["status"] for event in wait_for(expired)["events"]]
        after = scrape_app(client)
    assert events == ["scheduled", "expired"]  # never rendered: the sweeper expired it
    assert grown(before, after, "tellwell_sweeper_expired_total") == 1
    assert grown(before, after, EXPIRED, by="sweeper") == 1


@pytest.mark.parametrize("job", ["render", "dispatch"])
def test_a_reminder_a_worker_finds_late_is_counted_by_its_job(
    make_settings: Callable[..., Settings], keys: Keys, job: str
) -> None:
    """A worker that claims a reminder whose appointment has begun meanwhile expires it;
    the operator sees it counted, by the job that found it late."""
    clock = OffsetClock()
    soon = datetime.now(UTC) + timedelta(minutes=10)
    with TestClient(create_app(make_settings(), clock=clock, run_sweeper=False)) as client:
        pipeline = client.app.state.services.pipeline  # type: ignore[attr-defined]
        before = scrape_app(client)
        reminder_id = post(client, keys, reminder_body(send_at=soon.isoformat()))
        if job == "dispatch":
            pipeline.render(reminder_id)
            assert reminder_of(client, keys, reminder_id)["status"] == "ready"
        clock.skip(4 * 24 * 3600)  # past the appointment, three days out
        getattr(pipeline, job)(reminder_id)  # as the worker runs it, at that moment
        reminder = reminder_of(client, keys, reminder_id)
        after = scrape_app(client)
    assert reminder["status"] == "expired"
    assert reminder["events"][-1]["detail"] == "the appointment has begun"
    assert grown(before, after, EXPIRED, by=job) == 1
    assert grown(before, after, EXPIRED, by="sweeper") == 0
