"""What the benches share: a PostgreSQL database of their own, the sample clinic, and a
server process started for the length of a measurement.

Each bench names its database (``tellwell_bench_<name>``), so two benches never share
one; it is dropped and made again at the start and dropped at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.db import Database  # noqa: E402
from service.models import Clinic  # noqa: E402

POSTGRES_ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1/test")
SERVER_START_TIMEOUT_S = 60
"""A fresh process imports the service first: slow on a busy machine."""
SAMPLE_CLINIC: Mapping[str, Any] = {
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
    "schedule": {"appointment_reminder": [{"days_before": 3, "at": "10:00"}, {"hours_before": 2}]},
    "identifiers": [],
    "require_reviewed_wording": False,
}
"""One clinic with a two-reminder schedule; a bench overrides what it needs."""


def sample_clinic(**overrides: Any) -> dict[str, Any]:
    return {**SAMPLE_CLINIC, **overrides}


def database_url(name: str) -> str:
    """The SQLAlchemy URL of the bench database called ``name``."""
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/tellwell_bench_{name}"


def fresh_database(name: str, *clinics: Mapping[str, Any]) -> Database:
    """The bench database ``name``, made again, migrated, with ``clinics`` stored."""
    _admin(f'DROP DATABASE IF EXISTS "tellwell_bench_{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "tellwell_bench_{name}"')
    db = Database(database_url(name))
    db.migrate()
    with db.session() as session:
        session.add_all(Clinic(**clinic) for clinic in clinics)
    return db


def drop_database(name: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "tellwell_bench_{name}" WITH (FORCE)')


@contextmanager
def bench_database(name: str, *clinics: Mapping[str, Any]) -> Iterator[Database]:
    """``fresh_database`` for the length of the block, dropped after."""
    db = fresh_database(name, *clinics)
    try:
        yield db
    finally:
        db.dispose()
        drop_database(name)


def _admin(statement: str) -> None:
    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(statement.encode())


@dataclass(frozen=True)
class Server:
    pid: int
    log: Path
    """Its stderr so far (a file: a pipe nobody reads would fill and stall it)."""

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(
    command: list[str], env: Mapping[str, str], ready: Callable[[Server], bool]
) -> Iterator[Server]:
    """``command`` running (from the repository root) until the block ends, once
    ``ready`` says it serves; its stderr tail is shown if it stops before."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "stderr.log"
        with log.open("w") as stderr:
            process = subprocess.Popen(
                command,
                env={**os.environ, **env},
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        running = Server(process.pid, log)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        try:
            while not ready(running):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)
            yield running
        finally:
            process.terminate()
            process.wait(timeout=30)
