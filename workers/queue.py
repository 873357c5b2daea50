"""Where jobs wait: RQ on Redis when configured, an in-process executor otherwise.

Both run the same job functions in ``workers.jobs`` by their import path, with the
record id as the only argument: no name, phone number or appointment ever sits in Redis.
Enqueueing may fail (Redis gone); callers log it and carry on, because the sweeper
enqueues again whatever the database says is due.

**One job per record and step.** A job's id is the queue's name, its step and its record's
id (``tellwell-render-<reminder id>``, ``tellwell-webhook-<delivery id>``...), and
enqueueing is a no-op while that job is still waiting or running, so a sweeper that passes
over a backlog again and again adds nothing to it (issue 13: re-enqueueing every reminder
that waited over a minute grew the queue with the square of the backlog). On Redis the
check and the push are one Lua script (``ENQUEUE_UNLESS_LIVE``), so two sweepers on two
machines cannot both push. A finished job leaves nothing (``result_ttl=0``) and a failed
one is replaced, so neither blocks the next step or a retry.

**Dispatch never waits behind rendering.** Each step has its own RQ queue and a worker
takes them in ``PRIORITY`` order: a due reminder is dispatched before the next render
starts, however many renders are queued, and a reminder rendered ahead of its send time
waits behind every render that is due.

A job that fails reaches RQ as ``JobFailed`` naming only the exception's type
(``workers.jobs``), so the traceback RQ keeps in Redis for ``FAILED_JOB_TTL_S`` quotes no
patient data; ``Worker`` logs it through the process's safe handler (``service.logs``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from rq.utils import import_attribute, now
from rq.worker import Worker

from service.config import Settings
from workers.errors import JobFailed, QueueUnavailable

log = logging.getLogger(__name__)

RENDER_JOB = "workers.jobs.render_reminder"
RENDER_AHEAD_JOB = "workers.jobs.render_reminder_ahead"
DISPATCH_JOB = "workers.jobs.dispatch_reminder"
WEBHOOK_JOB = "workers.jobs.send_status_webhook"
STEPS = {
    RENDER_JOB: "render",
    RENDER_AHEAD_JOB: "render_ahead",
    DISPATCH_JOB: "dispatch",
    WEBHOOK_JOB: "webhook",
}
"""Each job's short name: the first part of its job ids, its queue's suffix, a metric label."""
PRIORITY = (DISPATCH_JOB, WEBHOOK_JOB, RENDER_JOB, RENDER_AHEAD_JOB)
"""The order a worker takes the queues in: a call due now before a scheduler's news, both
before a render (renders are the long jobs, and there may be thousands waiting), and a
reminder due now rendered before one due later (``Settings.render_ahead_s``)."""
JOB_TIMEOUT_S = 300
FAILED_JOB_TTL_S = 7 * 24 * 3600
REDIS_SOCKET_TIMEOUT_S = 5.0
ENQUEUE_BATCH = 500
"""Jobs per Redis pipeline when the sweeper enqueues a backlog."""

ENQUEUE_UNLESS_LIVE = """
-- KEYS: the job's hash, its queue's list, its queue's failed-job registry, RQ's set of
-- queues. ARGV: job id, RQ's worker key prefix, "1" to replace a started job, then the
-- hash's fields and values. Returns 1 if the job was queued, 0 if it was already live.
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'queued' then
  -- Queued counts only while the id is in the list: a worker that popped it and died
  -- before starting it leaves a 'queued' hash behind with nothing to run it.
  if redis.call('LPOS', KEYS[2], ARGV[1]) then
    return 0
  end
elseif status == 'started' and ARGV[3] ~= '1' then
  -- Started counts only while its worker is registered and not dead.
  local worker = redis.call('HGET', KEYS[1], 'worker_name')
  if worker and worker ~= '' then
    local worker_key = ARGV[2] .. worker
    if redis.call('EXISTS', worker_key) == 1
        and redis.call('HEXISTS', worker_key, 'death') == 0 then
      return 0
    end
  end
end
-- Gone, finished, failed or stopped: this is a new job under the same id. (Replacing a
-- started job whose worker is in fact alive, only on a lapsed lease, may lose the new
-- job when the old one ends and deletes the hash; the sweeper queues it again later.)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[4], KEYS[2])
return 1
"""


def job_id(namespace: str, job: str, record_id: str) -> str:
    """The one id a step of a record runs under in Redis.

    RQ keys a job's hash by its id alone, whatever its queue, so the queue's name comes
    first: two installs (or test runs) sharing a Redis never share a job, even where their
    records' ids meet (webhook deliveries are numbered). No PHI: reminder ids are random.
    """
    return f"{namespace}-{STEPS[job]}-{record_id}"


def job_namespace(queue_name: str) -> str:
    """``queue_name`` as RQ accepts in a job id: letters, digits, ``_`` and ``-``."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", queue_name)


def queue_names(base: str) -> dict[str, str]:
    """Each job's RQ queue: renders keep the configured name, the others add their step."""
    return {job: base if job == RENDER_JOB else f"{base}-{STEPS[job]}" for job in STEPS}


