"""Appointments benchmark: upserts per second through the API, and planning 10,000 visits.

1. ``PUT /v1/appointments/{clinic}/{id}`` against PostgreSQL, served by a real
   ``tellwell serve`` process, beside the bare one-INSERT FastAPI endpoint of
   ``bench/bare_app.py`` (same framework, server, driver and database) taking the same
   bodies in the same run; first creations (201, two reminders planned each), then moves
   of every visit (200, reminders re-timed). The figure is the ratio to the bare insert.
2. The planner on 10,000 visits: the pure function alone (``service.planning``), then
   planner plus writes (``service.appointments.put_appointment``, one transaction per
   visit, as the API does), in this process.

    .venv/bin/python bench/appointments.py [--requests 2000] [--concurrency 16]

The server runs without Redis (in-process queue): a visit days ahead enqueues nothing, and
the shared Redis is left alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import support  # noqa: E402
from bench.ingest import median_round  # noqa: E402
from bench.support import database_url, drop_database, http_server  # noqa: E402
from devtools.clinics import sample_clinic  # noqa: E402
from devtools.ports import free_port  # noqa: E402
from service.appointments import put_appointment  # noqa: E402
from service.call_policy import CallingHours  # noqa: E402
from service.db import Database  # noqa: E402
from service.models import Role  # noqa: E402
from service.planning import plan_reminders, schedule_offsets  # noqa: E402
from service.schemas import AppointmentRequest  # noqa: E402
from service.security import Caller, issue_key  # noqa: E402
from templates import available_kinds, languages  # noqa: E402

BENCH_DB = "appointments"
DATABASE_URL = database_url(BENCH_DB)
WARMUP_REQUESTS = 200
PLANNED_VISITS = 10_000
"""The issue's figure: the planning time for 10,000 appointments."""
SCHEDULE = {"appointment_reminder": [{"days_before": 3, "at": "10:00"}, {"hours_before": 2}]}
CLINIC = sample_clinic(schedule=SCHEDULE)


def fresh_database(name: str = BENCH_DB, clinic: dict[str, Any] = CLINIC) -> str:
    """The bench database ``name``, made again with ``clinic``; returns a scheduler key."""
    db = support.fresh_database(name, clinic)
    with db.session() as session:
        key = issue_key(session, Role.SCHEDULER, "bench").raw
    db.dispose()
    return key


def visit_start(n: int, moved: bool = False) -> datetime:
    """Visits spread over the next four weeks, on the quarter hour, some early morning."""
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=4)
    start = base + timedelta(minutes=15 * (n % 2688))
    return start + timedelta(hours=1) if moved else start


def appointment(n: int, version: int = 1, moved: bool = False) -> dict[str, Any]:
    return {
        "patient": {"name": "María López", "phone": "+13125550123", "language": "es"},
        "start": visit_start(n, moved).isoformat(),
        "provider": "Dr. Chen",
        "location": "Second floor, suite 210",
        "version": version,
    }


Request = Callable[[httpx.Client, int], httpx.Response]


def load(base: str, send: Request, expect: int, total: int, concurrency: int) -> dict[str, float]:
    """``total`` requests from ``concurrency`` threads; requests/s and latency in ms."""
    per_thread = total // concurrency

    def client_loop(offset: int) -> list[float]:
        seen = []
        with httpx.Client(base_url=base, timeout=60) as client:
            for n in range(offset * per_thread, (offset + 1) * per_thread):
                started = time.perf_counter()
                response = send(client, n)
                seen.append(time.perf_counter() - started)
                if response.status_code != expect:
                    raise SystemExit(f"unexpected {response.status_code}: {response.text}")
        return seen

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = [s for seen in pool.map(client_loop, range(concurrency)) for s in seen]
    elapsed = time.perf_counter() - began
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": quantiles[49] * 1000,
        "p99_ms": quantiles[98] * 1000,
    }


def report(name: str, figures: dict[str, float]) -> None:
    print(
        f"{name:<40} {figures['rps']:6.0f} req/s   p50 {figures['p50_ms']:6.1f} ms"
        f"   p99 {figures['p99_ms']:6.1f} ms",
        flush=True,
    )


