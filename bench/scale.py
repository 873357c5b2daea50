"""Scale benchmark (issue 13): reminders end to end through real processes, beside the bare
engine on the same texts.

Per language, on a fresh PostgreSQL database and a Redis queue of its own:

1. The API (``tellwell serve``) and K workers (``tellwell worker``, each with its sweeper)
   start as real processes, delivering to the outbox.
2. **Timed reminders**: a few are posted with send times spread over the expected run, and
   rendered ahead (``render_ahead_s``) while nothing else runs.
3. **Load**: N reminders due now are posted (mixed kinds and channels; a few clinics,
   providers, places and slot times repeat as they do in a real schedule; every name is
   new), and the run waits until every reminder has reached an end state. The timed
   reminders fall due meanwhile: for those that fell due while the load ran (``due n``),
   the delay from send time to the channel (the attempt's start) is the due-to-dispatch
   figure at full rendering load.
4. **Bare engine**: the language's engine speaks the same texts the workers spoke (the
   message and, for calls, the voicemail), for a sample of the reminders (again and again
   for at least ``BARE_MIN_S``), in K processes, without templates, cache, encoding, queue
   or database.

Printed per language: reminders a minute end to end and the bare engine's, their ratio,
CPU seconds per reminder of the whole pipeline (API, workers and their children, Redis,
the bench database's PostgreSQL backends) and of the bare engine, their ratio (what the
rate ratio would be on a machine running nothing else: both are CPU-bound), CPU seconds
and peak RSS per process (a worker's forked work-horses count in its CPU),
due-to-dispatch p50/p99, and per reminder the PostgreSQL transactions (``pg_stat_database``
commits and rollbacks, the bench's own polls left out: every statement runs in one, so
it is a floor on round trips) and
Redis commands (``INFO stats``, every process included), the most frequent by name.
``BENCH_REDIS_URL`` should name a Redis of the bench's own (``redis-server --port 6391``):
``INFO`` counts every client of the server, and the run flushes its database.

    .venv/bin/python bench/scale.py [--reminders 1000] [--workers 2] [--languages en,es]

``--peak`` measures the morning peak instead: every reminder posted for one send time far
enough ahead to be rendered first (in the lowest-priority queue), then the time from the
send time to each reminder's channel, when the peak is dispatch only.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import support  # noqa: E402
from devtools.ports import free_port  # noqa: E402
from devtools.timezones import daytime_zone  # noqa: E402
from service.models import Role  # noqa: E402
from service.security import issue_key  # noqa: E402
from templates.render import render_message  # noqa: E402
from voices import (  # noqa: E402
    EspeakEngine,
    PicoEngine,
    PiperEngine,
    RhvoiceEngine,
    configured_speaker,
)
from voices.base import Engine  # noqa: E402
from workers.rendering import VARIANT_FOR_CHANNEL, message_facts  # noqa: E402

BENCH_DB = os.environ.get("BENCH_SCALE_DB", "scale")
"""Two runs at once (two worktrees) need two names: the database is dropped at the start."""
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
"""A Redis of the run's own gives exact command counts: ``INFO`` counts every client's."""
QUEUE = f"tellwell-bench-{BENCH_DB}"
TIMED = 40
"""Reminders rendered ahead that fall due during the load."""
TIMED_SPREAD_S = 60.0
"""Their send times spread over the first minute of the load (any run takes longer)."""
LOAD_HEAD_START_S = 10.0
BARE_SAMPLE = 60
"""Reminders whose texts the bare engine speaks (the rate is per reminder)."""
BARE_MIN_S = 20.0
"""The bare engine speaks the sample again until this long has passed: espeak-ng gets
through 60 reminders in two seconds, too short to time (its rate moved by a fifth from one
run to the next)."""
REDIS_COMMANDS_SHOWN = 12
END_STATES = ("delivered", "voicemail", "confirmed", "failed", "expired", "cancelled")
ZONE = daytime_zone()
CLINICS = [
    {"name": "Riverside Clinic", "callback_phone": "+13125550100"},
    {"name": "Lakeview Family Health", "callback_phone": "+13125550101"},
    {"name": "North Park Medical Center", "callback_phone": "+13125550102"},
]
PROVIDERS = ["Dr. Chen", "Dr. Okafor", "Dr. Alvarez", "Dr. Novak"]
LOCATIONS = ["Second floor, suite 210", "Building B, room 4", "Main entrance, desk 3"]
SLOTS = ["08:30", "09:00", "09:45", "10:30", "11:15", "13:00", "14:30", "15:45"]
# Enough names that 10,000 patients need no number after their name (30 x 18 x 30 =
# 16,200): "Ana A. Lopez 4" says one word more than a patient's name; with ten names of
# each, N=10,000 English took 0.144 CPU-s per reminder, with these 0.134.
FIRST = (
    "Ana", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jamal",
    "Karen", "Luis", "Maria", "Noah", "Olga", "Pedro", "Rosa", "Samir", "Tara", "Omar",
    "Lena", "Marco", "Nadia", "Paul", "Rita", "Sofia", "Tomas", "Vera", "Yusuf", "Zoe",
)  # fmt: skip
LAST = (
    "Lopez", "Smith", "Nguyen", "Garcia", "Brown", "Khan", "Rossi", "Silva", "Cohen", "Park",
    "Jones", "Diaz", "Tran", "Perez", "Wilson", "Ali", "Bianchi", "Costa", "Levy", "Kim",
    "Miller", "Ruiz", "Pham", "Torres", "Taylor", "Ahmed", "Greco", "Santos", "Katz", "Lee",
)  # fmt: skip
KINDS = ["appointment_reminder"] * 7 + ["appointment_changed"] * 2 + ["result_ready"]
CHANNELS = ["phone"] * 7 + ["app"] * 3
ENGINES: dict[str, type[Engine]] = {
    "piper": PiperEngine,
    "espeak": EspeakEngine,
    "pico": PicoEngine,
    "rhvoice": RhvoiceEngine,
}


def names() -> Iterator[str]:
    """A new patient name every time: first, middle initial, last (then a number, once all
    are used), in a seeded random order. In the product's order the first 540 were all
    "Ana": a run of 1,000 spoke names 11% shorter than one of 10,000, and Piper's cost is
    the name's length."""
    combinations = list(itertools.product(FIRST, "ABCDEFGHJKLMNPRSTW", LAST))
    random.Random("names").shuffle(combinations)
    for number in itertools.count(1):
        for first, initial, last in combinations:
            yield f"{first} {initial}. {last}" + (f" {number}" if number > 1 else "")


