"""A Redis server and a PostgreSQL cluster of a test's own, to stop and start at will.

Outage tests kill the server under the service; the shared servers on 6379 and 5432 are
never touched. Each server here listens on a free loopback port and keeps its files in a
temporary folder it removes at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from glob import glob
from pathlib import Path

import pytest
import redis

from devtools.ports import free_port
from service.db import Database
from tests.support.waiting import wait_for

SERVER_START_TIMEOUT_S = 30.0
NO_PERSISTENCE = ("--save", "", "--appendonly", "no")
PG_USER = "postgres"
"""initdb and postgres refuse to run as root; as root the cluster runs as this user."""


class OwnRedis:
    """``redis-server`` on a free port, without persistence: a restart comes back empty."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.skip("redis-server is not installed")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.binary is not None
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", *NO_PERSISTENCE],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.answers, timeout_s=SERVER_START_TIMEOUT_S)

    def kill(self) -> None:
        """As a crash or an OOM kill would: no goodbye to the clients."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.process = None

    def answers(self) -> bool:
        connection = redis.Redis.from_url(self.url, socket_timeout=1)
        try:
            return bool(connection.ping())
        except redis.RedisError:
            return False
        finally:
            connection.close()


@contextmanager
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    try:
        yield server
    finally:
        if server.process is not None:
            server.kill()


class OwnPostgres:
    """A PostgreSQL cluster made with ``initdb`` in a temporary folder, on a free port."""

    def __init__(self, folder: Path) -> None:
        found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            pytest.skip("PostgreSQL server binaries (initdb) are not installed")
        self.bin = Path(found[-1]).parent
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                pytest.skip("running as root without runuser: cannot run initdb as postgres")
            self.as_user = ["runuser", "-u", PG_USER, "--"]
            shutil.chown(folder, PG_USER)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> None:
        done = subprocess.run(
            [*self.as_user, *command], capture_output=True, text=True, check=False, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", PG_USER, "-A", "trust", "-N"
        )

    def start(self) -> None:
        options = f"-k {self.folder} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        """Immediate: the server drops every connection at once, as a crash would."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def create_database(self, name: str) -> None:
        self._run(
            str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, name
        )

    def migrated_database(self, name: str) -> str:
        """A new database with Tellwell's schema; returns its URL."""
        self.create_database(name)
        url = self.url(name)
        db = Database(url)
        db.migrate()
        db.dispose()
        return url


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    # Not under pytest's tmp_path: its parent is closed to the postgres user.
    folder = Path(tempfile.mkdtemp(prefix="tellwell-pg-"))
    cluster = OwnPostgres(folder)
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        stop = [str(cluster.bin / "pg_ctl"), "-D", str(cluster.data), "-m", "immediate", "stop"]
        subprocess.run([*cluster.as_user, *stop], capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)
