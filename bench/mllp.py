"""MLLP figures: SIU messages per second through ``tellwell mllp``'s listener, with ACK
round-trip latency p50/p99, beside the handler alone (parse and ACK, no network).

Clients are the ``hl7`` library's MLLP client, each with one message in flight at a time
as an interface engine sends them. Storing is not wired in yet, so this is the cost of
framing, decoding, parsing and acknowledging: the ceiling the store step will sit under.

    .venv/bin/python bench/mllp.py [connections] [messages per connection]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hl7.mllp import open_hl7_connection

from service.intake.hl7.handler import MessageHandler
from service.intake.hl7.listener import MllpListener

CONNECTIONS, MESSAGES = 4, 500
MESSAGE = (
    "\r".join(
        [
            "MSH|^~\\&|EPIC|RIVERSIDE|TELLWELL|TELLWELL|20301101090000-0500||SIU^S12^SIU_S12|{id}|P|2.5.1",
            "SCH|PL-{id}|FL-{id}|||||FOLLOWUP^Follow-up visit^L",
            "TQ1|1|||||30^min|20301105143000-0500",
            "PID|1||MRN-{id}^^^RIVERSIDE^MR||Rivera^Ana^^^^^L||19800101|F|||||"
            "^PRN^CP^^1^617^5550145~^PRN^PH^^1^617^5550123||SPA^Spanish^HL70296",
            "RGS|1",
            "AIS|1||99213^Office visit^CPT|20301105143000-0500|||30|min",
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
        writer.writeblock(MESSAGE.format(id=f"{number}-{n}").encode())
        await writer.drain()
        await reader.readblock()
        latencies.append(time.perf_counter() - started)
    writer.close()
    await writer.wait_closed()


async def over_mllp(connections: int, count: int) -> tuple[float, list[float]]:
    listener = MllpListener(MessageHandler().handle)
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
        handler.handle(MESSAGE.format(id=n))
    return count / (time.perf_counter() - started)


def main() -> None:
    connections = int(sys.argv[1]) if len(sys.argv) > 1 else CONNECTIONS
    count = int(sys.argv[2]) if len(sys.argv) > 2 else MESSAGES
    rate, latencies = asyncio.run(over_mllp(connections, count))
    alone = handler_alone(connections * count)
    cuts = statistics.quantiles(latencies, n=100)
    print(f"{connections} connections x {count} SIU^S12, parse + ACK, no store")
    print(f"  over MLLP:     {rate:8.0f} msg/s   ACK p50 {cuts[49] * 1000:.2f} ms")
    print(f"                 {'':8}         ACK p99 {cuts[98] * 1000:.2f} ms")
    print(f"  handler alone: {alone:8.0f} msg/s   (MLLP keeps {rate / alone:.0%} of it)")


if __name__ == "__main__":
    main()
