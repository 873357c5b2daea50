"""``tellwell worker``'s work loop: RQ's SimpleWorker, kept working through Redis outages.

RQ retries a lost connection only while it waits for a job, logging every retry, and quits
when it meets one anywhere else. Seen in production: after a job, the heartbeat found Redis
down for 30 s, both workers logged "found an unhandled exception, quitting..." and exited,
and 247 reminders waited for a person. Here any Redis connection error ends RQ's loop
quietly; ``run_worker`` logs the outage once, waits for Redis with backoff and starts a
fresh RQ worker. The fresh one has a new name, so the old registration (which Redis
forgets on its TTL, if Redis kept it at all) never stands in its way.

Nothing is lost meanwhile: a job cut off by the outage leaves its reminder with a lapsed
lease or an old ``queued_at`` in the database, and the sweeper enqueues it again.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from redis.client import Pipeline as RedisPipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested
from rq.executions import Execution, ExecutionRegistry
from rq.job import Job
from rq.job_lifecycle import call_exception_handlers
from rq.registry import StartedJobRegistry
from rq.results import Result
from rq.serializers import JSONSerializer
from rq.utils import now

from workers.errors import JobFailed
from workers.outages import Backoff, Outage, wait_until_reachable
from workers.pipeline import Pipeline
from workers.queue import RedisQueue

REDIS_UNREACHABLE: tuple[type[RedisError], ...] = (RedisConnectionError, RedisTimeoutError)
HEARTBEAT_EVERY_S = 10.0
"""Beats this close together add nothing: RQ keeps a worker's key for 480 s after one
(``DEFAULT_WORKER_TTL`` + 60), and a job ends within ``JOB_TIMEOUT_S``."""
COMMAND_LISTENER_POLL_S = 1.0
"""How long the thread that hears RQ's worker commands (shutdown, kill a job) waits per
poll: the longest a stopping worker may wait for it (RQ's is 60 s)."""


log = logging.getLogger(__name__)


class RedisOutage(StopRequested):
    """Ends RQ's work loop the way a stop request does: quietly, with its usual teardown."""


class OutageTolerantWorker(SimpleWorker):
    """A SimpleWorker that hands a Redis outage to its caller instead of dying of it.

    ``lost_redis`` holds the error that ended ``work()``, or None if it ended for another
    reason (a stop signal, a burst done).
    """

    lost_redis: RedisError | None = None

    @contextmanager
    def _outage_ends_work(self) -> Iterator[None]:
        try:
            yield
        except REDIS_UNREACHABLE as err:
            self.lost_redis = err
            raise RedisOutage(type(err).__name__) from err

    _waiting_for_job = False
    _beats_this_wait = 0
    _last_beat_at: float | None = None

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        self._waiting_for_job, self._beats_this_wait = True, 0
        try:
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        finally:
            self._waiting_for_job = False

    # The Redis calls RQ's loop makes outside its own (per-retry logging) dequeue retry.
    def heartbeat(self, timeout: int | None = None, pipeline: RedisPipeline | None = None) -> None:
        """RQ's heartbeat, at most every ``HEARTBEAT_EVERY_S`` but before each wait for a job.

        RQ beats five times a job, three Redis commands each (issue 13). The first beat of
        each wait for a job always goes out: it finds a Redis outage before RQ's own
        dequeue retry would log it once a second. The others (after the wait, around the
        job) are skipped when one went out less than ``HEARTBEAT_EVERY_S`` ago; the
        worker's key then expires at most that much sooner than RQ asked, still minutes
        after any job ends. A beat of its own is one round trip, not RQ's three.
        """
        first_of_wait = self._waiting_for_job and self._beats_this_wait == 0
        if not first_of_wait and self._beat_within(HEARTBEAT_EVERY_S):
            return
        with self._outage_ends_work():
            if pipeline is not None:
                super().heartbeat(timeout, pipeline)
            else:
                with self.connection.pipeline(transaction=False) as own:
                    super().heartbeat(timeout, own)
                    own.execute()
        self._beats_this_wait += 1
        self._last_beat_at = time.monotonic()

    def _beat_within(self, seconds: float) -> bool:
        return self._last_beat_at is not None and time.monotonic() - self._last_beat_at < seconds

    def set_state(self, state: str, pipeline: RedisPipeline | None = None) -> None:
        """RQ's, without writing again the state Redis already has (idle after a job,
        then idle again while waiting for the next)."""
        if pipeline is None and state == self.get_state():
            return
        super().set_state(state, pipeline)

    def check_for_suspension(self, burst: bool) -> None:
        with self._outage_ends_work():
            super().check_for_suspension(burst)

    def run_maintenance_tasks(self) -> None:
        with self._outage_ends_work():
            super().run_maintenance_tasks()

    def execute_job(self, job: Job, queue: Queue) -> None:
        # The job keeps its own records in the database; only RQ's note of it is lost.
        with self._outage_ends_work():
            super().execute_job(job, queue)

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        """RQ's, without the job's heartbeat: it keeps a job's record alive for its
        callbacks, and these jobs have none; the record is ended in the next round trip."""
        job.ended_at = now()

    def handle_job_success(
        self, job: Job, queue: Queue, started_job_registry: StartedJobRegistry, execution: Execution
    ) -> None:
        """A finished job's record and execution deleted in one round trip.

        RQ first reads the job's dependents, its stored status and (twice) its executions
        back, about ten round trips (issue 13). Jobs made by ``workers.queue`` have no
        dependents, repeats, group or rate limit, and keep no result (``result_ttl=0``):
        what is left is what RQ deletes, in one transaction. The job's hash goes with it,
        so the next step of the record is queued under the same id at once. Any other job
        takes RQ's way.
        """
        if not _plain(job):
            super().handle_job_success(job, queue, started_job_registry, execution)
            return
        assert job.started_at is not None and job.ended_at is not None
        with self.connection.pipeline() as pipeline:
            self.increment_successful_job_count(pipeline=pipeline)
            self.increment_total_working_time(job.ended_at - job.started_at, pipeline)
            pipeline.delete(
                job.key, job.dependents_key, job.dependencies_key, Result.get_key(job.id)
            )
            self.cleanup_execution(job, pipeline=pipeline, execution=execution)
            pipeline.delete(ExecutionRegistry(job_id=job.id, connection=self.connection).key)
            pipeline.execute()

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        """A failed job as one structured line: RQ's own logs the formatted traceback,
        message included, as text. A ``JobFailed`` was logged in full by the job itself."""
        exc = exc_info[1]
        if isinstance(exc, JobFailed):
            log.error("job %s (%s) failed: %s", job.id, job.description, exc.type_name)
        else:
            log.error("job %s (%s) failed", job.id, job.description, exc_info=exc_info)
        call_exception_handlers(self._exc_handlers, job, *exc_info)

    def subscribe(self) -> None:
        """RQ's, with a listener that polls every ``COMMAND_LISTENER_POLL_S``.

        A stopping worker unsubscribes, then joins the listener thread (redis-py 8 waits
        for it). A listener that heard the unsubscription before the join went back to
        waiting for a subscription for its whole poll, RQ's 60 s: seen here, one stop in
        six under load took 61 s, past a container's 10 s grace before SIGKILL.
        """
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]  # RQ types it None
            sleep_time=COMMAND_LISTENER_POLL_S,
            daemon=True,
            exception_handler=self._pubsub_exception_handler,
        )

    def teardown(self) -> None:
        try:
            super().teardown()
        except REDIS_UNREACHABLE:
            # RQ could not record the death (the key expires on its TTL) and so never got
            # to stop its pubsub thread, which would otherwise retry for ever.
            if self.pubsub_thread is not None:
                self.pubsub_thread.stop()