def reminder_body(n: int, name: str, language: str, rng: random.Random) -> dict[str, Any]:
    """A realistic reminder: the schedule's clinics, providers and slots repeat."""
    kind, channel = rng.choice(KINDS), rng.choice(CHANNELS)
    day = datetime.now(UTC).date() + timedelta(days=rng.choice([1, 2, 3, 7]))
    hour, minute = map(int, rng.choice(SLOTS).split(":"))
    start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
    body: dict[str, Any] = {
        "kind": kind,
        "channel": channel,
        "language": language,
        "patient": {
            "name": name,
            # A number of its own per reminder (the call limits would hold back a second
            # call to one number): ten thousand per area code, 312, 313, ...
            "phone": f"+1{312 + n // 10000}555{n % 10000:04d}",
            "timezone": ZONE,
            "app_recipient_id": f"app-{n}",
        },
        "clinic": rng.choice(CLINICS),
        "external_id": f"scale-{n}",
    }
    if kind != "result_ready":
        body["appointment"] = {
            "start": start.isoformat(),
            "provider": rng.choice(PROVIDERS),
            "location": rng.choice(LOCATIONS),
        }
    if kind == "appointment_changed":
        body["appointment"]["previous_start"] = (start - timedelta(days=1)).isoformat()
    return body


