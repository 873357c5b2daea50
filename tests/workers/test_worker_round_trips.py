"""Round trips a worker makes to Redis (issue 13): RQ beats a worker's heart five times a
job, three commands each; ``tellwell worker`` beats only around each wait for a job.

Counted with Redis's own ``MONITOR`` on the test Redis, keeping only the commands on this
worker's key, so other clients of a shared Redis do not count.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest
from redis import Redis

from workers.queue import RENDER_JOB, RedisQueue
from workers.worker import new_worker

JOBS = 12
RQ_BEATS_PER_JOB = 5
"""What RQ 3's SimpleWorker does (before and after the wait, at the job's start, after it,
and with the suspension check)."""
MARKER = "tellwell-test-monitor-end"


def heartbeats_on(url: str, key: str, run: Callable[[], object]) -> int:
    """How many heartbeats (``HSET <key> last_heartbeat``) Redis received while ``run`` ran."""
    listening, seen = threading.Event(), []
    marker = f"{MARKER}-{uuid.uuid4().hex}"

    def watch() -> None:
        with Redis.from_url(url).monitor() as monitor:
            listening.set()
            while True:
                command = monitor.next_command()["command"]
                if marker in command:
                    return
                if command.startswith(f"HSET {key} last_heartbeat"):
                    seen.append(command)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    listening.wait(10)
    run()
    Redis.from_url(url).exists(marker)  # the last command the watcher waits for
    watcher.join(30)
    assert not watcher.is_alive(), "MONITOR never saw the end marker"
    return len(seen)


@pytest.mark.redis
def test_back_to_back_jobs_beat_the_workers_heart_around_each_wait_only(redis_url: str) -> None:
    queue = RedisQueue(redis_url, f"tellwell-test-{uuid.uuid4().hex[:12]}")
    try:
        for n in range(JOBS):
            # A job that does nothing: only the worker's own round trips are left.
            queue.queues[RENDER_JOB].enqueue("os.path.basename", f"record-{n}")
        worker = new_worker(queue)
        render = queue.queues[RENDER_JOB]
        beats = heartbeats_on(redis_url, worker.key, lambda: worker.work(burst=True))
        assert render.count == 0 and render.failed_job_registry.count == 0  # all ran, all well
        # Before and after each wait for a job (JOBS + 1 waits: the last finds none), and
        # once as the worker starts; RQ alone would beat five times a job.
        assert JOBS <= beats <= 2 * (JOBS + 1) + 1
        assert beats < RQ_BEATS_PER_JOB * JOBS / 2
    finally:
        for rq_queue in queue.queues.values():
            rq_queue.empty()
        queue.close()
