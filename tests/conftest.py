"""Shared fixtures: real SQLite and PostgreSQL databases, real Redis, a running app.

Database tests run on both backends (``database_url`` is parametrised). PostgreSQL gets a
database of its own per test process, migrated once and truncated between tests; SQLite
gets a fresh copy of a migrated file per test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect, sync_playwright
from sqlalchemy import text

from devtools.browser import launch
from devtools.ports import free_port
from devtools.twilio_sim import TwilioSimulator
from service.app import create_app
from service.config import Settings
from service.db import Database
from templates.text_language import warm_up
from tests.support.api import Keys, LiveServer, make_keys
from tests.support.clock import OffsetClock
from tests.support.phone import ACCOUNT_SID, AUTH_TOKEN
from tests.support.serving import serving
from tests.support.webhook_receiver import Receiver, running_receiver

POSTGRES_ADMIN_DSN = os.environ.get(
    "TELLWELL_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("TELLWELL_TEST_REDIS_URL", "redis://127.0.0.1:6379/8")
RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID", uuid.uuid4().hex)[:8]
"""Names this test run's databases and queues, so parallel runs never share state."""
TABLES = (
    "wording_reviews",
    "clinic_lexicon_entries",
    "webhook_deliveries",
    "reminder_events",
    "attempts",
    "idempotency_records",
    "reminders",
    "appointments",
    "wording_versions",
    "clinics",
    "audio_blobs",
    "audio_assets",
    "audit_log",
    "console_sessions",
    "api_keys",
    "opt_outs",
    "daily_runs",
    "hl7_messages",
    "fhir_identifiers",
    "fhir_resources",
    "staff_actions",
)


PAGE_WAIT_MS = 30_000
"""How long a page test's ``expect`` waits to see what it expects: Playwright's 30 s for
actions, not expect's 5 s, which a page answering behind three test processes, Chromium
and workers on two cores can miss (a preview renders speech first)."""
RUN_FIRST = ("tests/workers/", "tests/voices/", "tests/intake/", "tests/service/")
"""Folders whose tests start processes, servers, browsers and voices, run first in this
order; the other folders follow, and ``RUN_LAST`` ends the run."""
RUN_LAST = "tests/templates/"
"""Thousands of millisecond checks: at the end of a parallel run they even out the
workers' finishing times (``make test`` runs ``--dist worksteal``), where a long test
would keep one worker busy while the other waits."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long tests first, short ones last; a stable sort keeps each file's tests in their
    order, so module fixtures are still made once per file."""

    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        if path.startswith(RUN_LAST):
            return len(RUN_FIRST) + 1
        return next(
            (i for i, folder in enumerate(RUN_FIRST) if path.startswith(folder)), len(RUN_FIRST)
        )

    items.sort(key=rank)


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


@pytest.fixture(scope="session")
def text_language_models() -> None:
    """The free-text language models, loaded once per test process (seconds, as at
    ``tellwell serve``'s start): an app's first reminder must not wait for them."""
    warm_up()


@pytest.fixture
def make_settings(
    tmp_path: Path, database_url: str, text_language_models: None
) -> Callable[..., Settings]:
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
    """A signature-checking webhook receiver on loopback (see tests/support/webhook_receiver.py)."""
    with running_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, shared by a module's page tests (see devtools/browser.py).

    Not once per test process: Playwright's sync API keeps an event loop running in the
    main thread while it lives, and later tests in that process that run asyncio (the
    MLLP listener's) then fail with "asyncio.run() cannot be called from a running event
    loop".
    """
    expect.set_options(timeout=PAGE_WAIT_MS)
    with sync_playwright() as playwright:
        launched = launch(playwright)
        yield launched
        launched.close()


@pytest.fixture
def silent_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """HTTPS through a local proxy that accepts and never answers: a silent network, as
    gTTS meets it when Google cannot be reached (Google cannot be reached from here)."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])  # and never answer
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield _outbound_through(monkeypatch, server)
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()
    assert accepted, "gTTS never reached the simulated network"


@pytest.fixture
def proxy_that_cannot_be_reached(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """HTTPS through a local proxy whose queue of connections is full: the kernel drops a
    new connection's SYN, so a connect waits, as to a host behind a firewall that drops."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    queued = []
    for _ in range(3):  # listen(0) queues one; the rest wait for the queue with it full
        client = socket.socket()
        client.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            client.connect(server.getsockname())
        queued.append(client)
    yield _outbound_through(monkeypatch, server)
    for client in queued:
        client.close()
    server.close()


def _outbound_through(monkeypatch: pytest.MonkeyPatch, proxy: socket.socket) -> str:
    """Send this test's outbound HTTP(S) through ``proxy`` (the variables requests honours)."""
    url = f"http://127.0.0.1:{proxy.getsockname()[1]}"
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    return url


@pytest.fixture
def sim() -> Iterator[TwilioSimulator]:
    """The Twilio simulator, on loopback, for the account in ``tests.support.phone``."""
    simulator = TwilioSimulator(ACCOUNT_SID, AUTH_TOKEN).start()
    yield simulator
    simulator.stop()
