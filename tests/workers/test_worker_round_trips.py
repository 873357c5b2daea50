"""Round trips a worker makes to Redis and the database (issue 13): RQ beats a worker's
heart five times a job, three commands each; ``tellwell worker`` beats only around each
wait for a job. A reminder's job loads it without the events and attempts the API shows.
A stopping worker does not wait a minute for RQ's command listener.

Redis is counted with its own ``MONITOR`` on the test Redis, keeping only the commands on
this worker's key, so other clients of a shared Redis do not count; the database with
SQLAlchemy's statement events on the job's own engine.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlalchemy import event, update

from service.app import create_app
from service.config import Settings
from service.models import Reminder, Status
from tests.support.api import Keys, reminder_body
from tests.support.waiting import wait_for
from tests.support.workers import built_pipeline, empty_queues
from workers.queue import DISPATCH_JOB, RENDER_AHEAD_JOB, RENDER_JOB, RedisQueue, job_id
from workers.sweeper import sweep
from workers.worker import new_worker

JOBS = 12
RQ_BEATS_PER_JOB = 5
"""What RQ 3's SimpleWorker does (before and after the wait, at the job's start, after it,
and with the suspension check)."""
MARKER = "tellwell-test-monitor-end"


def commands_while(url: str, run: Callable[[], object], keep: Callable[[str], bool]) -> list[str]:
    """The commands Redis received while ``run`` ran that ``keep`` selects (``MONITOR``)."""
    listening, seen = threading.Event(), []
    marker = f"{MARKER}-{uuid.uuid4().hex}"

    def watch() -> None:
        with Redis.from_url(url).monitor() as monitor:
            listening.set()
            while True:
                command = monitor.next_command()["command"]
                if marker in command:
                    return
                if keep(command):
                    seen.append(command)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    listening.wait(10)
    run()
    Redis.from_url(url).exists(marker)  # the last command the watcher waits for
    watcher.join(30)
    assert not watcher.is_alive(), "MONITOR never saw the end marker"
    return seen


def heartbeats_on(url: str, key: str, run: Callable[[], object]) -> int:
    """How many heartbeats (``HSET <key> last_heartbeat``) Redis received while ``run`` ran."""
    beat = f"HSET {key} last_heartbeat"
    return len(commands_while(url, run, lambda command: command.startswith(beat)))


@pytest.mark.redis
def test_back_to_back_jobs_beat_the_workers_heart_before_each_wait_only(redis_url: str) -> None:
    queue = RedisQueue(redis_url, f"tellwell-test-{uuid.uuid4().hex[:12]}")
    try:
        for n in range(JOBS):
            # A job that does nothing: only the worker's own round trips are left.
            queue.queues[RENDER_JOB].enqueue("os.path.basename", f"record-{n}")
        worker = new_worker(queue)
        render = queue.queues[RENDER_JOB]
        beats = heartbeats_on(redis_url, worker.key, lambda: worker.work(burst=True))
        assert render.count == 0 and render.failed_job_registry.count == 0  # all ran, all well
        # Before each wait for a job (JOBS + 1 waits: the last finds none), and once as
        # the worker starts; RQ alone would beat five times a job.
        assert JOBS <= beats <= JOBS + 3
        assert beats < RQ_BEATS_PER_JOB * JOBS / 2
    finally:
        for rq_queue in queue.queues.values():
            rq_queue.empty()
        queue.close()


READS_BACK = ("HGET ", "HMGET ", "SMEMBERS ", "ZRANGE", "WATCH ", "EXISTS ")


@pytest.mark.redis
def test_a_finished_job_leaves_nothing_and_is_not_read_back(redis_url: str) -> None:
    """RQ reads a finished job's dependents, status and executions back before deleting
    them; a job of ours (no result kept) is deleted without a read, and leaves no key."""
    namespace = f"tellwell-test-{uuid.uuid4().hex[:12]}"
    queue = RedisQueue(redis_url, namespace)
    connection = queue.connection
    try:
        render = queue.queues[RENDER_JOB]
        ids = [
            render.enqueue(
                "os.path.basename",
                f"record-{n:03d}",
                result_ttl=0,
                job_id=job_id(queue.namespace, RENDER_JOB, f"record-{n:03d}"),
            ).id
            for n in range(JOBS)
        ]
        worker = new_worker(queue)
        on_jobs = commands_while(
            redis_url,
            lambda: worker.work(burst=True),
            lambda command: any(one in command for one in ids),
        )
        assert render.count == 0 and render.failed_job_registry.count == 0  # all ran, all well
        worker.refresh()
        assert worker.successful_job_count == JOBS  # RQ's own tally still kept
        assert not [key for key in connection.keys(f"*{namespace}*") if b":worker:" not in key]
        assert not connection.smembers(worker.executions_key)
        for one in ids:
            mine = [command for command in on_jobs if one in command]
            # The fetch at dequeue is the only read: the worker writes the rest.
            assert [c for c in mine if c.startswith("HGETALL ")] == [f"HGETALL rq:job:{one}"]
            assert not [c for c in mine if c.startswith(READS_BACK)], mine
        # The same step of the same record can be queued again at once (``workers.queue``).
        assert queue.enqueue(RENDER_JOB, ["record-000"]) == ["record-000"]
    finally:
        for rq_queue in queue.queues.values():
            rq_queue.empty()
        queue.close()


STATEMENTS_PER_DUE_REMINDER = 16
"""A due reminder's render job on the outbox: claim it (3 statements), record it ready and
open its attempt (7, the audio's row and the check for an attempt a dead worker left
included), settle the attempt (6). Loading the events and attempts with each reminder, and
the reminder once per step of the settlement, made it 25."""


@pytest.mark.redis
def test_a_due_reminder_costs_one_load_per_transaction_and_no_collections(
    make_settings: Any, keys: Keys, redis_url: str
) -> None:
    settings: Settings = make_settings(redis_url=redis_url)
    body = reminder_body(channel="app", language="tr")
    body["patient"]["app_recipient_id"] = "app-1"
    with TestClient(create_app(settings)) as client:
        posted = [
            client.post(
                "/v1/reminders",
                json=body | {"external_id": f"round-trips-{n}"},
                headers=keys.header(keys.scheduler),
            )
            for n in range(2)
        ]
        assert all(response.status_code == 202 for response in posted), posted[0].text
        first, second = (response.json()["id"] for response in posted)
        with built_pipeline(settings) as pipeline:
            pipeline.render(first)  # the voice and the statement caches warm up
            statements: list[str] = []

            def seen(*args: Any) -> None:
                statements.append(" ".join(args[2].split()))

            event.listen(pipeline.db.engine, "before_cursor_execute", seen)
            event.listen(pipeline.db.engine, "commit", lambda _: statements.append("COMMIT"))
            pipeline.render(second)
        shown = client.get(f"/v1/reminders/{second}", headers=keys.header(keys.staff)).json()
    assert shown["status"] == "delivered"
    assert [e["status"] for e in shown["events"]] == [
        "scheduled",
        "rendering",
        "ready",
        "dispatching",
        "delivered",
    ]
    assert statements.count("COMMIT") == 3  # claimed; ready and attempt opened; settled
    transactions = " ".join(statements).split("COMMIT")
    for transaction in transactions:
        assert transaction.count("FROM reminders") <= 1, transaction
    assert not [s for s in statements if "FROM reminder_events" in s]
    assert not [s for s in statements if "FROM attempts WHERE attempts.reminder_id IN" in s]
    assert len(statements) - statements.count("COMMIT") <= STATEMENTS_PER_DUE_REMINDER


@pytest.mark.redis
def test_a_sweep_claims_every_kind_of_work_in_one_statement_and_the_day_once(
    make_settings: Any, keys: Keys, redis_url: str
) -> None:
    """Each reminder gets its step's job and reason from the one claiming UPDATE, and the
    day's purge is asked of the database on the first sweep of the day only."""
    settings: Settings = make_settings(redis_url=redis_url)
    with TestClient(create_app(settings, run_sweeper=False)) as client:
        posted = [
            client.post(
                "/v1/reminders",
                json=reminder_body(external_id=f"sweep-{n}"),
                headers=keys.header(keys.scheduler),
            ).json()["id"]
            for n in range(5)
        ]
    scheduled, ahead, rendering, ready, dispatching = posted
    with built_pipeline(settings) as pipeline:
        now = pipeline.clock.now()
        lapsed = now - timedelta(seconds=1)
        states: dict[str, dict[str, Any]] = {
            scheduled: {"status": Status.SCHEDULED, "send_at": now},
            ahead: {"status": Status.SCHEDULED, "send_at": now + timedelta(minutes=10)},
            rendering: {"status": Status.RENDERING, "send_at": now, "lease_until": lapsed},
            ready: {"status": Status.READY, "send_at": now},
            dispatching: {"status": Status.DISPATCHING, "send_at": now, "lease_until": lapsed},
        }
        statements: list[str] = []
        empty_queues(pipeline)  # the POSTs' jobs: the sweep queues each step anew
        with pipeline.db.session() as session:
            for reminder_id, values in states.items():
                session.execute(
                    update(Reminder)
                    .where(Reminder.id == reminder_id)
                    .values(queued_at=None, **values)
                )
        event.listen(
            pipeline.db.engine,
            "before_cursor_execute",
            lambda *args: statements.append(" ".join(args[2].split())),
        )
        first = sweep(pipeline, now)
        in_first = len(statements)
        statements.append("SWEEP")
        again = sweep(pipeline, now + timedelta(seconds=settings.requeue_after_s + 1))
    assert {job: sorted(ids) for job, ids in first.enqueued.items()} == {
        RENDER_JOB: sorted([scheduled, rendering]),
        RENDER_AHEAD_JOB: [ahead],
        DISPATCH_JOB: sorted([ready, dispatching]),
    }
    assert not again.enqueued  # every job is still queued: nothing added
    claims = [
        s
        for s in statements
        if s.startswith("UPDATE reminders SET") and "queued_at=" in s.split(" WHERE ")[0]
    ]
    assert len(claims) == 2, statements  # one per sweep
    daily = [i for i, s in enumerate(statements) if "daily_runs" in s]
    assert daily and max(daily) < in_first  # asked on the day's first sweep only


@pytest.mark.redis
def test_a_stopping_worker_does_not_wait_out_its_command_listener(redis_url: str) -> None:
    """The stop's race, made to happen: the listener thread hears the unsubscription
    before the stop joins it (one stop in six under load), then waits for a subscription
    for its whole poll; with RQ's poll of 60 s, so did the worker."""
    worker = new_worker(RedisQueue(redis_url, f"tellwell-test-{uuid.uuid4().hex[:12]}"))
    worker.subscribe()
    wait_for(lambda: worker.pubsub.subscribed)
    worker.pubsub.unsubscribe()
    wait_for(lambda: not worker.pubsub.subscribed)  # heard first: the listener waits again

    started = time.monotonic()
    worker.unsubscribe()  # what RQ's teardown does on a stop

    assert time.monotonic() - started < 5
    assert not worker.pubsub_thread.is_alive()
