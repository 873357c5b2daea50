"""Queue hygiene under load (issue 13): one job per reminder and step, dispatch first.

A backlog the workers cannot clear in a minute must not grow with every sweep (the flood
issue 13 measured: 7,321 duplicate jobs for 1,000 reminders), a job that is really gone
must still be queued again, and a due dispatch must not wait behind queued renders.
Reminders due within ``render_ahead_s`` are rendered ahead, behind every due render, and
dispatched at their send time. The tests run on real Redis (queues of their own) and both
databases, with the sweeper's clock moved forward instead of waiting.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from rq import Queue
from rq.job import JobStatus
from rq.serializers import JSONSerializer
from sqlalchemy import select

from service.app import create_app
from service.config import Settings
from service.models import Attempt, Reminder
from tests.support.api import Keys, reminder_body
from tests.support.clock import OffsetClock
from tests.support.waiting import wait_for
from tests.support.webhook_receiver import Receiver
from tests.support.workers import built_pipeline, run_burst_worker
from workers import jobs
from workers.pipeline import Pipeline
from workers.queue import (
    DISPATCH_JOB,
    FAILED_JOB_TTL_S,
    RENDER_AHEAD_JOB,
    RENDER_JOB,
    WEBHOOK_JOB,
    InProcessQueue,
    RedisQueue,
    job_id,
)
from workers.sweeper import SweepReport, next_wait_s, sweep
from workers.worker import new_worker

BACKLOG = 120
"""Reminders posted at once: with the workers stopped, far more than they clear in a minute."""
SWEEPS = 5
"""Sweeps over the backlog, each a little more than ``requeue_after_s`` after the last."""
RECOVERED = 12
"""Reminders whose jobs Redis loses, then delivered for real by a worker process."""
DUE_TO_DISPATCH_COUNT = "tellwell_due_to_dispatch_seconds_count"
HALF_HOUR_S = 30 * 60


@pytest.fixture
def redis_settings(make_settings: Callable[..., Settings], redis_url: str) -> Settings:
    settings: Settings = make_settings(redis_url=redis_url)
    return settings


@pytest.fixture
def pipeline(redis_settings: Settings, clock: OffsetClock) -> Iterator[Pipeline]:
    """The sweeper's and the in-test worker's pipeline, on the test's clock."""
    with built_pipeline(redis_settings, clock) as built:
        yield built
        jobs.install(None)


def post_reminders(
    settings: Settings, keys: Keys, clock: OffsetClock, count: int, send_in_s: float = 0
) -> list[str]:
    """Post ``count`` reminders due now (each queues its render), or ``send_in_s`` later."""
    ids = []
    with TestClient(create_app(settings, clock=clock)) as client:
        for _ in range(count):
            tag = uuid.uuid4().hex[:8]
            body = reminder_body(external_id=f"appt-{tag}")
            if send_in_s:
                send_at = clock.now() + timedelta(seconds=send_in_s)
                body["send_at"] = send_at.replace(microsecond=0).isoformat()
            body["patient"]["name"] = f"Ana {tag}"
            created = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
            assert created.status_code == 202, created.text
            ids.append(created.json()["id"])
    return ids


def jobs_waiting(pipeline: Pipeline) -> Counter[str]:
    """Every job id in every queue, with how many times it is there (as RQ lists them)."""
    assert isinstance(pipeline.queue, RedisQueue)
    return Counter(
        job_id for queue in pipeline.queue.queues.values() for job_id in queue.get_job_ids()
    )


def once_each(pipeline: Pipeline, job: str, reminder_ids: list[str]) -> Counter[str]:
    """Each reminder's job for this step, in the queues once."""
    assert isinstance(pipeline.queue, RedisQueue)
    namespace = pipeline.queue.namespace
    return Counter({job_id(namespace, job, reminder_id): 1 for reminder_id in reminder_ids})


