"""``tellwell mllp`` as an operator runs it: a process that listens, stores, answers and
stops."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hl7
from sqlalchemy import select

from devtools.ports import free_port
from service.db import Database
from service.models import Appointment, Hl7Message, Reminder, Status
from tests.support.clinics import store_clinic
from tests.support.hl7 import ack_code, acked_control_id, exchange, hl7_time, sample, siu
from tests.support.waiting import wait_for

PROCESS_START_TIMEOUT_S = 90.0
"""A fresh process imports the service first: slow on a busy machine, never stuck."""


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def stored_external_ids(database_url: str) -> list[str]:
    db = Database(database_url)
    with db.session() as session:
        ids = list(session.scalars(select(Appointment.external_id)))
    db.dispose()
    return ids


def test_tellwell_mllp_stores_and_answers_until_it_is_stopped(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "mllp.log"
    database_url = f"sqlite:///{tmp_path / 'tellwell.sqlite3'}"
    db = Database(database_url)
    db.migrate()
    db.dispose()
    store_clinic(database_url, identifiers=["2.16.840.1.113883.3.9999"])
    env = {
        **os.environ,
        "TELLWELL_DATA_DIR": str(tmp_path),
        "TELLWELL_DATABASE_URL": database_url,
        "TELLWELL_LOG_FORMAT": "json",
    }
    start = datetime.now(UTC) + timedelta(days=5)
    message = sample("own-siu_s12-v2.5.1-tq1.hl7").replace("20301105143000-0500", hl7_time(start))
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "mllp", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            wait_for(lambda: process.poll() is not None or accepts(port), PROCESS_START_TIMEOUT_S)
            assert process.poll() is None, log.read_text()[-3000:]
            answers = asyncio.run(
                exchange("127.0.0.1", port, [message, siu(message_type="ADT", trigger="A01")])
            )
        finally:
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=PROCESS_START_TIMEOUT_S)
    assert [(ack_code(a), acked_control_id(a)) for a in answers] == [
        ("AA", "RS-0001"),
        ("AR", "CTRL-1"),
    ]
    assert returncode == 0
    assert stored_external_ids(database_url) == ["FL-991"]
    said = log.read_text()
    assert f"listening on 127.0.0.1:{port}" in said and "answered AR" in said
    for phi in ("Núñez", "Antonia", "5550145", "tona@example.org", "medication"):
        assert phi not in said


def test_listener_processes_share_one_port_and_keep_duplicates_and_order(
    tmp_path: Path, database_url: str
) -> None:
    """``--processes 2``: connections spread over both processes, yet a message raced on
    every connection is stored once, and an older update after a newer one changes
    nothing, whichever process each arrives at."""
    port = free_port()
    log = tmp_path / "mllp.log"
    store_clinic(database_url, identifiers=["RIVERSIDE"])
    env = {
        **os.environ,
        "TELLWELL_DATA_DIR": str(tmp_path),
        "TELLWELL_DATABASE_URL": database_url,
        "TELLWELL_LOG_FORMAT": "json",
    }
    first, newer, older = (datetime.now(UTC) + timedelta(days=d) for d in (5, 7, 6))
    booked = siu("RACE-1", start=hl7_time(first), sent_at="20301101090000")
    moved = siu("MOVE-3", "S13", start=hl7_time(newer), sent_at="20301101110000")
    stale = siu("MOVE-2", "S13", start=hl7_time(older), sent_at="20301101100000")

    async def race_then_reorder() -> tuple[list[list[hl7.Message]], list[hl7.Message]]:
        raced = await asyncio.gather(*(exchange("127.0.0.1", port, [booked]) for _ in range(16)))
        reordered = []
        for message in (moved, stale):  # each on a connection of its own
            reordered += await exchange("127.0.0.1", port, [message])
        return list(raced), reordered

    command = [sys.executable, "-m", "service", "mllp", "--port", str(port), "--processes", "2"]
    with log.open("w") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            wait_for(
                lambda: process.poll() is not None or log.read_text().count("listening on") == 2,
                PROCESS_START_TIMEOUT_S,
            )
            assert process.poll() is None, log.read_text()[-3000:]
            raced, reordered = asyncio.run(race_then_reorder())
        finally:
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=PROCESS_START_TIMEOUT_S)
    assert returncode == 0
    assert [ack_code(a) for (a,) in raced] == ["AA"] * 16
    assert [(ack_code(a), acked_control_id(a)) for a in reordered] == [
        ("AA", "MOVE-3"),
        ("AA", "MOVE-2"),
    ]
    said = log.read_text()
    openers = {
        line["message"]
        for line in map(json.loads, said.splitlines())
        if "opened" in line["message"]
    }
    assert len(openers) == 2, "both processes took connections"
    db = Database(database_url)
    with db.session() as session:
        (appointment,) = session.scalars(select(Appointment))
        outcomes = dict(session.execute(select(Hl7Message.control_id, Hl7Message.outcome)).all())
        pending = session.scalars(
            select(Reminder.send_at).where(Reminder.status == Status.SCHEDULED)
        ).all()
    db.dispose()
    assert appointment.start == newer.replace(microsecond=0)
    assert outcomes == {"RACE-1": "stored", "MOVE-3": "stored", "MOVE-2": "out_of_date"}
    assert len(pending) == 2 and all(send_at < appointment.start for send_at in pending)