def api_figures(key: str, total: int, rounds: int, concurrency: int) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    python = sys.executable
    bare_port, port = free_port(), free_port()
    bare_command = [python, "-m", "uvicorn", "bench.bare_app:app", "--port", str(bare_port),
                    "--log-level", "warning", "--no-access-log"]  # fmt: skip
    tellwell_command = [python, "-m", "service", "serve", "--port", str(port)]
    with (
        tempfile.TemporaryDirectory() as data_dir,
        http_server(bare_command, {"BENCH_DATABASE_URL": DATABASE_URL}, bare_port) as bare_server,
        http_server(
            tellwell_command,
            {
                "TELLWELL_DATABASE_URL": DATABASE_URL,
                "TELLWELL_REDIS_URL": "",
                "TELLWELL_DATA_DIR": data_dir,
                "TELLWELL_SECRET_KEY": "bench",
            },
            port,
        ) as tellwell_server,
    ):

        def bare(client: httpx.Client, n: int) -> httpx.Response:
            return client.post("/insert", json=appointment(n))

        def phase(offset: int, version: int, moved: bool) -> Request:
            def put(client: httpx.Client, n: int) -> httpx.Response:
                path = f"/v1/appointments/riverside/bench-{offset + n}"
                return client.put(path, json=appointment(n, version, moved), headers=auth)

            return put

        load(bare_server.url, bare, 202, WARMUP_REQUESTS, concurrency)
        load(tellwell_server.url, phase(10**9, 1, False), 201, WARMUP_REQUESTS, concurrency)
        figures: dict[str, list[dict[str, float]]] = {"bare": [], "create": [], "move": []}
        for round_number in range(rounds):  # interleaved, so drift hits all alike
            offset = round_number * total
            figures["bare"].append(load(bare_server.url, bare, 202, total, concurrency))
            create = phase(offset, 1, False)
            figures["create"].append(load(tellwell_server.url, create, 201, total, concurrency))
            move = phase(offset, 2, True)
            figures["move"].append(load(tellwell_server.url, move, 200, total, concurrency))
    bare_median = median_round(figures["bare"])
    create_median = median_round(figures["create"])
    move_median = median_round(figures["move"])
    report("bare FastAPI, one INSERT", bare_median)
    report("PUT appointment, created (2 planned)", create_median)
    report("PUT appointment, moved (2 re-timed)", move_median)
    print(
        f"throughput ratio create/bare: {create_median['rps'] / bare_median['rps']:.2f}"
        f"   move/bare: {move_median['rps'] / bare_median['rps']:.2f}"
    )


def planning_figures(visits: int) -> None:
    hours = CallingHours.parse("08:00", "21:00")  # the clinic's
    offsets = schedule_offsets(SCHEDULE)
    now = datetime.now(UTC)
    starts = [visit_start(n) for n in range(visits)]
    began = time.perf_counter()
    planned = sum(len(plan_reminders(s, "America/New_York", offsets, hours, now)) for s in starts)
    pure_s = time.perf_counter() - began
    print(
        f"pure planner, {visits} visits: {pure_s * 1000:.0f} ms "
        f"({pure_s / visits * 1e6:.1f} µs each, {planned} reminders)"
    )

    db = Database(DATABASE_URL)
    offered = {code: available_kinds(code) for code in languages()}
    with db.session() as session:
        caller_id = issue_key(session, Role.SCHEDULER, "bench-planner").id
    caller = Caller(id=caller_id, role=Role.SCHEDULER)
    requests = [AppointmentRequest.model_validate(appointment(n)) for n in range(visits)]
    began = time.perf_counter()
    with db.sessions() as session:
        for n, request in enumerate(requests):
            put_appointment(session, caller, "riverside", f"plan-{n}", request, offered, now)
    written_s = time.perf_counter() - began
    db.dispose()
    print(
        f"planner + writes, {visits} visits, one transaction each: {written_s:.1f} s "
        f"({visits / written_s:.0f} visits/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="per round and phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--visits", type=int, default=PLANNED_VISITS, help="for the planner")
    args = parser.parse_args()
    key = fresh_database()
    print(
        f"{args.rounds} rounds of {args.requests} requests per phase, {args.concurrency} "
        "client threads, one server process each; medians of the rounds"
    )
    api_figures(key, args.requests, args.rounds, args.concurrency)
    planning_figures(args.visits)
    drop_database(BENCH_DB)


if __name__ == "__main__":
    main()
