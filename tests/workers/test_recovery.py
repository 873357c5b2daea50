"""Faults lose no reminder and never deliver twice: Redis losing jobs, workers dying."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from service.app import create_app
from service.config import Settings
from service.db import utcnow
from service.models import Attempt, Reminder, Status, advance
from tests.support.api import Keys, reminder_body
from tests.support.clock import OffsetClock
from tests.support.waiting import wait_for
from tests.support.workers import run_burst_worker
from workers import jobs
from workers.pipeline import Pipeline
from workers.queue import RedisQueue
from workers.sweeper import sweep


@pytest.fixture
def redis_settings(make_settings: Any, redis_url: str) -> Settings:
    settings: Settings = make_settings(redis_url=redis_url)
    return settings


@pytest.fixture
def redis_client(redis_settings: Settings, keys: Keys) -> Iterator[TestClient]:
    with TestClient(create_app(redis_settings)) as client:
        yield client


@pytest.fixture
def pipeline(redis_settings: Settings) -> Iterator[Pipeline]:
    built = jobs.build_pipeline(redis_settings)
    yield built
    built.queue.close()
    built.db.dispose()


def lose_queued_jobs(pipeline: Pipeline) -> None:
    """What a Redis restart without persistence does to these queues: every job is gone."""
    assert isinstance(pipeline.queue, RedisQueue)
    for queue in pipeline.queue.queues.values():
        queue.empty()
    assert pipeline.queue.depth() == 0


def status_of(client: TestClient, keys: Keys, reminder_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/reminders/{reminder_id}", headers=keys.header(keys.admin))
    return dict(response.json())


def after_requeue_delay(settings: Settings) -> Any:
    return utcnow() + timedelta(seconds=settings.requeue_after_s + 1)


@pytest.mark.redis
def test_sweeper_recovers_a_reminder_whose_job_vanished_from_redis(
    redis_client: TestClient,
    keys: Keys,
    redis_settings: Settings,
    pipeline: Pipeline,
) -> None:
    reminder_id = redis_client.post(
        "/v1/reminders", json=reminder_body(), headers=keys.header(keys.scheduler)
    ).json()["id"]
    lose_queued_jobs(pipeline)  # Redis restarted empty: the job is gone

    run_burst_worker(redis_settings)
    assert status_of(redis_client, keys, reminder_id)["status"] == "scheduled"

    report = sweep(pipeline, now=after_requeue_delay(redis_settings))
    assert report.enqueued == {"workers.jobs.render_reminder": [reminder_id]}
    run_burst_worker(redis_settings)
    reminder = status_of(redis_client, keys, reminder_id)
    assert reminder["status"] == "delivered"
    assert len(reminder["attempts"]) == 1


@pytest.mark.redis
def test_a_sweep_right_after_enqueue_adds_no_duplicate(
    redis_client: TestClient,
    keys: Keys,
    redis_settings: Settings,
    pipeline: Pipeline,
) -> None:
    redis_client.post("/v1/reminders", json=reminder_body(), headers=keys.header(keys.scheduler))
    assert sweep(pipeline).enqueued == {}
    assert pipeline.queue.depth() == 1


def lapse_lease(pipeline: Pipeline, reminder_id: str, status: Status, **values: Any) -> None:
    """Leave the reminder as a worker killed mid-step leaves it: working, lease lapsed."""
    past = utcnow() - timedelta(seconds=pipeline.settings.lease_s + 1)
    with pipeline.db.session() as session:
        assert advance(session, reminder_id, status)
        session.execute(
            update(Reminder)
            .where(Reminder.id == reminder_id)
            .values(lease_until=past, queued_at=past, **values)
        )


@pytest.mark.redis
def test_worker_killed_mid_render_is_taken_over_once(
    redis_client: TestClient,
    keys: Keys,
    redis_settings: Settings,
    pipeline: Pipeline,
) -> None:
    reminder_id = redis_client.post(
        "/v1/reminders", json=reminder_body(), headers=keys.header(keys.scheduler)
    ).json()["id"]
    lose_queued_jobs(pipeline)
    lapse_lease(pipeline, reminder_id, Status.RENDERING)

    assert sweep(pipeline).enqueued == {"workers.jobs.render_reminder": [reminder_id]}
    run_burst_worker(redis_settings)
    reminder = status_of(redis_client, keys, reminder_id)
    assert reminder["status"] == "delivered"
    assert len(reminder["attempts"]) == 1


def _killed_mid_dispatch(client: TestClient, keys: Keys, pipeline: Pipeline) -> tuple[str, str]:
    """Render for real (ahead, so the render stops at ready), then leave the state of a
    worker killed right after opening an attempt once the reminder fell due."""
    send_at = (utcnow() + timedelta(minutes=30)).isoformat()
    reminder_id = client.post(
        "/v1/reminders", json=reminder_body(send_at=send_at), headers=keys.header(keys.scheduler)
    ).json()["id"]
    pipeline.render(reminder_id)
    lose_queued_jobs(pipeline)  # the job died with the worker
    with pipeline.db.session() as session:
        attempt = Attempt(reminder_id=reminder_id, channel="outbox")
        session.add(attempt)
        session.flush()
        attempt_id = attempt.id
    lapse_lease(pipeline, reminder_id, Status.DISPATCHING, send_at=utcnow())
    return reminder_id, attempt_id


def _delivered_attempts(client: TestClient, keys: Keys, reminder_id: str) -> list[Any]:
    reminder = status_of(client, keys, reminder_id)
    assert reminder["status"] == "delivered"
    assert [e["status"] for e in reminder["events"]].count("dispatching") == 1
    return list(reminder["attempts"])


@pytest.mark.redis
def test_killed_after_the_provider_took_it_is_not_delivered_again(
    redis_client: TestClient,
    keys: Keys,
    redis_settings: Settings,
    pipeline: Pipeline,
) -> None:
    reminder_id, attempt_id = _killed_mid_dispatch(redis_client, keys, pipeline)
    channel = pipeline.channels["phone"]
    outbox = redis_settings.outbox_dir
    # The provider took the delivery; the worker died before recording it.
    from workers.channels.outbox import OutboxChannel

    assert isinstance(channel, OutboxChannel)
    channel.record_path(attempt_id).write_text("{}")

    sweep(pipeline)
    run_burst_worker(redis_settings)
    (attempt,) = _delivered_attempts(redis_client, keys, reminder_id)
    assert attempt["id"] == attempt_id
    assert sorted(p.name for p in outbox.glob("*.json")) == [f"{attempt_id}.json"]
    assert channel.read(attempt_id) == {}  # reconciled, not re-sent


@pytest.mark.redis
def test_killed_before_the_provider_took_it_is_delivered_once(
    redis_client: TestClient,
    keys: Keys,
    redis_settings: Settings,
    pipeline: Pipeline,
) -> None:
    reminder_id, attempt_id = _killed_mid_dispatch(redis_client, keys, pipeline)
    sweep(pipeline)
    run_burst_worker(redis_settings)
    (attempt,) = _delivered_attempts(redis_client, keys, reminder_id)
    assert attempt["id"] == attempt_id
    assert [p.name for p in redis_settings.outbox_dir.glob("*.json")] == [f"{attempt_id}.json"]


def test_expired_reminder_is_never_delivered(client: TestClient, keys: Keys) -> None:
    reminder_id = client.post(
        "/v1/reminders",
        json=reminder_body(send_at=(utcnow() + timedelta(days=1)).isoformat()),
        headers=keys.header(keys.scheduler),
    ).json()["id"]
    pipeline = jobs.pipeline()
    with pipeline.db.session() as session:
        session.execute(
            update(Reminder)
            .where(Reminder.id == reminder_id)
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    # The embedded sweeper notices on its own.
    wait_for(lambda: status_of(client, keys, reminder_id)["status"] == "expired")
    assert status_of(client, keys, reminder_id)["attempts"] == []


def test_a_dispatch_that_finds_the_appointment_begun_never_delivers(
    make_settings: Any, keys: Keys
) -> None:
    """A dispatch job that runs after the appointment began (behind a backlog, before the
    sweeper noticed) expires the reminder; run again, as after a lost lease, it still
    sends nothing. It once claimed the reminder first and then could not expire it, so
    the reminder sat in dispatching until its lease lapsed and was then delivered."""
    clock = OffsetClock()
    soon = utcnow() + timedelta(minutes=10)
    settings = make_settings()
    with TestClient(create_app(settings, clock=clock, run_sweeper=False)) as client:
        pipeline = client.app.state.services.pipeline  # type: ignore[attr-defined]
        body = reminder_body(send_at=soon.isoformat())
        reminder_id = client.post(
            "/v1/reminders", json=body, headers=keys.header(keys.scheduler)
        ).json()["id"]
        pipeline.render(reminder_id)
        clock.skip(4 * 24 * 3600)  # past the appointment, three days out
        pipeline.dispatch(reminder_id)
        clock.skip(2 * pipeline.lease.total_seconds())
        pipeline.dispatch(reminder_id)
        reminder = status_of(client, keys, reminder_id)
    assert [event["status"] for event in reminder["events"]] == [
        "scheduled",
        "rendering",
        "ready",
        "expired",
    ]
    assert reminder["attempts"] == []
    assert list(settings.outbox_dir.glob("*.json")) == []
