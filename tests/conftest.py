"""Shared fixtures: real SQLite and PostgreSQL databases, real Redis, a running app.

Database tests run on both backends (``database_url`` is parametrised). PostgreSQL gets a
database of its own per test process, migrated once and truncated between tests; SQLite
gets a fresh copy of a migrated file per test.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import text
from starlette.types import ASGIApp

from service.app import create_app
from service.config import Settings
from service.db import Database
from service.models import Role
from service.security import issue_key
from tests.browser import launch
from tests.support.clock import OffsetClock
from tests.webhook_receiver import Receiver, running_receiver

POSTGRES_ADMIN_DSN = os.environ.get(
    "TELLWELL_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("TELLWELL_TEST_REDIS_URL", "redis://127.0.0.1:6379/8")
RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID", uuid.uuid4().hex)[:8]
"""Names this test run's databases and queues, so parallel runs never share state."""
TABLES = (
    "webhook_deliveries",
    "reminder_events",
    "attempts",
    "idempotency_records",
    "reminders",
    "audio_assets",
    "audit_log",
    "api_keys",
    "opt_outs",
)
WAIT_STEP_S = 0.05
LAUNCH_LANGUAGES = (
    "en",
    "es",
    "zh",
    "yue",
    "vi",
    "ar",
    "ko",
    "ru",
    "fr",
    "ht",
    "pt",
    "pl",
    "hi",
    "ur",
    "fa",
    "de",
    "it",
    "bn",
    "ja",
    "tl",
    "so",
)
"""The languages a clinic needs at launch (issue 6): every one has templates; all but
Somali, which no engine here speaks, have a voice."""


def _postgres_db_name() -> str:
    return f"tellwell_test_{RUN_ID}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = _postgres_db_name()
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as err:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_DSN} ({err}); "
            "run .ci/services to start it"
        )
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    url = f"{base}/{name}"
    Database(url).migrate()
    yield url
    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "tellwell.sqlite3"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "tellwell.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("postgres_url")
    db = Database(url)
    with db.session() as session:
        session.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    db.dispose()
    return url


@pytest.fixture
def redis_url() -> str:
    connection = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        connection.ping()
    except redis.ConnectionError as err:
        pytest.fail(
            f"Redis is not reachable at {REDIS_TEST_URL} ({err}); run .ci/services to start it"
        )
    finally:
        connection.close()
    return REDIS_TEST_URL


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "redis_url": "",
            "secret_key": "test-signing-key",
            "sweep_interval_s": 0.2,
            "public_base_url": "http://testserver",
            "queue_name": f"tellwell-test-{uuid.uuid4().hex[:12]}",
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@dataclass
class Keys:
    admin: str
    staff: str
    scheduler: str
    other_scheduler: str

    @staticmethod
    def header(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


def make_keys(database_url: str) -> Keys:
    db = Database(database_url)
    with db.session() as session:
        keys = Keys(
            admin=issue_key(session, Role.ADMIN, "admin").raw,
            staff=issue_key(session, Role.STAFF, "nurse").raw,
            scheduler=issue_key(session, Role.SCHEDULER, "epic").raw,
            other_scheduler=issue_key(session, Role.SCHEDULER, "cerner").raw,
        )
    db.dispose()
    return keys


@pytest.fixture
def keys(database_url: str) -> Keys:
    return make_keys(database_url)


@pytest.fixture
def clock() -> OffsetClock:
    """The app's clock (``client``): ``clock.skip(s)`` reaches an expiry without sleeping."""
    return OffsetClock()


@pytest.fixture
def client(settings: Settings, keys: Keys, clock: OffsetClock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock=clock)) as test_client:
        yield test_client


def daytime_zone(now: datetime | None = None) -> str:
    """An IANA zone where it is now mid-day, so a call sent "now" is inside the window."""
    now = now or datetime.now(UTC)
    offset = (13 - now.hour) % 24  # local hour 13 wanted
    offset = offset - 24 if offset > 12 else offset
    # Etc/GMT signs are inverted: Etc/GMT-5 is five hours ahead of UTC.
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def reminder_body(**changes: Any) -> dict[str, Any]:
    """A valid reminder request, as a scheduling system would send it."""
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    body: dict[str, Any] = {
        "kind": "appointment_reminder",
        "channel": "phone",
        "language": "es",
        "patient": {
            "name": "María López",
            "phone": "+13125550123",
            "timezone": daytime_zone(),
            "speech_rate": "normal",
        },
        "clinic": {"name": "Riverside Clinic", "callback_phone": "+13125550100"},
        "appointment": {
            "start": start.isoformat(),
            "provider": "Dr. Chen",
            "location": "Second floor, suite 210",
            "instructions": "Bring your medicine list.",
        },
        "external_id": "appt-88123",
    }
    body.update(changes)
    return body


def wait_for(predicate: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    """Poll until ``predicate`` returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(WAIT_STEP_S)
    pytest.fail(f"condition not met within {timeout_s} s")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveServer:
    url: str


@contextmanager
def serving(app: ASGIApp, port: int) -> Iterator[LiveServer]:
    """``app`` served by uvicorn on a loopback port until the block ends."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout_s=15)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def live_server(settings: Settings, keys: Keys) -> Iterator[LiveServer]:
    """The app served by uvicorn on a loopback port, for truly concurrent requests.

    The port in a loopback ``public_base_url`` is used, so callbacks can find the app.
    """
    port = urlsplit(settings.public_base_url).port or free_port()
    with serving(create_app(settings), port) as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A signature-checking webhook receiver on loopback (see tests/webhook_receiver.py)."""
    with running_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, shared by a module's page tests (see tests/browser.py)."""
    with sync_playwright() as playwright:
        launched = launch(playwright)
        yield launched
        launched.close()
