"""Ingest benchmark: ``POST /v1/reminders`` against PostgreSQL + Redis, beside a baseline.

Both servers run as real uvicorn processes on loopback, one after the other, and take the
same load: a fixed number of requests from a fixed number of client threads. The figure
that matters is the ratio of Tellwell's throughput to the bare one-INSERT endpoint's.

    .venv/bin/python bench/ingest.py [--requests 2000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.db import Database  # noqa: E402
from service.models import Role  # noqa: E402
from service.security import issue_key  # noqa: E402

POSTGRES_ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1/test")
BENCH_DB = "tellwell_bench"
DATABASE_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DB}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
WARMUP_REQUESTS = 200
SERVER_START_TIMEOUT_S = 30


def fresh_database() -> None:
    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{BENCH_DB}"')
    Database(DATABASE_URL).migrate()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server(command: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while True:
        try:
            httpx.get(f"{url}/docs", timeout=1)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def reminder(n: int) -> dict[str, Any]:
    start = datetime.now(UTC) + timedelta(days=3)
    return {
        "kind": "appointment_reminder",
        "channel": "phone",
        "language": "es",
        "patient": {"name": "María López", "phone": "+13125550123", "timezone": "America/Chicago"},
        "clinic": {"name": "Riverside Clinic", "callback_phone": "+13125550100"},
        "appointment": {
            "start": start.isoformat(),
            "provider": "Dr. Chen",
            "location": "Second floor, suite 210",
        },
        "send_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "external_id": f"appt-{n}",
    }


def load(url: str, headers: dict[str, str], total: int, concurrency: int) -> dict[str, float]:
    """Send ``total`` POSTs from ``concurrency`` threads; requests/s and latency in ms."""
    latencies: list[float] = []
    per_thread = total // concurrency

    def client_loop(offset: int) -> list[float]:
        seen = []
        with httpx.Client(headers=headers, timeout=30) as client:
            for n in range(per_thread):
                started = time.perf_counter()
                response = client.post(url, json=reminder(offset * per_thread + n))
                seen.append(time.perf_counter() - started)
                if response.status_code != 202:
                    raise SystemExit(f"unexpected {response.status_code}: {response.text}")
        return seen

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for seen in pool.map(client_loop, range(concurrency)):
            latencies.extend(seen)
    elapsed = time.perf_counter() - began
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": quantiles[49] * 1000,
        "p99_ms": quantiles[98] * 1000,
    }


def measure(name: str, run: Callable[[int], dict[str, float]], total: int) -> dict[str, float]:
    run(WARMUP_REQUESTS)
    figures = run(total)
    print(
        f"{name:<34} {figures['rps']:8.0f} req/s   p50 {figures['p50_ms']:6.1f} ms"
        f"   p99 {figures['p99_ms']:6.1f} ms",
        flush=True,
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    fresh_database()
    db = Database(DATABASE_URL)
    with db.session() as session:
        key = issue_key(session, Role.SCHEDULER, "bench").raw
    db.dispose()
    headers = {"Authorization": f"Bearer {key}"}
    python = sys.executable

    print(f"{args.requests} requests, {args.concurrency} client threads, one server process")
    bare_port = free_port()
    with server(
        [
            python,
            "-m",
            "uvicorn",
            "bench.bare_app:app",
            "--port",
            str(bare_port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        {"BENCH_DATABASE_URL": DATABASE_URL},
        bare_port,
    ) as url:
        bare = measure(
            "bare FastAPI, one INSERT",
            lambda n: load(f"{url}/insert", {}, n, args.concurrency),
            args.requests,
        )

    port = free_port()
    with (
        tempfile.TemporaryDirectory() as data_dir,
        server(
            [python, "-m", "service", "serve", "--port", str(port)],
            {
                "TELLWELL_DATABASE_URL": DATABASE_URL,
                "TELLWELL_REDIS_URL": REDIS_URL,
                "TELLWELL_DATA_DIR": data_dir,
                "TELLWELL_SECRET_KEY": "bench",
            },
            port,
        ) as url,
    ):
        tellwell = measure(
            "tellwell POST /v1/reminders",
            lambda n: load(f"{url}/v1/reminders", headers, n, args.concurrency),
            args.requests,
        )

    print(
        f"throughput ratio tellwell/bare: {tellwell['rps'] / bare['rps']:.2f}"
        f"   p50 ratio: {tellwell['p50_ms'] / bare['p50_ms']:.2f}"
        f"   p99 ratio: {tellwell['p99_ms'] / bare['p99_ms']:.2f}"
    )


if __name__ == "__main__":
    main()