def sweep_later(pipeline: Pipeline, clock: OffsetClock) -> dict[str, list[str]]:
    """A sweep once every waiting reminder's job is due a look again, however long it has
    waited (``requeue_backoff_max_s``, the longest the sweeper leaves one unlooked at)."""
    clock.skip(pipeline.settings.requeue_backoff_max_s + 1)
    return sweep(pipeline).enqueued


def statuses(pipeline: Pipeline, reminder_ids: list[str]) -> dict[str, str]:
    with pipeline.db.session() as session:
        rows = session.execute(
            select(Reminder.id, Reminder.status).where(Reminder.id.in_(reminder_ids))
        ).all()
    return {reminder_id: str(status) for reminder_id, status in rows}


def attempts_per_reminder(pipeline: Pipeline, reminder_ids: list[str]) -> Counter[str]:
    with pipeline.db.session() as session:
        return Counter(
            session.scalars(
                select(Attempt.reminder_id).where(Attempt.reminder_id.in_(reminder_ids))
            ).all()
        )


def work_one_job(pipeline: Pipeline) -> None:
    """A worker, as ``tellwell worker`` makes it, takes one job and stops."""
    assert isinstance(pipeline.queue, RedisQueue)
    jobs.install(pipeline)  # the job runs here, with the test's clock
    new_worker(pipeline.queue).work(burst=True, max_jobs=1)


@pytest.mark.redis
def test_sweeps_over_a_backlog_queue_each_reminder_and_step_once(
    redis_settings: Settings, keys: Keys, clock: OffsetClock, pipeline: Pipeline
) -> None:
    reminder_ids = post_reminders(redis_settings, keys, clock, BACKLOG)
    assert jobs_waiting(pipeline) == once_each(pipeline, RENDER_JOB, reminder_ids)

    # The workers are stopped: minutes pass and every reminder waits past requeue_after_s.
    for _ in range(SWEEPS):
        assert sweep_later(pipeline, clock) == {}
    assert jobs_waiting(pipeline) == once_each(pipeline, RENDER_JOB, reminder_ids)

    # A slow worker has started one job and is still at it: that job is live too.
    assert isinstance(pipeline.queue, RedisQueue)
    slow = new_worker(pipeline.queue)
    slow.register_birth()
    taken = Queue.dequeue_any(
        pipeline.queue.by_priority,
        None,
        connection=pipeline.queue.connection,
        serializer=JSONSerializer,
    )
    assert taken is not None
    started, _ = taken
    slow.prepare_job_execution(started)
    (taken_id,) = started.args
    others = [reminder_id for reminder_id in reminder_ids if reminder_id != taken_id]
    assert sweep_later(pipeline, clock) == {}
    assert jobs_waiting(pipeline) == once_each(pipeline, RENDER_JOB, others)

    # The worker is killed (its registration lapses): only its job is queued again, once.
    pipeline.queue.connection.delete(slow.key)
    assert sweep_later(pipeline, clock) == {RENDER_JOB: [taken_id]}
    assert sweep_later(pipeline, clock) == {}
    assert jobs_waiting(pipeline) == once_each(pipeline, RENDER_JOB, reminder_ids)
    slow.register_death()

    # One reminder rendered: due, it is dispatched by the same job (no second job), and
    # its finished job does not stand in the way of anything.
    work_one_job(pipeline)
    done = [r for r, status in statuses(pipeline, reminder_ids).items() if status == "delivered"]
    assert len(done) == 1
    assert attempts_per_reminder(pipeline, reminder_ids) == Counter(done)
    for _ in range(SWEEPS):
        assert sweep_later(pipeline, clock) == {}
    waiting = [r for r in reminder_ids if r not in done]
    assert jobs_waiting(pipeline) == once_each(pipeline, RENDER_JOB, waiting)


