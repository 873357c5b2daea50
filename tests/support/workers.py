"""A real ``tellwell worker`` process that shares the test's database, queue and files."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import SecretStr

from service.clock import SYSTEM_CLOCK, Clock
from service.config import Settings
from workers import jobs
from workers.pipeline import Pipeline
from workers.queue import RedisQueue

BURST_TIMEOUT_S = 120
"""A burst worker that has not finished its queue by then is stuck: the test fails."""
STOP_TIMEOUT_S = 60
"""A worker asked to stop (SIGTERM: finish the job, stop the sweeper) must be gone by then."""


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment a separate ``tellwell worker`` process needs to share our records."""
    return {
        **os.environ,
        "TELLWELL_DATA_DIR": str(settings.data_dir),
        "TELLWELL_DATABASE_URL": settings.sqlalchemy_url,
        "TELLWELL_REDIS_URL": settings.redis_url,
        "TELLWELL_QUEUE_NAME": settings.queue_name,
        "TELLWELL_SECRET_KEY": settings.secret_key.get_secret_value(),
        "TELLWELL_PUBLIC_BASE_URL": settings.public_base_url,
    }


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a ``tellwell`` process exactly these settings."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, bool):
            value = str(value).lower()
        env[f"TELLWELL_{name.upper()}"] = str(value)
    env["TELLWELL_DATABASE_URL"] = settings.sqlalchemy_url
    return env


def run_burst_worker(
    settings: Settings, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A real ``tellwell worker --burst`` in its own process, sharing our records."""
    done = subprocess.run(
        [sys.executable, "-m", "service", "worker", "--burst"],
        env=env or worker_env(settings),
        capture_output=True,
        text=True,
        timeout=BURST_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@contextmanager
def running_worker(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``tellwell worker`` (not burst) for the block; stopped as an operator would."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "service", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def empty_queues(pipeline: Pipeline) -> None:
    """Drop every job waiting in the pipeline's Redis queues."""
    assert isinstance(pipeline.queue, RedisQueue)
    for queue in pipeline.queue.queues.values():
        queue.empty()


@contextmanager
def built_pipeline(settings: Settings, clock: Clock = SYSTEM_CLOCK) -> Iterator[Pipeline]:
    """The pipeline a worker builds from ``settings``; afterwards its queues are emptied and
    its connections closed, so no job or connection outlives the test."""
    pipeline = jobs.build_pipeline(settings, clock=clock)
    try:
        yield pipeline
    finally:
        empty_queues(pipeline)
        pipeline.queue.close()
        pipeline.db.dispose()
