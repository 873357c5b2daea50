"""Queue flood benchmark (issue 13): what the sweeper queues while a backlog drains.

N reminders fall due at once on PostgreSQL + Redis. Simulated workers clear them at a
given pace (by default issue 13's first measure, 2 workers at 107 English reminders a
minute: 1.12 worker-seconds each; a job whose reminder is already done costs 16 ms) while
the real sweeper passes every 5 simulated seconds. Time is simulated (the sweeper gets
``now``), so minutes of backlog take seconds to run. The same run is made three times in
one process:

- ``before``: the old enqueue (a new random job id every time, no check), re-created here
  as ``LegacyQueue``;
- ``one job``: ``workers.queue.RedisQueue`` (one job id per reminder and step, queued
  only unless it is still waiting or running), each waiting reminder looked at every
  ``requeue_after_s`` (``requeue_backoff_max_s`` set to it);
- ``backoff``: the same, looked at less often the longer it has been due (the default).

It prints, for each, the jobs queued per reminder, the jobs run for nothing and the CPU
they cost, the sweeps' looks per reminder (an UPDATE of the row and a scan of the queue
each), the Redis commands per reminder, the longest the queue got and the Redis memory
its jobs took then.

    .venv/bin/python bench/queue_flood.py [--reminders 1000] [--sweepers 1] [--per-minute 107]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import insert, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import support  # noqa: E402
from bench.support import database_url  # noqa: E402
from service.config import Settings  # noqa: E402
from service.models import Reminder, Role, Status  # noqa: E402
from service.security import issue_key  # noqa: E402
from workers import jobs  # noqa: E402
from workers.pipeline import Pipeline  # noqa: E402
from workers.queue import (  # noqa: E402
    FAILED_JOB_TTL_S,
    JOB_TIMEOUT_S,
    RENDER_JOB,
    RedisQueue,
    job_id,
)
from workers.sweeper import sweep  # noqa: E402

BENCH_DB = "queue_flood"
DATABASE_URL = database_url(BENCH_DB)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
PASS_S = 5.0
"""Simulated seconds between sweeps (``TELLWELL_SWEEP_INTERVAL_S``'s default)."""
WORKERS = 2
PER_MINUTE = 107
"""Reminders the simulated workers clear a minute: issue 13's first English measure."""
NOOP_S = 0.016
"""Worker-seconds a job costs when its reminder is already done (issue 13: 15-18 ms)."""
MEMORY_EVERY_PASSES = 12
"""Redis memory is measured once a simulated minute (it walks every queued job)."""
MAX_SIMULATED_S = 6 * 3600


class LegacyQueue(RedisQueue):
    """The enqueue before issue 13: a fresh random job id each time, nothing checked."""

    def __init__(self, url: str, name: str) -> None:
        super().__init__(url, name)
        self.created: list[str] = []

    def enqueue(
        self, job: str, record_ids: Sequence[str], *, replace_started: bool = False
    ) -> list[str]:
        queue = self.queues[job]
        datas = [
            Queue.prepare_data(
                job,
                args=[record_id],
                timeout=JOB_TIMEOUT_S,
                result_ttl=0,
                failure_ttl=FAILED_JOB_TTL_S,
                description=job,
            )
            for record_id in record_ids
        ]
        with self.connection.pipeline() as pipe:
            made = queue.enqueue_many(datas, pipeline=pipe)
            pipe.execute()
        self.created.extend(rq_job.id for rq_job in made)
        return list(record_ids)


@dataclass
class Outcome:
    label: str
    reminders: int
    enqueued: int = 0
    simulated_s: float = 0.0
    peak_queue: int = 0
    peak_memory_bytes: int = 0
    sweep_wall_s: float = 0.0
    wall_s: float = 0.0
    looks: int = 0
    redis_commands: int = 0
    per_reminder: Counter[str] = field(default_factory=Counter)

    @property
    def duplicates(self) -> int:
        return self.enqueued - self.reminders


def fresh_database() -> str:
    """A migrated bench database and the id of an API key to own the reminders."""
    db = support.fresh_database(BENCH_DB)
    with db.session() as session:
        owner = issue_key(session, Role.SCHEDULER, "bench").id
    db.dispose()
    return owner


def add_backlog(pipeline: Pipeline, owner: str, count: int, now: datetime) -> list[str]:
    """``count`` reminders due now, queued as the API queues them (one render each)."""
    ids = [uuid.uuid4().hex for _ in range(count)]
    rows = [
        {
            "id": reminder_id,
            "owner_key_id": owner,
            "kind": "appointment_reminder",
            "channel": "phone",
            "language": "en",
            "status": Status.SCHEDULED,
            "send_at": now,
            "expires_at": now + timedelta(days=3),
            "facts": {},
            "queued_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for reminder_id in ids
    ]
    with pipeline.db.session() as session:
        session.execute(insert(Reminder), rows)
    pipeline.enqueue(RENDER_JOB, *ids)
    return ids


def work(
    pipeline: Pipeline, queue: RedisQueue, budget_s: float, done: set[str], render_s: float
) -> float:
    """Simulated workers take jobs from the head of the render queue while time lasts,
    ``render_s`` each; returns the time left over (negative: the last job ran past the
    pass)."""
    render = queue.queues[RENDER_JOB]
    finished: list[str] = []
    while budget_s > 0:
        job_id = queue.connection.lpop(render.key)
        if job_id is None:
            break
        rq_job = Job.fetch(job_id.decode(), connection=queue.connection, serializer=JSONSerializer)
        (reminder_id,) = rq_job.args
        rq_job.delete(remove_from_queue=False)  # result_ttl=0: a finished job leaves nothing
        if reminder_id in done:
            budget_s -= NOOP_S
        else:
            done.add(reminder_id)
            finished.append(reminder_id)
            budget_s -= render_s
    if finished:
        with pipeline.db.session() as session:
            session.execute(
                update(Reminder)
                .where(Reminder.id.in_(finished))
                .values(status=Status.DELIVERED, queued_at=None)
            )
    return budget_s


def queue_memory(queue: RedisQueue) -> tuple[int, int]:
    """Jobs waiting and the bytes Redis holds for them (list entries and job hashes)."""
    render = queue.queues[RENDER_JOB]
    job_ids = set(queue.connection.lrange(render.key, 0, -1))
    with queue.connection.pipeline(transaction=False) as pipe:
        pipe.memory_usage(render.key)
        for job_id in job_ids:
            pipe.memory_usage(Job.key_for(job_id.decode()))
        sizes = pipe.execute()
    return queue.connection.llen(render.key), sum(size or 0 for size in sizes)


def run(
    label: str, legacy: bool, reminders: int, sweepers: int, per_minute: float, backoff: bool
) -> Outcome:
    owner = fresh_database()
    render_s = WORKERS * 60 / per_minute
    with tempfile.TemporaryDirectory(prefix="tellwell-bench-") as data_dir:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=Path(data_dir),
            database_url=DATABASE_URL,
            redis_url=REDIS_URL,
            queue_name=f"bench-flood-{uuid.uuid4().hex[:8]}",
            secret_key=secrets.token_urlsafe(32),
        )
        if not backoff:
            settings.requeue_backoff_max_s = settings.requeue_after_s
        pipeline = jobs.build_pipeline(settings)
        queue: RedisQueue = (
            LegacyQueue(REDIS_URL, settings.queue_name) if legacy else pipeline.queue  # type: ignore[assignment]
        )
        if legacy:
            pipeline.queue.close()
            pipeline.queue = queue
        outcome = Outcome(label, reminders)
        commands_before = redis_commands(queue)
        started = time.perf_counter()
        now = datetime.now(UTC).replace(microsecond=0)
        ids = add_backlog(pipeline, owner, reminders, now)
        outcome.per_reminder.update(ids)
        done: set[str] = set()
        budget_s, passes = 0.0, 0
        outcome.peak_queue, outcome.peak_memory_bytes = queue_memory(queue)
        while len(done) < reminders and outcome.simulated_s < MAX_SIMULATED_S:
            passes += 1
            outcome.simulated_s += PASS_S
            budget_s = work(pipeline, queue, budget_s + WORKERS * PASS_S, done, render_s)
            sweep_started = time.perf_counter()
            for _ in range(sweepers):
                report = sweep(pipeline, now + timedelta(seconds=outcome.simulated_s))
                outcome.per_reminder.update(report.enqueued.get(RENDER_JOB, []))
                outcome.looks += report.looked_at
            outcome.sweep_wall_s += time.perf_counter() - sweep_started
            if passes % MEMORY_EVERY_PASSES == 0:
                length, memory = queue_memory(queue)
                outcome.peak_queue = max(outcome.peak_queue, length)
                outcome.peak_memory_bytes = max(outcome.peak_memory_bytes, memory)
        outcome.wall_s = time.perf_counter() - started
        outcome.redis_commands = redis_commands(queue) - commands_before
        outcome.enqueued = outcome.per_reminder.total()
        cleanup(queue, legacy, ids)
        pipeline.queue.close()
        pipeline.db.dispose()
    return outcome


def redis_commands(queue: RedisQueue) -> int:
    """Commands the Redis server has run (every client: give the bench a Redis of its own)."""
    return int(queue.connection.info("stats")["total_commands_processed"])


def cleanup(queue: RedisQueue, legacy: bool, reminder_ids: list[str]) -> None:
    """Leave the shared Redis as found: this run's queue and job hashes only."""
    render = queue.queues[RENDER_JOB]
    job_ids = (
        queue.created
        if isinstance(queue, LegacyQueue)
        else [job_id(queue.namespace, RENDER_JOB, r) for r in reminder_ids]
    )
    with queue.connection.pipeline(transaction=False) as pipe:
        for start in range(0, len(job_ids), 1000):
            pipe.delete(*[Job.key_for(job_id) for job_id in job_ids[start : start + 1000]])
        for rq_queue in queue.queues.values():
            pipe.delete(rq_queue.key)
            pipe.srem(rq_queue.redis_queues_keys, rq_queue.key)
        pipe.execute()
    assert queue.connection.llen(render.key) == 0


def report(outcomes: list[Outcome]) -> None:
    print(
        f"{'':8} {'reminders':>9} {'queued':>8} {'per rem.':>8} {'max':>4} {'dup.':>7}"
        f" {'dup. CPU':>9} {'looks':>6} {'Redis':>6}"
        f" {'cleared':>8} {'peak queue':>10} {'peak Redis':>10} {'sweeps':>8} {'wall':>6}"
    )
    for o in outcomes:
        print(
            f"{o.label:8} {o.reminders:9d} {o.enqueued:8d} {o.enqueued / o.reminders:8.2f}"
            f" {max(o.per_reminder.values()):4d} {o.duplicates:7d} {o.duplicates * NOOP_S:8.1f}s"
            f" {o.looks / o.reminders:6.2f} {o.redis_commands / o.reminders:6.1f}"
            f" {o.simulated_s / 60:7.1f}m"
            f" {o.peak_queue:10d} {o.peak_memory_bytes / 1e6:8.2f}MB"
            f" {o.sweep_wall_s:7.2f}s {o.wall_s:5.1f}s"
        )
    print(
        "queued: jobs pushed (the API's one each, plus the sweeper's); per rem./max: jobs"
        " queued per reminder, mean and most; dup.: jobs beyond one per reminder, each run"
        " for nothing at 16 ms (dup. CPU); looks: the sweeps' claims per reminder (an UPDATE"
        " each, and a check of its job in Redis; 'before' pushed a job on each); Redis:"
        " commands per reminder, the simulated workers' included; cleared: simulated time"
        " to drain the backlog; peak Redis: the queue and its job hashes at the fullest"
        " minute; sweeps: wall time of every sweep together."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=1000)
    parser.add_argument(
        "--sweepers", type=int, default=1, help="sweeps per pass, as several machines make"
    )
    parser.add_argument(
        "--per-minute", type=float, default=PER_MINUTE, help="reminders the workers clear"
    )
    parser.add_argument("--after-only", action="store_true", help="skip the old enqueue")
    args = parser.parse_args()
    common = (args.reminders, args.sweepers, args.per_minute)
    try:
        outcomes = []
        if not args.after_only:
            outcomes.append(run("before", True, *common, backoff=False))
        outcomes.append(run("one job", False, *common, backoff=False))
        outcomes.append(run("backoff", False, *common, backoff=True))
    finally:
        support.drop_database(BENCH_DB)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    print(
        f"{args.reminders} reminders due at once; {WORKERS} simulated workers at"
        f" {args.per_minute:.0f} a minute ({WORKERS * 60 / args.per_minute:.2f} worker-s each),"
        f" {NOOP_S * 1000:.0f} ms per no-op job; {args.sweepers} sweep(s) every {PASS_S:.0f} s;"
        f" looked at again after {settings.requeue_after_s:.0f} s, with the backoff up to"
        f" {settings.requeue_backoff_max_s:.0f} s"
    )
    report(outcomes)


if __name__ == "__main__":
    main()
