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
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested
from rq.job import Job
from rq.job_lifecycle import call_exception_handlers
from rq.serializers import JSONSerializer

from workers.errors import JobFailed
from workers.outages import Backoff, Outage, wait_until_reachable
from workers.pipeline import Pipeline
from workers.queue import RedisQueue

REDIS_UNREACHABLE: tuple[type[RedisError], ...] = (RedisConnectionError, RedisTimeoutError)


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

    # The Redis calls RQ's loop makes outside its own (per-retry logging) dequeue retry.
    def heartbeat(self, *args: Any, **kwargs: Any) -> None:
        with self._outage_ends_work():
            super().heartbeat(*args, **kwargs)

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

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        """A failed job as one structured line: RQ's own logs the formatted traceback,
        message included, as text. A ``JobFailed`` was logged in full by the job itself."""
        exc = exc_info[1]
        if isinstance(exc, JobFailed):
            log.error("job %s (%s) failed: %s", job.id, job.description, exc.type_name)
        else:
            log.error("job %s (%s) failed", job.id, job.description, exc_info=exc_info)
        call_exception_handlers(self._exc_handlers, job, *exc_info)

    def teardown(self) -> None:
        try:
            super().teardown()
        except REDIS_UNREACHABLE:
            # RQ could not record the death (the key expires on its TTL) and so never got
            # to stop its pubsub thread, which would otherwise retry for ever.
            if self.pubsub_thread is not None:
                self.pubsub_thread.stop()


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
