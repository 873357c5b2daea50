"""MLLP figures: SIU messages per second through the MLLP listener, with ACK round-trip
latency p50/p99: parse and ACK alone, then stored (``StoringSink`` on PostgreSQL: clinic
lookup, duplicate claim, the appointment upsert and its two planned reminders), beside
the handler alone (parse and ACK, no network).

Clients are the ``hl7`` library's MLLP client, each with one message in flight at a time
as an interface engine sends them; every message is a new appointment. The stored run
uses a database of its own (``tellwell_bench_mllp``, dropped and made again).

    .venv/bin/python bench/mllp.py [connections] [messages per connection]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hl7.mllp import open_hl7_connection

from service.clock import SYSTEM_CLOCK
from service.db import Database
from service.intake.hl7.handler import MessageHandler
from service.intake.hl7.listener import MllpListener
from service.intake.hl7.store import StoringSink
from service.models import Clinic
from templates import available_kinds, languages

POSTGRES_ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1/test")
BENCH_DB = "tellwell_bench_mllp"
DATABASE_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DB}"
CLINIC = {
    "id": "riverside",
    "display_name": "Riverside Clinic",
    "callback_phone": "+13125550100",
    "timezone": "America/New_York",
    "country": "US",
    "calling_hours_start": "08:00",
    "calling_hours_end": "21:00",
    "default_language": "en",
    "default_speech_rate": "normal",
    "channels": ["phone", "app"],
    "schedule": {"appointment_reminder": [{"days_before": 1, "at": "10:00"}, {"hours_before": 2}]},
    "identifiers": ["RIVERSIDE"],
    "require_reviewed_wording": False,
}
CONNECTIONS, MESSAGES = 4, 500
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


def storing_handler() -> tuple[MessageHandler, Database]:
    """A handler storing into a fresh PostgreSQL database with one clinic."""
    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{BENCH_DB}"')
    db = Database(DATABASE_URL)
    db.migrate()
    with db.session() as session:
        session.add(Clinic(**CLINIC))
    offered = {code: available_kinds(code) for code in languages()}
    return MessageHandler(StoringSink(db, offered, SYSTEM_CLOCK)), db


async def over_mllp(
    connections: int, count: int, handler: MessageHandler
) -> tuple[float, list[float]]:
    listener = MllpListener(handler.handle)
    host, port = await listener.start("127.0.0.1", 0)
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(client(host, port, c, count, latencies) for c in range(connections)))
    elapsed = time.perf_counter() - started
    await listener.close()
    return len(latencies) / elapsed, latencies


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
    print(f"{connections} connections x {count} SIU^S12, each a new appointment")
    rate, latencies = asyncio.run(over_mllp(connections, count, MessageHandler()))
    report("parse + ACK:", rate, latencies)
    alone = handler_alone(connections * count)
    print(f"  handler alone: {alone:8.0f} msg/s   (MLLP keeps {rate / alone:.0%} of it)")
    handler, db = storing_handler()
    try:
        stored_rate, stored = asyncio.run(over_mllp(connections, count, handler))
    finally:
        db.dispose()
    report("stored (PG):", stored_rate, stored)


if __name__ == "__main__":
    main()
