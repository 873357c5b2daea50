"""HL7 v2 test messages and an MLLP client, shared by the intake tests and the CLI test.

Messages are read from ``tests/intake/hl7/data`` (see its README for their sources) with
HL7's segment separator (CR), as an interface engine sends them. The client is the ``hl7``
library's own (``hl7.mllp.open_hl7_connection``), so the listener is tested against the
same framing other software uses.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import hl7
from hl7.mllp import open_hl7_connection

DATA = Path(__file__).resolve().parent.parent / "intake" / "hl7" / "data"
ANSWER_TIMEOUT_S = 30.0
"""Generous: the machine is shared; an answer normally takes milliseconds."""
START_BLOCK, END_BLOCK = b"\x0b", b"\x1c\r"


def sample(name: str) -> str:
    """A message from the data folder, segments separated by CR."""
    text = (DATA / name).read_text(encoding="utf-8")
    return "\r".join(line for line in text.splitlines() if line) + "\r"


def sample_names() -> list[str]:
    return sorted(p.name for p in DATA.glob("*.hl7"))


def framed(text: str, encoding: str = "utf-8") -> bytes:
    """One MLLP block: <VT> message <FS><CR>."""
    return START_BLOCK + text.encode(encoding) + END_BLOCK


def siu(
    control_id: str = "CTRL-1",
    trigger: str = "S12",
    version: str = "2.5.1",
    start: str = "20301105143000-0500",
    *,
    message_type: str = "SIU",
    pid: str = "PID|1||MRN-1^^^RIVERSIDE^MR||Rivera^Ana^^^^^L||||||||^PRN^CP^^1^617^5550145||spa",
    charset: str = "",
    sent_at: str = "20301101090000",
    facility: str = "RIVERSIDE",
    appointment_id: str = "FL-1",
    notes: tuple[str, ...] = (),
) -> str:
    """A small SIU message of our own, varied one part at a time."""
    msh = (
        f"MSH|^~\\&|EPIC|{facility}|TELLWELL|TELLWELL|{sent_at}||"
        f"{message_type}^{trigger}|{control_id}|P|{version}"
    )
    if charset:
        msh += f"||||||{charset}"
    segments = [msh, f"SCH|PL-1|{appointment_id}", f"TQ1|1|||||30^min|{start}"]
    segments += [f"NTE|{n}||{text}" for n, text in enumerate(notes, start=1)]
    if pid:
        segments.append(pid)
    return "\r".join([*segments, "RGS|1", "AIP|1||77^Kim^June^^^Dr."]) + "\r"


async def exchange(host: str, port: int, messages: list[str]) -> list[hl7.Message]:
    """Send each message on one connection and read its ACK, in turn."""
    reader, writer = await open_hl7_connection(host, port, encoding="utf-8")
    try:
        answers = []
        for message in messages:
            writer.writeblock(message.encode("utf-8"))
            await writer.drain()
            answers.append(await asyncio.wait_for(reader.readmessage(), ANSWER_TIMEOUT_S))
        return answers
    finally:
        writer.close()
        await writer.wait_closed()


def hl7_time(moment: datetime) -> str:
    """A moment as HL7 writes it with its offset: ``YYYYMMDDHHMMSS+ZZZZ``."""
    return moment.strftime("%Y%m%d%H%M%S%z")


def send(host: str, port: int, messages: list[str]) -> list[hl7.Message]:
    """``exchange`` from synchronous code, on a thread of its own: the caller's thread
    may already run a loop (Playwright's sync API does)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, exchange(host, port, messages)).result()


def ack_code(ack: hl7.Message) -> str:
    return str(ack.segment("MSA")(1))


def acked_control_id(ack: hl7.Message) -> str:
    return str(ack.segment("MSA")(2))