@dataclass
class Run:
    language: str
    reminders: int
    elapsed_s: float
    bare_per_min: float
    bare_cpu_s: float
    """CPU seconds the bare engine spent per reminder (its processes and their children)."""
    cpu_s: dict[str, float]
    server_cpu_s: float
    """CPU seconds Redis and the bench database's PostgreSQL backends spent on the load."""
    client_cpu_s: float
    """CPU seconds this bench spent during the load, posting and polling: on the same
    cores as the pipeline, though a scheduling system would run elsewhere."""
    peak_rss_mb: dict[str, float]
    delays_s: list[float]
    pg_transactions: int
    redis_commands: int
    redis_by_command: Counter[str]

    @property
    def per_min(self) -> float:
        return self.reminders / self.elapsed_s * 60

    @property
    def cpu_per_reminder(self) -> float:
        """Everything the pipeline spent: the API and workers, Redis and PostgreSQL."""
        return (sum(self.cpu_s.values()) + self.server_cpu_s) / self.reminders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--languages", default="en,es")
    parser.add_argument(
        "--peak",
        action="store_true",
        help="instead: all N due at one moment, rendered ahead; time the peak's dispatch",
    )
    args = parser.parse_args()
    if args.peak:
        for code in args.languages.split(","):
            run_peak(code, args.reminders, args.workers)
        return
    print(
        f"{args.reminders} reminders per language (+{TIMED} timed), {args.workers} workers, "
        f"{CORES} cores; PostgreSQL + Redis, outbox channel"
    )
    runs = [run_language(code, args.reminders, args.workers) for code in args.languages.split(",")]
    print(
        f"\n{'lang':4} {'per min':>8} {'bare/min':>8} {'ratio':>6} {'CPU-s/rem':>9} "
        f"{'bare CPU-s':>10} {'CPU ratio':>9} "
        f"{'due n':>5} {'due p50 s':>9} {'due p99 s':>9} {'PG tx/rem':>9} {'Redis cmd/rem':>13}"
    )
    for run in runs:
        print(
            f"{run.language:4} {run.per_min:8.0f} {run.bare_per_min:8.0f} "
            f"{run.per_min / run.bare_per_min:6.2f} "
            f"{run.cpu_per_reminder:9.3f} {run.bare_cpu_s:10.3f} "
            f"{run.bare_cpu_s / run.cpu_per_reminder:9.2f} "
            f"{len(run.delays_s):5} "
            f"{percentile(run.delays_s, 0.5):9.2f} {percentile(run.delays_s, 0.99):9.2f} "
            f"{run.pg_transactions / run.reminders:9.1f} {run.redis_commands / run.reminders:13.1f}"
        )
    for run in runs:
        print(f"\n{run.language}: per process, during the load")
        for process, cpu in run.cpu_s.items():
            print(f"  {process:9} {cpu:8.1f} CPU-s  peak RSS {run.peak_rss_mb[process]:6.0f} MB")
        print(f"  {'servers':9} {run.server_cpu_s:8.1f} CPU-s  (Redis and PostgreSQL)")
        print(f"  {'bench':9} {run.client_cpu_s:8.1f} CPU-s  (posting and polling)")
        used_s = sum(run.cpu_s.values()) + run.server_cpu_s + run.client_cpu_s
        idle_s = run.elapsed_s * CORES - used_s
        print(
            f"  {'idle':9} {idle_s:8.1f} core-s "
            f"({idle_s / (run.elapsed_s * CORES):.0%} of "
            f"{run.elapsed_s:.1f} s x {CORES} cores: no process of the run on them)"
        )
        print(
            f"{run.language}: Redis commands per reminder, the most frequent (scripts' own count)"
        )
        for command, calls in run.redis_by_command.most_common(REDIS_COMMANDS_SHOWN):
            print(f"  {command:24} {calls / run.reminders:7.1f}")


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run_language(language: str, total: int, workers: int) -> Run:
    rng = random.Random(f"scale-{language}")
    new_names = names()
    print(f"\n{language}: the bare engine on {BARE_SAMPLE} reminders' texts...", flush=True)
    sample = [reminder_body(n, next(new_names), language, rng) for n in range(BARE_SAMPLE)]
    bare_per_min, bare_cpu_s = bare_rate(language, workers, sample)
    expected_s = total / bare_per_min * 60
    with pipeline(workers) as (running, client, db_conn, queue):
        # Timed reminders: rendered ahead while nothing else runs, due during the load.
        lead_s = 30 + TIMED / bare_per_min * 60 * 3  # rendered before the first is due
        timed = [reminder_body(n, next(new_names), language, rng) for n in range(TIMED)]
        due_from = datetime.now(UTC) + timedelta(seconds=lead_s)
        for n, body in enumerate(timed):
            body["external_id"] = f"timed-{n}"
            send_at = due_from + timedelta(seconds=TIMED_SPREAD_S * n / TIMED)
            body["send_at"] = send_at.isoformat()
        post_all(client, timed)
        wait_until(lambda: waiting(db_conn, ("scheduled", "rendering"), "timed-%") == 0, 600)
        if datetime.now(UTC) > due_from:
            print("  (the timed reminders took longer than their lead to render)")
        # The load starts just before the first timed reminder falls due, so they all do
        # while it runs (it takes longer than their minute).
        time.sleep(max(0.0, (due_from - datetime.now(UTC)).total_seconds() - LOAD_HEAD_START_S))
        print(f"  {TIMED} timed reminders rendered ahead; posting {total} due now...", flush=True)
        before, commands_before = counters(db_conn, queue), redis_commands(queue)
        polls_before = waiting.polls
        servers_before = server_cpu_s(db_conn, queue)
        cpu_before = {name: tree_cpu_s(pid) for name, pid in running.items()}
        client_before = time.process_time()
        began, load_from = time.monotonic(), datetime.now(UTC)
        post_all(
            client, [reminder_body(TIMED + n, next(new_names), language, rng) for n in range(total)]
        )
        wait_until(lambda: waiting(db_conn, UNFINISHED, "scale-%") == 0, max(600, expected_s * 10))
        elapsed, load_until = time.monotonic() - began, datetime.now(UTC)
        client_cpu_s = time.process_time() - client_before
        cpu_s = {name: tree_cpu_s(pid) - cpu_before[name] for name, pid in running.items()}
        rss = {name: tree_peak_rss_mb(pid) for name, pid in running.items()}
        time.sleep(1)  # PostgreSQL publishes its statistics about every half second
        after, commands_after = counters(db_conn, queue), redis_commands(queue)
        own_transactions = waiting.polls - polls_before
        servers_used = server_cpu_s(db_conn, queue) - servers_before
        delays = dispatch_delays(db_conn, load_from, load_until)
    return Run(
        language=language,
        reminders=total,
        elapsed_s=elapsed,
        bare_per_min=bare_per_min,
        bare_cpu_s=bare_cpu_s,
        cpu_s=cpu_s,
        server_cpu_s=servers_used,
        client_cpu_s=client_cpu_s,
        peak_rss_mb=rss,
        delays_s=delays,
        pg_transactions=after[0] - before[0] - own_transactions,
        redis_commands=after[1] - before[1],
        redis_by_command=commands_after - commands_before,
    )


