"""Where jobs wait: RQ on Redis when configured, an in-process executor otherwise.

Both run the same job functions in ``workers.jobs`` by their import path, with the
reminder id as the only argument: no name, phone number or appointment ever sits in Redis.
Enqueueing may fail (Redis gone); callers log it and carry on, because the sweeper
enqueues again whatever the database says is due.

A job that fails reaches RQ as ``JobFailed`` naming only the exception's type
(``workers.jobs``), so the traceback RQ keeps in Redis for ``FAILED_JOB_TTL_S`` quotes no
patient data; ``Worker`` logs it through the process's safe handler (``service.logs``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.serializers import JSONSerializer
from rq.utils import import_attribute

from service.config import Settings
from workers.errors import JobFailed, QueueUnavailable

log = logging.getLogger(__name__)

RENDER_JOB = "workers.jobs.render_reminder"
DISPATCH_JOB = "workers.jobs.dispatch_reminder"
WEBHOOK_JOB = "workers.jobs.send_status_webhook"
JOB_TIMEOUT_S = 300
FAILED_JOB_TTL_S = 7 * 24 * 3600
REDIS_SOCKET_TIMEOUT_S = 5.0
ENQUEUE_BATCH = 500
"""Jobs per Redis pipeline when the sweeper enqueues a backlog."""


class JobQueue(Protocol):
    def enqueue(self, job: str, reminder_ids: Sequence[str]) -> None:
        """Queue ``job`` once for each reminder, together."""
        ...

    def ping(self) -> None: ...

    def depth(self) -> int | None:
        """Jobs waiting to start, or None when this queue cannot tell (for ``/metrics``)."""
        ...

    def close(self) -> None: ...


class RedisQueue:
    """RQ with the JSON serializer: job arguments stay readable and id-only."""

    def __init__(self, url: str, name: str) -> None:
        self.connection = Redis.from_url(
            url,
            socket_timeout=REDIS_SOCKET_TIMEOUT_S,
            socket_connect_timeout=REDIS_SOCKET_TIMEOUT_S,
        )
        self.rq = Queue(name, connection=self.connection, serializer=JSONSerializer)

    def enqueue(self, job: str, reminder_ids: Sequence[str]) -> None:
        # One pipeline for the lot: a single round trip however many jobs, where
        # enqueue_call would spend two transactions on each.
        for start in range(0, len(reminder_ids), ENQUEUE_BATCH):
            self._enqueue_batch(job, reminder_ids[start : start + ENQUEUE_BATCH])

    def _enqueue_batch(self, job: str, reminder_ids: Sequence[str]) -> None:
        jobs = [
            Queue.prepare_data(
                job,
                args=[reminder_id],
                timeout=JOB_TIMEOUT_S,
                result_ttl=0,
                failure_ttl=FAILED_JOB_TTL_S,
                description=job,
            )
            for reminder_id in reminder_ids
        ]
        try:
            with self.connection.pipeline() as pipe:
                self.rq.enqueue_many(jobs, pipeline=pipe)
                pipe.execute()
        except RedisError as err:
            raise QueueUnavailable(type(err).__name__) from err

    def ping(self) -> None:
        try:
            self.connection.ping()
        except RedisError as err:
            raise QueueUnavailable(type(err).__name__) from err

    def depth(self) -> int | None:
        try:
            return self.rq.count
        except RedisError as err:
            log.warning("queue depth unknown: %s", type(err).__name__)
            return None

    def close(self) -> None:
        self.connection.close()


class InProcessQueue:
    """The embedded default: a small thread pool in the API process."""

    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tellwell-job")

    def enqueue(self, job: str, reminder_ids: Sequence[str]) -> None:
        for reminder_id in reminder_ids:
            self._pool.submit(_run_logged, job, reminder_id)

    def ping(self) -> None:
        return None

    def depth(self) -> int | None:
        return None  # the executor's backlog is private to it

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


def _run_logged(job: str, reminder_id: str) -> None:
    # The sweeper retries once the lease lapses; the id is not PHI.
    try:
        import_attribute(job)(reminder_id)
    except JobFailed:
        pass  # the job logged it
    except Exception:
        log.exception("job %s failed for %s", job, reminder_id)


def queue_from_settings(settings: Settings) -> JobQueue:
    """RQ on Redis when a Redis URL is set, else the in-process executor."""
    if settings.redis_url:
        return RedisQueue(settings.redis_url, settings.queue_name)
    return InProcessQueue(settings.in_process_workers)
