"""A PostgreSQL outage answers 503 with Retry-After, never 500, and the API recovers alone.

The database is a cluster of the test's own (``tests.support.own_servers``), stopped the way a
crash stops it and started again under the running server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from service.config import Settings
from service.db import utcnow
from service.errors import DATABASE_RETRY_AFTER_S, PROBLEM_MEDIA_TYPE
from tests.support.api import Keys, LiveServer, reminder_body
from tests.support.own_servers import OwnPostgres, own_postgres
from tests.support.waiting import wait_for

pytestmark = pytest.mark.postgres

RECOVERY_TIMEOUT_S = 30.0


@pytest.fixture
def cluster() -> Iterator[OwnPostgres]:
    with own_postgres() as running:
        yield running


@pytest.fixture
def database_url(cluster: OwnPostgres) -> str:
    """Overrides conftest's: the app, its keys and its settings use our own cluster."""
    return cluster.migrated_database("tellwell")


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(outage_retry_max_s=0.5)


def later_reminder() -> dict[str, Any]:
    """Due tomorrow: no job runs during the test, only the API is under test."""
    return reminder_body(send_at=(utcnow() + timedelta(days=1)).isoformat())


def assert_database_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["retry-after"] == str(DATABASE_RETRY_AFTER_S)
    problem = response.json()
    assert problem["status"] == 503
    assert problem["type"].endswith("/database-unavailable")


def test_database_outage_answers_503_with_retry_after_then_recovers(
    cluster: OwnPostgres, live_server: LiveServer, keys: Keys
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        before = http.post(
            "/v1/reminders", json=later_reminder(), headers=keys.header(keys.scheduler)
        )
        assert before.status_code == 202, before.text

        cluster.stop()
        assert_database_unavailable(
            http.post("/v1/reminders", json=later_reminder(), headers=keys.header(keys.scheduler))
        )
        # A key this process has not seen yet is looked up in the database: auth fails alike.
        assert_database_unavailable(
            http.post(
                "/v1/reminders", json=later_reminder(), headers=keys.header(keys.other_scheduler)
            )
        )
        assert_database_unavailable(
            http.get(f"/v1/reminders/{before.json()['id']}", headers=keys.header(keys.admin))
        )
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"].startswith("unreachable")

        cluster.start()
        answers: list[int] = []

        def accepted() -> bool:
            response = http.post(
                "/v1/reminders", json=later_reminder(), headers=keys.header(keys.scheduler)
            )
            answers.append(response.status_code)
            if response.status_code != 202:
                assert_database_unavailable(response)
            return response.status_code == 202

        wait_for(accepted, timeout_s=RECOVERY_TIMEOUT_S)
        assert http.get("/readyz").status_code == 200
        listed = http.get("/v1/reminders", headers=keys.header(keys.admin)).json()
        # The one from before and the one accepted after: nothing half-stored in between.
        assert len(listed["items"]) == 2, (answers, listed)
