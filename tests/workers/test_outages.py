"""Workers ride out a Redis or database outage: none exits, no reminder is lost or sent twice.

Two real ``tellwell worker`` processes work on a Redis and a PostgreSQL cluster of the
test's own (``tests.support.own_servers``). Mid-run one of them goes down as a crash takes it
(Redis comes back empty, as it does without persistence) and starts again. Nobody
restarts a worker.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.app import create_app
from service.config import Settings
from service.db import Database
from service.models import Reminder
from tests.support.api import Keys, reminder_body
from tests.support.own_servers import OwnPostgres, OwnRedis, own_postgres, own_redis
from tests.support.waiting import wait_for
from tests.support.workers import worker_env
from workers.outages import Backoff, Outage, wait_until_reachable

REMINDERS = 30
WORKERS = 2
OUTAGE_MIN_S = 3.0
"""Redis stays down at least this long: long enough for several reconnection tries."""
DELIVERED_BEFORE_OUTAGE = 3
"""The outage starts once this many are delivered: the workers are busy by then."""
DELIVERY_TIMEOUT_S = 120.0
WORKER_START_TIMEOUT_S = 120.0
WORKER_STOP_TIMEOUT_S = 30.0
FAST_RECOVERY = {
    "TELLWELL_SWEEP_INTERVAL_S": "0.2",
    "TELLWELL_REQUEUE_AFTER_S": "1",
    "TELLWELL_OUTAGE_RETRY_MAX_S": "0.5",
    "TELLWELL_LEASE_S": "10",
}
"""Small sweep, requeue, lease and reconnection intervals, so recovery takes seconds here."""


@pytest.fixture
def cluster() -> Iterator[OwnPostgres]:
    with own_postgres() as running:
        yield running


@pytest.fixture
def database_url(cluster: OwnPostgres) -> str:
    """Overrides conftest's: the app, the workers and the keys use our own cluster."""
    return cluster.migrated_database("tellwell")


@pytest.fixture
def redis_server() -> Iterator[OwnRedis]:
    with own_redis() as server:
        yield server


@pytest.fixture
def outage_settings(make_settings: Callable[..., Settings], redis_server: OwnRedis) -> Settings:
    settings: Settings = make_settings(redis_url=redis_server.url)
    return settings