def _plain(job: Job) -> bool:
    """A job with nothing for RQ to do when it succeeds but delete it (``workers.queue``)."""
    return (
        job.result_ttl == 0
        and not job.repeats_left
        and not job.group_id
        and not job.has_rate_limit
        and not job.success_callback
    )


def new_worker(queue: RedisQueue) -> OutageTolerantWorker:
    """An RQ worker on every queue, taken in ``workers.queue.PRIORITY`` order: RQ pops
    from the first non-empty one, so a due dispatch never waits behind queued renders."""
    return OutageTolerantWorker(
        queue.by_priority, connection=queue.connection, serializer=JSONSerializer
    )


def run_worker(pipeline: Pipeline, *, burst: bool = False) -> None:
    """Work jobs until stopped (or, with ``burst``, until the queue is empty).

    A Redis outage of any length only pauses it: one line when Redis stops answering, one
    when it answers again, and between them tries spaced by ``outage_retry_max_s`` at most.
    """
    queue = pipeline.queue
    assert isinstance(queue, RedisQueue), "tellwell worker needs TELLWELL_REDIS_URL"
    outage = Outage("redis", "worker")
    backoff = Backoff(pipeline.settings.outage_retry_max_s)
    while True:
        worker = new_worker(queue)
        try:
            worker.work(burst=burst)
        except REDIS_UNREACHABLE as err:  # while registering, before RQ's loop began
            worker.lost_redis = err
        if worker.lost_redis is None:
            return
        outage.down(worker.lost_redis)
        with _stop_signals_end_waiting():
            try:
                wait_until_reachable(queue.connection.ping, outage, backoff, REDIS_UNREACHABLE)
            except StopRequested:
                return


@contextmanager
def _stop_signals_end_waiting() -> Iterator[None]:
    """Between RQ workers no job runs, so SIGTERM or Ctrl-C may simply end the wait.

    (The handlers the last RQ worker installed would try to tell Redis first.)
    """

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise StopRequested

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
