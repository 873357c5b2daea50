"""MLLP figures: SIU messages per second through the MLLP listener, with ACK round-trip
latency p50/p99: parse and ACK alone (in this process), the handler alone (no network),
then stored by ``tellwell mllp`` (group commit over ``StoringSink`` on PostgreSQL: clinic
lookup, duplicate claim, the appointment and its two planned reminders) with one listener
process and with ``--processes N``, back to back on fresh databases, so both meet the same machine.
Each stored run prints the listeners' CPU and the PostgreSQL backends' CPU per message;
the database round trips and the CPU one message costs, stored alone and in a batch of
one message per connection, are measured in this process too.

``--baseline DIR`` also runs the listener of another checkout (``git worktree add DIR
<commit>``) next to each run of this tree's (before it with one process, after it with
N), so old and new code meet the same machine in the same minutes; the ratio is the
figure, not either rate alone.

Clients are the ``hl7`` library's MLLP client, each with one message in flight at a time
as an interface engine sends them; every message is a new appointment. The stored runs
use a database of their own (``tellwell_bench_mllp``, dropped and made again).

    .venv/bin/python bench/mllp.py [connections] [messages per connection] [processes]
                                   [--baseline DIR]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hl7.mllp import open_hl7_connection
from sqlalchemy import event

from bench.support import (
    ROOT,
    Server,
    bench_database,
    database_url,
    postgres_cpu_seconds,
    server,
)
from devtools.clinics import sample_clinic
from devtools.ports import free_port
from service.config import Settings
from service.intake.hl7.ack import build_ack
from service.intake.hl7.handler import MessageHandler
from service.intake.hl7.listener import MllpListener
from service.intake.hl7.parse import parse_schedule_message
from service.intake.hl7.schedule import AckCode
from service.intake.hl7.store import StoringSink
from workers.jobs import build_pipeline

BENCH_DB = "mllp"
CLINIC = sample_clinic(identifiers=["RIVERSIDE"])
CONNECTIONS, MESSAGES, PROCESSES = 8, 250, 2
MESSAGE = (
    "\r".join(
        [
            "MSH|^~\\&|EPIC|RIVERSIDE|TELLWELL|TELLWELL|20261101090000-0500||SIU^S12^SIU_S12|{id}|P|2.5.1",
            "SCH|PL-{id}|FL-{id}|||||FOLLOWUP^Follow-up visit^L",
            "TQ1|1|||||30^min|{start}",
            "PID|1||MRN-{id}^^^RIVERSIDE^MR||Rivera^Ana^^^^^L||19800101|F|||||"
            "^PRN^CP^^1^617^5550145~^PRN^PH^^1^617^5550123||SPA^Spanish^HL70296",
            "RGS|1",
            "AIS|1||99213^Office visit^CPT|{start}|||30|min",
            "AIL|1||CLIN2^Room 4^^RIVERSIDE",
            "AIP|1||1234567890^Patel^Anita^^^Dr.^MD|PP^Primary provider^HL70286",
        ]
    )
    + "\r"
)


async def client(host: str, port: int, number: int, count: int, latencies: list[float]) -> None:
    reader, writer = await open_hl7_connection(host, port)
    for n in range(count):
        started = time.perf_counter()
        writer.writeblock(message(f"{number}-{n}").encode())
        await writer.drain()
        await reader.readblock()
        latencies.append(time.perf_counter() - started)
    writer.close()
    await writer.wait_closed()


def message(message_id: str) -> str:
    """A new appointment a week from now (the planner has two reminders to plan)."""
    start = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y%m%d%H%M%S+0000")
    return MESSAGE.format(id=message_id, start=start)


async def load(host: str, port: int, connections: int, count: int) -> tuple[float, list[float]]:
    """Messages per second over ``connections`` clients, and each ACK's round trip."""
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(client(host, port, c, count, latencies) for c in range(connections)))
    return len(latencies) / (time.perf_counter() - started), latencies


async def parse_and_ack(connections: int, count: int) -> tuple[float, list[float]]:
    """The listener in this process with a handler that stores nothing."""
    listener = MllpListener(MessageHandler().handle)
    host, port = await listener.start("127.0.0.1", 0)
    try:
        return await load(host, port, connections, count)
    finally:
        await listener.close()


@dataclass(frozen=True)
class Stored:
    """One stored run: its rate, each ACK's round trip, CPU milliseconds per message."""

    rate: float
    latencies: list[float]
    listener_cpu_ms: float
    postgres_cpu_ms: float
    clients_cpu_ms: float
    """The bench's own MLLP clients (this process), which share the cores too."""


def stored(connections: int, count: int, processes: int, tree: Path = ROOT) -> Stored:
    """``tellwell mllp --processes N`` (of checkout ``tree``) storing into a fresh
    database with one clinic."""
    port = free_port()
    command = [sys.executable, "-m", "service", "mllp", "--port", str(port)]
    command += ["--processes", str(processes)]

    def listening(running: Server) -> bool:
        return running.log.read_text().count("listening on") == processes

    with (
        bench_database(BENCH_DB, CLINIC),
        tempfile.TemporaryDirectory() as data_dir,
        server(
            command,
            {
                "TELLWELL_DATABASE_URL": database_url(BENCH_DB),
                "TELLWELL_DATA_DIR": data_dir,
                "PYTHONPATH": str(tree),
            },
            listening,
            tree=tree,
        ) as listening_server,
    ):
        before, postgres_before = listening_server.cpu_seconds(), postgres_cpu_seconds(BENCH_DB)
        clients_before = time.process_time()
        rate, latencies = asyncio.run(load("127.0.0.1", port, connections, count))
        clients = time.process_time() - clients_before
        cpu = listening_server.cpu_seconds() - before
        postgres = postgres_cpu_seconds(BENCH_DB) - postgres_before
        per_message = 1000 / len(latencies)
        return Stored(
            rate, latencies, cpu * per_message, postgres * per_message, clients * per_message
        )