class Workers:
    """Real ``tellwell worker`` processes, each logging to a file the test reads."""

    def __init__(self, settings: Settings, count: int) -> None:
        env = {**worker_env(settings), **FAST_RECOVERY}
        self.logs = [settings.data_dir / f"worker-{n}.log" for n in range(count)]
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", "service", "worker"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log.open("w"),
            )
            for log in self.logs
        ]

    def ready(self) -> bool:
        """Each has its RQ worker listening and its sweeper sweeping."""
        return all(
            "Listening on" in log and "sweeping every" in log
            for log in map(self.log, range(len(self.logs)))
        )

    def all_alive(self) -> bool:
        return all(process.poll() is None for process in self.processes)

    def log(self, n: int) -> str:
        return self.logs[n].read_text()

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(WORKER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def workers(outage_settings: Settings) -> Iterator[Workers]:
    started = Workers(outage_settings, WORKERS)
    yield started
    started.stop()


def post_reminders(client: TestClient, keys: Keys, count: int) -> list[str]:
    answers = [
        client.post("/v1/reminders", json=reminder_body(), headers=keys.header(keys.scheduler))
        for _ in range(count)
    ]
    assert all(answer.status_code == 202 for answer in answers)
    return [answer.json()["id"] for answer in answers]


def deliveries(outbox: Path) -> Counter[str]:
    """How many outbox records (one per delivery) each reminder has."""
    return Counter(json.loads(path.read_text())["reminder_id"] for path in outbox.glob("*.json"))


@pytest.mark.redis
@pytest.mark.postgres
def test_workers_ride_out_a_redis_outage_and_deliver_each_reminder_once(
    outage_settings: Settings, keys: Keys, redis_server: OwnRedis, workers: Workers
) -> None:
    outbox = outage_settings.outbox_dir
    wait_for(workers.ready, WORKER_START_TIMEOUT_S)
    with TestClient(create_app(outage_settings)) as client:
        ids = post_reminders(client, keys, REMINDERS)
        wait_for(lambda: len(deliveries(outbox)) >= DELIVERED_BEFORE_OUTAGE, DELIVERY_TIMEOUT_S)

        redis_server.kill()
        killed_at = time.monotonic()
        delivered_at_kill = len(deliveries(outbox))
        assert delivered_at_kill < REMINDERS, "all delivered before the outage: nothing tested"
        # Posting goes on while Redis is down (auth and idempotency need only the
        # database): accepted, and swept into the queue once Redis is back.
        during = client.post(
            "/v1/reminders",
            json=reminder_body(),
            headers={**keys.header(keys.other_scheduler), "Idempotency-Key": "during-outage"},
        )
        assert during.status_code == 202, during.text
        ids.append(during.json()["id"])
        wait_for(
            lambda: all("worker: redis unreachable" in workers.log(n) for n in range(WORKERS)),
            timeout_s=DELIVERY_TIMEOUT_S,
        )
        time.sleep(max(0.0, OUTAGE_MIN_S - (time.monotonic() - killed_at)))
        assert workers.all_alive()

        redis_server.start()
        restarted_at = time.monotonic()
        outage_s = restarted_at - killed_at
        wait_for(lambda: len(deliveries(outbox)) >= len(ids), DELIVERY_TIMEOUT_S)
        recovered_s = time.monotonic() - restarted_at

        statuses = Counter(
            client.get(f"/v1/reminders/{rid}", headers=keys.header(keys.admin)).json()["status"]
            for rid in ids
        )
    counts = deliveries(outbox)
    print(
        f"\noutage {outage_s:.1f} s; reminders {len(ids)}; delivered before the outage"
        f" {delivered_at_kill}; delivered {len(counts)}; duplicates"
        f" {sum(n - 1 for n in counts.values())}; all delivered {recovered_s:.1f} s after"
        " Redis was back"
    )
    assert workers.all_alive()
    assert statuses == {"delivered": len(ids)}
    assert counts == dict.fromkeys(ids, 1)
    for n in range(WORKERS):
        log = workers.log(n)
        assert "quitting" not in log, log[-3000:]
        assert log.count("worker: redis unreachable") == 1, log[-3000:]
        assert log.count("worker: redis reachable again") == 1, log[-3000:]


def statuses_in(db: Database) -> Counter[str]:
    """Statuses read straight from the database: the API's own pool may still be stale."""
    with db.session() as session:
        return Counter(str(status) for status in session.scalars(select(Reminder.status)))


@pytest.mark.redis
@pytest.mark.postgres
def test_workers_ride_out_a_database_outage_and_deliver_each_reminder_once(
    outage_settings: Settings, keys: Keys, cluster: OwnPostgres, workers: Workers
) -> None:
    outbox = outage_settings.outbox_dir
    wait_for(workers.ready, WORKER_START_TIMEOUT_S)
    with TestClient(create_app(outage_settings)) as client:
        ids = post_reminders(client, keys, REMINDERS)
    wait_for(lambda: len(deliveries(outbox)) >= DELIVERED_BEFORE_OUTAGE, DELIVERY_TIMEOUT_S)

    cluster.stop()
    stopped_at = time.monotonic()
    delivered_at_stop = len(deliveries(outbox))
    assert delivered_at_stop < REMINDERS, "all delivered before the outage: nothing tested"
    # Each worker is holding a job whose database went away.
    wait_for(
        lambda: all("job: database unreachable" in workers.log(n) for n in range(WORKERS)),
        timeout_s=DELIVERY_TIMEOUT_S,
    )
    time.sleep(max(0.0, OUTAGE_MIN_S - (time.monotonic() - stopped_at)))
    assert workers.all_alive()

    cluster.start()
    restarted_at = time.monotonic()
    outage_s = restarted_at - stopped_at
    db = Database(outage_settings.sqlalchemy_url)
    try:
        # A send recorded just before the outage is settled once its lease lapses.
        wait_for(lambda: statuses_in(db) == {"delivered": len(ids)}, DELIVERY_TIMEOUT_S)
    finally:
        db.dispose()
    recovered_s = time.monotonic() - restarted_at

    counts = deliveries(outbox)
    print(
        f"\ndatabase outage {outage_s:.1f} s; reminders {len(ids)}; delivered before the"
        f" outage {delivered_at_stop}; delivered {len(counts)}; duplicates"
        f" {sum(n - 1 for n in counts.values())}; all delivered {recovered_s:.1f} s after"
        " the database was back"
    )
    assert workers.all_alive()
    assert counts == dict.fromkeys(ids, 1)
    for n in range(WORKERS):
        log = workers.log(n)
        assert "quitting" not in log and "exception raised" not in log, log[-3000:]
        assert log.count("job: database unreachable") == 1, log[-3000:]
        assert log.count("job: database reachable again") == 1, log[-3000:]


def test_waiting_out_an_outage_backs_off_to_its_cap_and_logs_once_each_way(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers = iter([False] * 6 + [True])
    waits: list[float] = []

    def ping() -> None:
        if not next(answers):
            raise ConnectionRefusedError

    outage = Outage("redis", "worker", clock=lambda: 10.0 + sum(waits))
    with caplog.at_level(logging.WARNING, logger="workers.outages"):
        reached = wait_until_reachable(
            ping, outage, Backoff(max_s=2.0), (ConnectionRefusedError,), sleep=waits.append
        )
    assert reached and not outage.ongoing
    assert waits == [0.5, 1.0, 2.0, 2.0, 2.0, 2.0]
    assert [r.getMessage() for r in caplog.records] == [
        "worker: redis unreachable (ConnectionRefusedError); waiting for it,"
        " nothing is lost meanwhile",
        "worker: redis reachable again after 9.5 s; resuming",
    ]