UNFINISHED = ("scheduled", "rendering", "ready", "dispatching")
CORES = os.cpu_count() or 1
PEAK_RENDER_RATE_FLOOR_PER_MIN = 300
"""The slowest render rate the peak's lead allows for: the lead must outlast rendering."""


def run_peak(language: str, total: int, workers: int) -> None:
    """The morning peak: ``total`` reminders posted for one send time, rendered ahead in the
    lowest-priority queue, then all due at once. Prints how long rendering took, and how
    late after the send time each reminder reached its channel (the peak is dispatch only)."""
    rng, new_names = random.Random(f"peak-{language}"), names()
    bodies = [reminder_body(n, next(new_names), language, rng) for n in range(total)]
    lead_s = 60 + total / PEAK_RENDER_RATE_FLOOR_PER_MIN * 60
    settings = {"TELLWELL_RENDER_AHEAD_S": str(int(lead_s + 600))}
    print(f"\n{language}: {total} reminders for one send time, {lead_s:.0f} s ahead", flush=True)
    with pipeline(workers, settings) as (running, client, db_conn, queue):
        send_at = datetime.now(UTC) + timedelta(seconds=lead_s)
        for n, body in enumerate(bodies):
            body["external_id"] = f"peak-{n}"
            body["send_at"] = send_at.isoformat()
        began = time.monotonic()
        post_all(client, bodies)
        wait_until(lambda: waiting(db_conn, ("scheduled", "rendering"), "peak-%") == 0, lead_s)
        render_s = time.monotonic() - began
        print(f"  rendered ahead: {total / render_s * 60:.0f}/min ({render_s:.0f} s)", flush=True)
        time.sleep(max(0.0, (send_at - datetime.now(UTC)).total_seconds()))
        cpu_before = {name: tree_cpu_s(pid) for name, pid in running.items()}
        servers_before = server_cpu_s(db_conn, queue)
        wait_until(lambda: waiting(db_conn, UNFINISHED, "peak-%") == 0, 600)
        cpu_s = sum(tree_cpu_s(pid) - cpu_before[name] for name, pid in running.items())
        cpu_s += server_cpu_s(db_conn, queue) - servers_before
        delays = first_attempt_delays(db_conn, "peak-%", send_at, send_at)
    last = max(delays, default=float("nan"))
    print(
        f"  at the send time: {len(delays)} reached their channel, the last {last:.1f} s late "
        f"({len(delays) / last * 60:.0f}/min); p50 {percentile(delays, 0.5):.2f} s, "
        f"p99 {percentile(delays, 0.99):.2f} s; {cpu_s / total * 1000:.1f} CPU ms per reminder"
    )