@dataclass(frozen=True)
class Cost:
    """What storing one message costs the listener: database round trips, CPU ms."""

    round_trips: float
    cpu_ms: float


def in_process(count: int, batch: int) -> tuple[Cost, Cost]:
    """Each message read, stored and acknowledged in this process, on a fresh database:
    alone (``MessageHandler`` over ``StoringSink.apply``, one after another) and in
    batches of ``batch`` (``apply_many``, as group commit stores the messages of that many
    connections arriving together). Round trips count each statement, BEGIN and COMMIT as
    the driver sends them; CPU is this process's, without the network and the database's
    own, so it varies less with the machine's load than the rates do."""
    with bench_database(BENCH_DB, CLINIC) as db, tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(database_url=database_url(BENCH_DB), data_dir=Path(data_dir))
        pipeline = build_pipeline(settings, db)  # as ``tellwell mllp`` builds its sink
        sink = StoringSink.for_pipeline(pipeline)
        handler = MessageHandler(sink, pipeline.clock)
        handler.handle(message("warm-up"))  # the intake key, made once per process
        sent = [0]

        def counted(*_: object) -> None:
            sent[0] += 1

        event.listen(db.engine, "before_cursor_execute", counted)
        event.listen(db.engine, "begin", counted)
        event.listen(db.engine, "commit", counted)
        texts = [message(f"alone-{n}") for n in range(count)]
        started = time.process_time()
        for text in texts:
            handler.handle(text)
        alone = Cost(sent[0] / count, (time.process_time() - started) * 1000 / count)
        sent[0] = 0
        batches = [
            [message(f"batch-{b}-{n}") for n in range(batch)] for b in range(max(1, count // batch))
        ]
        started = time.process_time()
        for texts in batches:
            results = sink.apply_many([parse_schedule_message(text) for text in texts])
            assert None not in results, "every message of a bench batch is a new appointment"
            for text in texts:
                build_ack(text, AckCode.ACCEPT, pipeline.clock.now())
        stored = len(batches) * batch
        together = Cost(sent[0] / stored, (time.process_time() - started) * 1000 / stored)
        pipeline.queue.close()
        return alone, together


def handler_alone(count: int) -> float:
    handler = MessageHandler()
    started = time.perf_counter()
    for n in range(count):
        handler.handle(message(str(n)))
    return count / (time.perf_counter() - started)


def report(title: str, rate: float, latencies: list[float]) -> None:
    cuts = statistics.quantiles(latencies, n=100)
    print(f"  {title:15}{rate:8.0f} msg/s   ACK p50 {cuts[49] * 1000:.2f} ms")
    print(f"  {'':15}{'':8}         ACK p99 {cuts[98] * 1000:.2f} ms")


def show(title: str, run: Stored) -> None:
    report(title, run.rate, run.latencies)
    print(f"  {'':15}{'':8}         listener CPU {run.listener_cpu_ms:.1f} ms/msg")
    print(f"  {'':15}{'':8}         PostgreSQL CPU {run.postgres_cpu_ms:.1f} ms/msg")
    print(f"  {'':15}{'':8}         clients' CPU {run.clients_cpu_ms:.1f} ms/msg")


def main() -> None:
    arguments = sys.argv[1:]
    baseline = None
    if "--baseline" in arguments:
        at = arguments.index("--baseline")
        baseline = Path(arguments[at + 1]).resolve()
        del arguments[at : at + 2]
    connections = int(arguments[0]) if len(arguments) > 0 else CONNECTIONS
    count = int(arguments[1]) if len(arguments) > 1 else MESSAGES
    processes = int(arguments[2]) if len(arguments) > 2 else PROCESSES
    print(f"{connections} connections x {count} SIU^S12, each a new appointment")
    rate, latencies = asyncio.run(parse_and_ack(connections, count))
    report("parse + ACK:", rate, latencies)
    unstored = handler_alone(connections * count)
    print(f"  handler alone: {unstored:8.0f} msg/s   (MLLP keeps {rate / unstored:.0%} of it)")
    single, together = in_process(count, connections)
    print(f"  in this process, per stored message: {single.round_trips:.1f} round trips and")
    print(f"  {'':15}{single.cpu_ms:.1f} ms CPU alone; {together.round_trips:.2f} and")
    print(f"  {'':15}{together.cpu_ms:.1f} ms in batches of {connections} (group commit)")
    runs: dict[tuple[str, int], Stored] = {}
    trees = {"stored": ROOT} if baseline is None else {"baseline": baseline, "stored": ROOT}
    for turn, listeners in enumerate(sorted({1, processes})):
        # The baseline first, then this tree second, then the other way round: neither
        # always meets the machine a minute later.
        for name in list(trees)[:: -1 if turn % 2 else 1]:
            runs[name, listeners] = stored(connections, count, listeners, trees[name])
            show(f"{name}, {listeners} proc:", runs[name, listeners])
        if baseline is not None:
            gain = runs["stored", listeners].rate / runs["baseline", listeners].rate
            print(f"  {'':15}{'':8}         {gain:.2f}x the baseline's messages per second")
    if processes > 1:
        ratio = runs["stored", processes].rate / runs["stored", 1].rate
        print(f"  {processes} processes / 1: {ratio:.2f}x messages per second")


if __name__ == "__main__":
    main()