@pytest.mark.redis
def test_jobs_lost_with_redis_are_queued_again_once_and_every_reminder_is_delivered(
    redis_settings: Settings, keys: Keys, clock: OffsetClock, pipeline: Pipeline
) -> None:
    reminder_ids = post_reminders(redis_settings, keys, clock, RECOVERED)
    assert isinstance(pipeline.queue, RedisQueue)
    for queue in pipeline.queue.queues.values():
        queue.empty()  # what a Redis restarted without persistence leaves: nothing

    report = sweep_later(pipeline, clock)
    assert sorted(report[RENDER_JOB]) == sorted(reminder_ids)
    assert sweep_later(pipeline, clock) == {}
    assert jobs_waiting(pipeline) == once_each(pipeline, RENDER_JOB, reminder_ids)

    run_burst_worker(redis_settings)
    assert set(statuses(pipeline, reminder_ids).values()) == {"delivered"}
    assert attempts_per_reminder(pipeline, reminder_ids) == Counter(
        {reminder_id: 1 for reminder_id in reminder_ids}
    )


@pytest.mark.redis
def test_a_backlog_waiting_long_is_looked_at_less_often_and_lost_jobs_still_come_back(
    redis_settings: Settings, keys: Keys, clock: OffsetClock, pipeline: Pipeline
) -> None:
    """Each look is an UPDATE of the reminder and a scan of its queue: a backlog of
    thousands looked at every minute was most of the sweepers' and Redis's work in issue
    13's 10,000 run (58,544 row updates for 2,200 reminders finished)."""
    assert (redis_settings.requeue_after_s, redis_settings.requeue_backoff_max_s) == (60, 300)
    reminder_ids = post_reminders(redis_settings, keys, clock, RECOVERED)
    looks = 0
    for _ in range(40):  # twenty minutes, the workers stopped, a sweep every 30 s
        clock.skip(30)
        report = sweep(pipeline)
        assert report.enqueued == {}
        looks += report.looked_at
    # A minute after it was queued, then about as long again as it has been due, up to
    # five minutes: at 1, 3, 7, 12 and 17 minutes (every minute: 13 looks, the sweeps
    # coming every 30 s).
    assert looks == 5 * len(reminder_ids)

    assert isinstance(pipeline.queue, RedisQueue)
    for queue in pipeline.queue.queues.values():
        queue.empty()  # Redis restarted empty: every job is lost
    requeued: list[str] = []
    for _ in range(10):  # within the longest wait, five minutes, each is queued again once
        clock.skip(30)
        requeued += sweep(pipeline).enqueued.get(RENDER_JOB, [])
    assert sorted(requeued) == sorted(reminder_ids)
    assert jobs_waiting(pipeline) == once_each(pipeline, RENDER_JOB, reminder_ids)


@pytest.mark.redis
def test_a_render_queued_ahead_moves_to_the_due_queue_when_it_falls_due(
    redis_settings: Settings, keys: Keys, clock: OffsetClock, pipeline: Pipeline
) -> None:
    (soon,) = post_reminders(redis_settings, keys, clock, 1, send_in_s=20)
    assert sweep(pipeline).enqueued == {RENDER_AHEAD_JOB: [soon]}
    clock.skip(21)  # not yet taken (the workers are busy), and now due: no minute's wait

    assert sweep(pipeline).enqueued == {RENDER_JOB: [soon]}
    assert sweep(pipeline).enqueued == {}