@contextmanager
def pipeline(
    workers: int, settings: dict[str, str] | None = None
) -> Iterator[tuple[dict[str, int], httpx.Client, psycopg.Connection[Any], redis.Redis]]:
    """A fresh bench database and Redis, the API and ``workers`` workers running on them
    (``settings``: more of their environment), a scheduler's client of the API and a
    connection to the database; both stores are emptied afterwards."""
    db = support.fresh_database(BENCH_DB)
    with db.session() as session:
        key = issue_key(session, Role.SCHEDULER, "bench").raw
    db.dispose()
    queue = redis.Redis.from_url(REDIS_URL)
    queue.flushdb()
    port = free_port()
    with (
        tempfile.TemporaryDirectory() as data_dir,
        processes(port, data_dir, workers, settings or {}) as running,
        httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        ) as client,
        psycopg.connect(support.database_url(BENCH_DB).replace("+psycopg", "")) as db_conn,
    ):
        db_conn.autocommit = True
        yield running, client, db_conn, queue
    support.drop_database(BENCH_DB)
    queue.flushdb()


@contextmanager
def processes(
    port: int, data_dir: str, workers: int, settings: dict[str, str]
) -> Iterator[dict[str, int]]:
    """The API and ``workers`` workers, as an operator starts them: name to pid."""
    env = {
        **settings,
        "TELLWELL_DATABASE_URL": support.database_url(BENCH_DB),
        "TELLWELL_REDIS_URL": REDIS_URL,
        "TELLWELL_QUEUE_NAME": QUEUE,
        "TELLWELL_DATA_DIR": data_dir,
        "TELLWELL_SECRET_KEY": "bench",
        "TELLWELL_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TELLWELL_RATE_LIMIT_PER_SECOND": "0",
    }
    command = [sys.executable, "-m", "service"]
    with ExitStack() as stack:
        api = stack.enter_context(
            support.http_server([*command, "serve", "--port", str(port)], env, port)
        )
        pids = {"api": api.pid}
        for n in range(workers):
            worker = stack.enter_context(support.server([*command, "worker"], env, lambda _: True))
            pids[f"worker {n + 1}"] = worker.pid
        yield pids


def post_all(client: httpx.Client, bodies: list[dict[str, Any]]) -> None:
    with ThreadPoolExecutor(8) as pool:
        for response in pool.map(lambda body: client.post("/v1/reminders", json=body), bodies):
            if response.status_code != 202:
                raise SystemExit(f"POST refused: {response.status_code} {response.text[:300]}")


class _Waiting:
    """Reminders whose external id is like ``ids`` still in one of ``statuses``.

    Counts its calls: each is a transaction in the bench database, which the bench's
    count of the pipeline's transactions leaves out (two a second: on a slow run, as many
    as the pipeline's own).
    """

    polls = 0

    def __call__(
        self, db_conn: psycopg.Connection[Any], statuses: tuple[str, ...], ids: str
    ) -> int:
        self.polls += 1
        return _count_waiting(db_conn, statuses, ids)


def _count_waiting(db_conn: psycopg.Connection[Any], statuses: tuple[str, ...], ids: str) -> int:
    row = db_conn.execute(
        "SELECT count(*) FROM reminders WHERE status = ANY(%s) AND external_id LIKE %s",
        (list(statuses), ids),
    ).fetchone()
    return int(row[0]) if row else 0


def wait_until(done: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"not done after {timeout_s:.0f} s")
        time.sleep(0.5)


waiting = _Waiting()


def counters(db_conn: psycopg.Connection[Any], queue: redis.Redis) -> tuple[int, int]:
    """PostgreSQL transactions in the bench database and Redis commands, so far."""
    row = db_conn.execute(
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
        (f"tellwell_bench_{BENCH_DB}",),
    ).fetchone()
    assert row is not None
    return int(row[0]), int(queue.info("stats")["total_commands_processed"])


