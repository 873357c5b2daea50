"""MLLP figures: SIU messages per second through the MLLP listener, with ACK round-trip
latency p50/p99: parse and ACK alone (in this process), the handler alone (no network),
then stored by ``tellwell mllp`` (``StoringSink`` on PostgreSQL: clinic lookup, duplicate
claim, the appointment upsert and its two planned reminders) with one listener process and
with ``--processes N``, back to back on fresh databases, so both meet the same machine.

Clients are the ``hl7`` library's MLLP client, each with one message in flight at a time
as an interface engine sends them; every message is a new appointment. The stored runs
use a database of their own (``tellwell_bench_mllp``, dropped and made again).

    .venv/bin/python bench/mllp.py [connections] [messages per connection] [processes]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hl7.mllp import open_hl7_connection

from bench.support import Server, bench_database, database_url, server
from devtools.clinics import sample_clinic
from devtools.ports import free_port
from service.intake.hl7.handler import MessageHandler
from service.intake.hl7.listener import MllpListener

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


def stored(connections: int, count: int, processes: int) -> tuple[float, list[float], float]:
    """``tellwell mllp --processes N`` storing into a fresh database with one clinic:
    messages per second, ACK latencies, and the listeners' CPU milliseconds per message."""
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
            },
            listening,
        ) as listening_server,
    ):
        before = listening_server.cpu_seconds()
        rate, latencies = asyncio.run(load("127.0.0.1", port, connections, count))
        cpu_ms = (listening_server.cpu_seconds() - before) / len(latencies) * 1000
        return rate, latencies, cpu_ms


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


def main() -> None:
    connections = int(sys.argv[1]) if len(sys.argv) > 1 else CONNECTIONS
    count = int(sys.argv[2]) if len(sys.argv) > 2 else MESSAGES
    processes = int(sys.argv[3]) if len(sys.argv) > 3 else PROCESSES
    print(f"{connections} connections x {count} SIU^S12, each a new appointment")
    rate, latencies = asyncio.run(parse_and_ack(connections, count))
    report("parse + ACK:", rate, latencies)
    alone = handler_alone(connections * count)
    print(f"  handler alone: {alone:8.0f} msg/s   (MLLP keeps {rate / alone:.0%} of it)")
    one_rate, one, one_cpu = stored(connections, count, 1)
    report("stored, 1 proc:", one_rate, one)
    print(f"  {'':15}{'':8}         listener CPU {one_cpu:.1f} ms/msg")
    many_rate, many, many_cpu = stored(connections, count, processes)
    report(f"stored, {processes} proc:", many_rate, many)
    print(f"  {'':15}{'':8}         listener CPU {many_cpu:.1f} ms/msg")
    print(f"  {processes} processes / 1: {many_rate / one_rate:.2f}x messages per second")


if __name__ == "__main__":
    main()
