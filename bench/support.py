"""What the benches share: a PostgreSQL database of their own (with the sample clinic of
``devtools.clinics``, ``sample_clinic``, if asked), and a server process started for the
length of a measurement.

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

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# A bench run as ``python bench/x.py`` has bench/ on its path, where bench/fhir.py would
# hide the fhir.resources package from the service it imports: the benches are ``bench.*``.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"]

from service.db import Database  # noqa: E402
from service.models import Clinic  # noqa: E402

POSTGRES_ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1/test")
SERVER_START_TIMEOUT_S = 300
"""A fresh process imports the service first: slow on a busy machine (the API took over
120 s at a load average of 19, 2026-12-02)."""


def own_cpu_s() -> float:
    """This process's CPU seconds and its finished children's (the engines that are
    programs: espeak-ng, Pico; ffmpeg): what a bench times a step by, since a busy shared
    machine disturbs it far less than wall time."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


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
    url: str = ""
    """For an HTTP server, its base URL."""

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server and its running child processes (the
        listeners of ``tellwell mllp --processes``) have used so far."""
        return sum(_cpu_seconds(pid) for pid in process_tree(self.pid))


def postgres_cpu_seconds(name: str) -> float:
    """User plus system CPU time the PostgreSQL backends serving the bench database
    ``name`` have used so far (a backend's process title names its database)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"tellwell_bench_{name}".encode() in (entry / "cmdline").read_bytes():
                total += _cpu_seconds(int(entry.name))
        except OSError:  # ended meanwhile
            continue
    return total


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc."""
    children = [
        int(child)
        for listing in Path(f"/proc/{pid}/task").glob("*/children")
        for child in listing.read_text().split()
    ]
    return [pid, *(descendant for child in children for descendant in process_tree(child))]


@contextmanager
def server(
    command: list[str],
    env: Mapping[str, str],
    ready: Callable[[Server], bool],
    url: str = "",
    tree: Path = ROOT,
) -> Iterator[Server]:
    """``command`` running (from the repository root, or another checkout ``tree`` to
    measure its code as a baseline) until the block ends, once ``ready`` says it serves;
    its stderr tail is shown if it stops before."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "stderr.log"
        with log.open("w") as stderr:
            process = subprocess.Popen(
                command,
                env={**os.environ, **env},
                cwd=tree,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        running = Server(process.pid, log, url)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        try:
            while not ready(running):
                if process.poll() is not None or time.monotonic() > deadline:
                    state = "stopped" if process.poll() is not None else "still not serving"
                    said = log.read_text()[-2000:]
                    raise SystemExit(f"server {state} after {SERVER_START_TIMEOUT_S} s: {said}")
                time.sleep(0.1)
            yield running
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def http_server(command: list[str], env: Mapping[str, str], port: int) -> Iterator[Server]:
    """``server`` for an HTTP server on loopback ``port``: ready once it answers."""
    url = f"http://127.0.0.1:{port}"

    def answers(_: Server) -> bool:
        try:
            httpx.get(f"{url}/docs", timeout=1)
        except httpx.TransportError:
            return False
        return True

    with server(command, env, answers, url) as running:
        yield running
