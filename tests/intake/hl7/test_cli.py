"""``tellwell mllp`` as an operator runs it: a process that listens, stores, answers and
stops."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from devtools.ports import free_port
from service.db import Database
from service.models import Appointment
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