@pytest.mark.redis
def test_a_due_dispatch_is_taken_before_queued_renders(
    redis_settings: Settings, keys: Keys, clock: OffsetClock, pipeline: Pipeline
) -> None:
    (due,) = post_reminders(redis_settings, keys, clock, 1, send_in_s=HALF_HOUR_S)
    assert sweep(pipeline).enqueued == {RENDER_AHEAD_JOB: [due]}
    work_one_job(pipeline)  # rendered ahead, it waits ready for its send time
    backlog = post_reminders(redis_settings, keys, clock, 5)
    clock.skip(HALF_HOUR_S + 60)  # it falls due behind the backlog's renders
    assert sweep(pipeline).enqueued == {DISPATCH_JOB: [due]}
    renders = once_each(pipeline, RENDER_JOB, backlog)
    assert jobs_waiting(pipeline) == renders + once_each(pipeline, DISPATCH_JOB, [due])
    dispatched_before = REGISTRY.get_sample_value(DUE_TO_DISPATCH_COUNT) or 0.0

    work_one_job(pipeline)

    assert statuses(pipeline, [due]) == {due: "delivered"}
    assert set(statuses(pipeline, backlog).values()) == {"scheduled"}
    assert REGISTRY.get_sample_value(DUE_TO_DISPATCH_COUNT) == dispatched_before + 1
    assert jobs_waiting(pipeline) == renders


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_in_process_queue_runs_a_reminders_step_once_at_a_time(
    make_settings: Callable[..., Settings],
    keys: Keys,
    clock: OffsetClock,
    receiver: Receiver,
) -> None:
    """One job thread, held by a render whose dispatch meets an app backend slow to
    answer: what is queued behind it is queued once, whatever the sweeper or anyone else
    asks."""
    settings = make_settings(
        in_process_workers=1,
        app_webhook_url=receiver.url,
        app_webhook_secret=receiver.secret,
        webhook_allow_private_targets=True,
        webhook_timeout_s=30.0,
    )
    receiver.stall_next, receiver.stall_s = 1, 5.0
    body = reminder_body(channel="app")
    body["patient"] |= {"phone": None, "app_recipient_id": "app-user-7"}
    with TestClient(create_app(settings, clock=clock, run_sweeper=False)) as client:
        headers = keys.header(keys.scheduler)
        slow = client.post("/v1/reminders", json=body, headers=headers).json()["id"]
        wait_for(lambda: len(receiver.requests) == 1)  # its job holds the only thread
        waiting = [
            client.post("/v1/reminders", json=body, headers=headers).json()["id"] for _ in range(3)
        ]
        current = jobs.pipeline()
        assert isinstance(current.queue, InProcessQueue)
        assert current.enqueue(RENDER_JOB, slow, *waiting) == []
        clock.skip(settings.requeue_after_s + 1)  # looked at again; the slow one's lease holds
        assert sweep(current).enqueued == {}

        wait_for(lambda: set(statuses(current, [slow, *waiting]).values()) == {"delivered"})
        assert attempts_per_reminder(current, [slow, *waiting]) == Counter(
            {reminder_id: 1 for reminder_id in [slow, *waiting]}
        )
        # Finished jobs block nothing: asked again, each step is queued (and is a no-op).
        assert current.enqueue(RENDER_JOB, *waiting) == waiting


@pytest.mark.redis
def test_two_installs_sharing_a_redis_keep_their_jobs_apart(redis_url: str) -> None:
    """Webhook deliveries are numbered in each database: delivery 1 of one install and
    delivery 1 of another are two jobs, each in its own queue."""
    installs = [RedisQueue(redis_url, f"tellwell-test-{uuid.uuid4().hex[:12]}") for _ in "ab"]
    try:
        for install in installs:
            assert install.enqueue(WEBHOOK_JOB, ["1"]) == ["1"]
        for install in installs:
            (job,) = install.queues[WEBHOOK_JOB].get_jobs()
            assert job.args == ["1"] and job.origin == install.queues[WEBHOOK_JOB].name
            assert install.enqueue(WEBHOOK_JOB, ["1"]) == []
    finally:
        for install in installs:
            install.queues[WEBHOOK_JOB].empty()
            install.close()


@pytest.mark.redis
def test_a_failed_job_kept_by_rq_does_not_block_the_retry(
    redis_settings: Settings, keys: Keys, clock: OffsetClock, pipeline: Pipeline
) -> None:
    """RQ keeps a failed job's hash for ``FAILED_JOB_TTL_S`` under the same id; the retry
    the sweeper queues must replace it, not be refused by it (and, due, it is delivered)."""
    (reminder_id,) = post_reminders(redis_settings, keys, clock, 1)
    assert isinstance(pipeline.queue, RedisQueue)
    render = pipeline.queue.queues[RENDER_JOB]
    (queued,) = render.get_jobs()
    render.remove(queued)  # a worker took it, and it failed:
    queued.set_status(JobStatus.FAILED)
    render.failed_job_registry.add(queued, ttl=FAILED_JOB_TTL_S)

    assert sweep_later(pipeline, clock) == {RENDER_JOB: [reminder_id]}
    assert jobs_waiting(pipeline) == once_each(pipeline, RENDER_JOB, [reminder_id])
    assert render.failed_job_registry.get_job_ids() == []
    work_one_job(pipeline)
    assert statuses(pipeline, [reminder_id]) == {reminder_id: "delivered"}