def server_cpu_s(db_conn: psycopg.Connection[Any], queue: redis.Redis) -> float:
    """CPU seconds so far of Redis (all of it: give the bench a Redis of its own) and of
    the PostgreSQL backends connected to the bench database now (the pools keep theirs
    for the run; one that ends between two readings is missed)."""
    stats = queue.info("cpu")
    total = float(stats["used_cpu_user"]) + float(stats["used_cpu_sys"])
    pids = db_conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (f"tellwell_bench_{BENCH_DB}",),
    ).fetchall()
    for (pid,) in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += sum(int(value) for value in fields[11:13]) / os.sysconf("SC_CLK_TCK")
    return total


def redis_commands(queue: redis.Redis) -> Counter[str]:
    """Redis commands so far by name (``INFO commandstats``; a script's calls count too)."""
    stats = queue.info("commandstats")
    return Counter(
        {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}
    )


def dispatch_delays(
    db_conn: psycopg.Connection[Any], load_from: datetime, load_until: datetime
) -> list[float]:
    """For the timed reminders that fell due during the load (rendering at full tilt):
    how late their first attempt started after their send time."""
    wait_until(
        lambda: (
            not db_conn.execute(
                "SELECT 1 FROM reminders WHERE external_id LIKE 'timed-%%' AND send_at <= %s"
                " AND status = ANY(%s) LIMIT 1",
                (load_until, list(UNFINISHED)),
            ).fetchone()
        ),
        600,
    )
    return first_attempt_delays(db_conn, "timed-%", load_from, load_until)


def first_attempt_delays(
    db_conn: psycopg.Connection[Any], ids: str, send_from: datetime, send_until: datetime
) -> list[float]:
    """Seconds from each reminder's send time to its first attempt's start, for the
    reminders whose ``external_id`` is LIKE ``ids`` and whose send time lies in the range."""
    rows = db_conn.execute(
        """SELECT extract(epoch FROM min(a.started_at) - r.send_at)
           FROM reminders r JOIN attempts a ON a.reminder_id = r.id
           WHERE r.external_id LIKE %s AND r.send_at BETWEEN %s AND %s
           GROUP BY r.id, r.send_at""",
        (ids, send_from, send_until),
    ).fetchall()
    return [float(row[0]) for row in rows]


def tree_cpu_s(pid: int) -> float:
    """CPU of a process and its descendants, reaped children (espeak-ng's) included."""
    total = 0.0
    for member in support.process_tree(pid):
        fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        total += sum(int(value) for value in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def tree_peak_rss_mb(pid: int) -> float:
    """The largest peak resident size among a process and its descendants."""
    peaks = []
    for member in support.process_tree(pid):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks, default=0.0)


def spoken_texts(body: dict[str, Any]) -> list[str]:
    """What a worker speaks for this reminder on the outbox channel: the message only (the
    voicemail variant is spoken only for calls placed through Twilio)."""
    variant = VARIANT_FOR_CHANNEL[body["channel"]]
    return [render_message(body["kind"], body["language"], variant, message_facts(body)).spoken]


_engine: tuple[Engine, str, int] | None = None


def _start_engine(language: str) -> None:
    global _engine
    speaker = configured_speaker(Path(tempfile.mkdtemp()))  # the engines `serve` enables
    voice = speaker.voice_for(language)
    engine = ENGINES[voice.engine]()
    _engine = (engine, voice.voice, speaker.catalog.words_per_minute("normal"))


def _speak(job: tuple[str, list[str]]) -> float:
    """Speak one reminder's texts; the CPU seconds it took (engine children included)."""
    language, texts = job
    assert _engine is not None
    engine, voice, words_per_minute = _engine
    began = support.own_cpu_s()
    for text in texts:
        engine.synthesize(text, language, voice, words_per_minute)
    return support.own_cpu_s() - began


def bare_rate(language: str, workers: int, sample: list[dict[str, Any]]) -> tuple[float, float]:
    """Reminders a minute the language's engine alone speaks, in ``workers`` processes, and
    the CPU seconds it spends per reminder (a figure a busy machine does not change)."""
    jobs = [(language, spoken_texts(body)) for body in sample]
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_start_engine, initargs=(language,)) as pool:
        pool.map(_speak, jobs[:workers])  # load the models first
        began, spoken, cpu_s = time.monotonic(), 0, 0.0
        while not spoken or time.monotonic() - began < BARE_MIN_S:
            cpu_s += sum(pool.map(_speak, jobs, chunksize=1))
            spoken += len(jobs)
        return spoken / (time.monotonic() - began) * 60, cpu_s / spoken


if __name__ == "__main__":
    main()
