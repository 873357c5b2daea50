"""Ingest benchmark: ``POST /v1/reminders`` against PostgreSQL + Redis, beside a baseline.

Both servers run as real uvicorn processes on loopback, one after the other, and take the
same load: a fixed number of requests from a fixed number of client threads. The figure
that matters is the ratio of Tellwell's throughput to the bare one-INSERT endpoint's.

    .venv/bin/python bench/ingest.py [--requests 2000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import Server, database_url, fresh_database, http_server  # noqa: E402
from devtools.ports import free_port  # noqa: E402
from devtools.timezones import daytime_zone  # noqa: E402
from service.db import Database  # noqa: E402
from service.models import Role  # noqa: E402
from service.security import issue_key  # noqa: E402

BENCH_DB = "ingest"
DATABASE_URL = database_url(BENCH_DB)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
WARMUP_REQUESTS = 200
ZONE = daytime_zone()
"""Where it is mid-day now, so every call is due at once inside the calling window."""


def reminder(n: int) -> dict[str, Any]:
    """A phone reminder due now: accepting it stores it and enqueues a render job."""
    start = datetime.now(UTC) + timedelta(days=3)
    return {
        "kind": "appointment_reminder",
        "channel": "phone",
        "language": "es",
        "patient": {"name": "María López", "phone": "+13125550123", "timezone": ZONE},
        "clinic": {"name": "Riverside Clinic", "callback_phone": "+13125550100"},
        "appointment": {
            "start": start.isoformat(),
            "provider": "Dr. Chen",
            "location": "Second floor, suite 210",
        },
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


def measure(
    target: Server, path: str, headers: dict[str, str], total: int, concurrency: int
) -> dict[str, float]:
    """One round against one server: throughput, latency and server CPU per request."""
    cpu_before = target.cpu_seconds()
    figures = load(f"{target.url}{path}", headers, total, concurrency)
    figures["cpu_ms"] = (target.cpu_seconds() - cpu_before) / total * 1000
    return figures


def median_round(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def report(name: str, figures: dict[str, float]) -> None:
    print(
        f"{name:<30} {figures['rps']:6.0f} req/s   p50 {figures['p50_ms']:6.1f} ms"
        f"   p99 {figures['p99_ms']:6.1f} ms   server CPU {figures['cpu_ms']:.2f} ms/req",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="per round and server")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    fresh_database(BENCH_DB).dispose()
    queue = redis.Redis.from_url(REDIS_URL)
    queue.flushdb()
    db = Database(DATABASE_URL)
    with db.session() as session:
        key = issue_key(session, Role.SCHEDULER, "bench").raw
    db.dispose()
    auth = {"Authorization": f"Bearer {key}"}
    python = sys.executable
    bare_port, port = free_port(), free_port()
    bare_command = [
        python,
        "-m",
        "uvicorn",
        "bench.bare_app:app",
        "--port",
        str(bare_port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    tellwell_command = [python, "-m", "service", "serve", "--port", str(port)]

    print(
        f"{args.rounds} rounds of {args.requests} requests per server, {args.concurrency} "
        "client threads, one server process each; medians of the rounds"
    )
    with (
        tempfile.TemporaryDirectory() as data_dir,
        http_server(bare_command, {"BENCH_DATABASE_URL": DATABASE_URL}, bare_port) as bare_server,
        http_server(
            tellwell_command,
            {
                "TELLWELL_DATABASE_URL": DATABASE_URL,
                "TELLWELL_REDIS_URL": REDIS_URL,
                "TELLWELL_DATA_DIR": data_dir,
                "TELLWELL_SECRET_KEY": "bench",
            },
            port,
        ) as tellwell_server,
    ):
        targets = [(bare_server, "/insert", {}), (tellwell_server, "/v1/reminders", auth)]
        for target, path, headers in targets:
            measure(target, path, headers, WARMUP_REQUESTS, args.concurrency)
        rounds: list[list[dict[str, float]]] = [[], []]
        for _ in range(args.rounds):  # interleaved, so drift in the machine hits both alike
            for figures, (target, path, headers) in zip(rounds, targets, strict=True):
                figures.append(measure(target, path, headers, args.requests, args.concurrency))
    bare, tellwell = median_round(rounds[0]), median_round(rounds[1])
    report("bare FastAPI, one INSERT", bare)
    report("tellwell POST /v1/reminders", tellwell)
    queued = queue.llen("rq:queue:tellwell")
    queue.flushdb()
    print(f"render jobs waiting in Redis: {queued} (one per reminder accepted)")
    print(
        f"throughput ratio tellwell/bare: {tellwell['rps'] / bare['rps']:.2f}"
        f"   p50 ratio: {tellwell['p50_ms'] / bare['p50_ms']:.2f}"
        f"   p99 ratio: {tellwell['p99_ms'] / bare['p99_ms']:.2f}"
        f"   CPU ratio: {tellwell['cpu_ms'] / bare['cpu_ms']:.2f}"
    )


if __name__ == "__main__":
    main()