@pytest.mark.redis
def test_a_reminder_due_within_the_hour_is_rendered_ahead_and_dispatched_at_its_time(
    redis_settings: Settings, keys: Keys, clock: OffsetClock, pipeline: Pipeline
) -> None:
    assert redis_settings.render_ahead_s == 3600
    (soon,) = post_reminders(redis_settings, keys, clock, 1, send_in_s=HALF_HOUR_S)
    (later,) = post_reminders(redis_settings, keys, clock, 1, send_in_s=3 * HALF_HOUR_S)
    assert jobs_waiting(pipeline) == Counter()  # nothing is due at posting

    assert sweep(pipeline).enqueued == {RENDER_AHEAD_JOB: [soon]}
    work_one_job(pipeline)
    assert statuses(pipeline, [soon, later]) == {soon: "ready", later: "scheduled"}
    assert attempts_per_reminder(pipeline, [soon]) == Counter()  # not called early
    assert jobs_waiting(pipeline) == Counter()

    waiting = sweep(pipeline)
    assert waiting.enqueued == {}
    with pipeline.db.session() as session:
        send_at = session.get_one(Reminder, soon).send_at
    assert waiting.next_due is not None and waiting.next_due.replace(tzinfo=None) == (
        send_at.replace(tzinfo=None)
    )

    clock.skip(HALF_HOUR_S + 60)  # and ``later`` is now within the hour
    assert sweep(pipeline).enqueued == {DISPATCH_JOB: [soon], RENDER_AHEAD_JOB: [later]}
    work_one_job(pipeline)
    assert statuses(pipeline, [soon]) == {soon: "delivered"}
    assert attempts_per_reminder(pipeline, [soon]) == Counter({soon: 1})


@pytest.mark.redis
def test_a_due_render_is_taken_before_renders_ahead(
    redis_settings: Settings, keys: Keys, clock: OffsetClock, pipeline: Pipeline
) -> None:
    ahead = post_reminders(redis_settings, keys, clock, 3, send_in_s=HALF_HOUR_S)
    assert sorted(sweep(pipeline).enqueued[RENDER_AHEAD_JOB]) == sorted(ahead)
    (due,) = post_reminders(redis_settings, keys, clock, 1)

    work_one_job(pipeline)

    assert statuses(pipeline, [due, *ahead]) == {due: "delivered"} | dict.fromkeys(
        ahead, "scheduled"
    )


@pytest.mark.redis
def test_without_render_ahead_a_reminder_waits_until_it_is_due(
    make_settings: Callable[..., Settings], redis_url: str, keys: Keys, clock: OffsetClock
) -> None:
    settings = make_settings(redis_url=redis_url, render_ahead_s=0)
    with built_pipeline(settings, clock) as pipeline:
        (soon,) = post_reminders(settings, keys, clock, 1, send_in_s=60)
        assert sweep(pipeline).enqueued == {}
        clock.skip(61)
        assert sweep(pipeline).enqueued == {RENDER_JOB: [soon]}


def test_the_sweeper_wakes_for_the_next_due_reminder_not_a_whole_interval_later() -> None:
    now = OffsetClock().now()
    assert next_wait_s(SweepReport(), 5.0, now) == 5.0
    assert next_wait_s(SweepReport(next_due=now + timedelta(seconds=1.5)), 5.0, now) == 1.5
    assert next_wait_s(SweepReport(next_due=now + timedelta(seconds=60)), 5.0, now) == 5.0
    # Due this instant (another sweeper is queueing it): not a busy loop.
    assert next_wait_s(SweepReport(next_due=now), 5.0, now) == 0.2