class JobQueue(Protocol):
    def enqueue(
        self, job: str, record_ids: Sequence[str], *, replace_started: bool = False
    ) -> list[str]:
        """Queue ``job`` for each record whose job is not already waiting or running.

        ``replace_started`` queues it even over a running one (the database says the
        worker's lease lapsed). Returns the ids actually queued.
        """
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
        self.queues = {
            job: Queue(queue_name, connection=self.connection, serializer=JSONSerializer)
            for job, queue_name in queue_names(name).items()
        }
        self.namespace = job_namespace(name)
        self._enqueue_unless_live = self.connection.register_script(ENQUEUE_UNLESS_LIVE)

    @property
    def by_priority(self) -> list[Queue]:
        """The queues in the order a worker takes them (``PRIORITY``)."""
        return [self.queues[job] for job in PRIORITY]

    def enqueue(
        self, job: str, record_ids: Sequence[str], *, replace_started: bool = False
    ) -> list[str]:
        # One round trip for one job (the script alone), one pipeline per batch for more.
        try:
            if len(record_ids) == 1:
                (record_id,) = record_ids
                return [record_id] if self._enqueue_one(job, record_id, replace_started) else []
            queued: list[str] = []
            for start in range(0, len(record_ids), ENQUEUE_BATCH):
                batch = record_ids[start : start + ENQUEUE_BATCH]
                queued.extend(self._enqueue_batch(job, batch, replace_started))
            return queued
        except RedisError as err:
            raise QueueUnavailable(type(err).__name__) from err

    def _enqueue_one(
        self, job: str, record_id: str, replace_started: bool, client: Pipeline | None = None
    ) -> Any:
        """Run ``ENQUEUE_UNLESS_LIVE`` for one record: at once (1 if queued, 0 if live), or
        added to ``client``, a pipeline."""
        queue = self.queues[job]
        rq_job = self._new_job(queue, job, record_id)
        return self._enqueue_unless_live(
            keys=[rq_job.key, queue.key, queue.failed_job_registry.key, queue.redis_queues_keys],
            args=[
                rq_job.id,
                Worker.redis_worker_namespace_prefix,
                "1" if replace_started else "0",
                *_hash_fields(rq_job),
            ],
            client=client,
        )

    def _enqueue_batch(
        self, job: str, record_ids: Sequence[str], replace_started: bool
    ) -> list[str]:
        with self.connection.pipeline(transaction=False) as pipe:
            for record_id in record_ids:
                self._enqueue_one(job, record_id, replace_started, client=pipe)
            added = pipe.execute()
        return [
            record_id for record_id, was_added in zip(record_ids, added, strict=True) if was_added
        ]

    def _new_job(self, queue: Queue, job: str, record_id: str) -> Job:
        rq_job = queue.create_job(
            job,
            args=[record_id],
            timeout=JOB_TIMEOUT_S,
            result_ttl=0,
            failure_ttl=FAILED_JOB_TTL_S,
            description=job,
            job_id=job_id(self.namespace, job, record_id),
            status=JobStatus.QUEUED,
        )
        rq_job.enqueued_at = now()
        return rq_job

    def ping(self) -> None:
        try:
            self.connection.ping()
        except RedisError as err:
            raise QueueUnavailable(type(err).__name__) from err

    def depth(self) -> int | None:
        try:
            with self.connection.pipeline(transaction=False) as pipe:
                for queue in self.queues.values():
                    pipe.llen(queue.key)
                return sum(pipe.execute())
        except RedisError as err:
            log.warning("queue depth unknown: %s", type(err).__name__)
            return None

    def close(self) -> None:
        self.connection.close()


def _hash_fields(rq_job: Job) -> list[Any]:
    """The job's hash as HSET arguments, as RQ saves it (empty values left out)."""
    fields: list[Any] = []
    for name, value in rq_job.to_dict().items():
        if value is not None:
            fields.extend((name, value))
    return fields


class InProcessQueue:
    """The embedded default: a small thread pool in the API process.

    Keeps the same promise as ``RedisQueue``: a step of a record is queued at most once
    while it waits or runs (``replace_started`` adds one beside a running one).
    """

    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tellwell-job")
        self._lock = threading.Lock()
        self._waiting: set[tuple[str, str]] = set()
        self._running: Counter[tuple[str, str]] = Counter()

    def enqueue(
        self, job: str, record_ids: Sequence[str], *, replace_started: bool = False
    ) -> list[str]:
        queued = []
        for record_id in record_ids:
            key = (job, record_id)
            with self._lock:
                if key in self._waiting or (self._running[key] and not replace_started):
                    continue
                self._waiting.add(key)
            self._pool.submit(self._run, job, record_id, key)
            queued.append(record_id)
        return queued

    def _run(self, job: str, record_id: str, key: tuple[str, str]) -> None:
        with self._lock:
            self._waiting.discard(key)
            self._running[key] += 1
        try:
            _run_logged(job, record_id)
        finally:
            with self._lock:
                self._running[key] -= 1
                if not self._running[key]:
                    del self._running[key]

    def ping(self) -> None:
        return None

    def depth(self) -> int | None:
        return None  # the executor's backlog is private to it

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


def _run_logged(job: str, record_id: str) -> None:
    # The sweeper retries once the lease lapses; the id is not PHI.
    try:
        import_attribute(job)(record_id)
    except JobFailed:
        pass  # the job logged it
    except Exception:
        log.exception("job %s failed for %s", job, record_id)


def queue_from_settings(settings: Settings) -> JobQueue:
    """RQ on Redis when a Redis URL is set, else the in-process executor."""
    if settings.redis_url:
        return RedisQueue(settings.redis_url, settings.queue_name)
    return InProcessQueue(settings.in_process_workers)
