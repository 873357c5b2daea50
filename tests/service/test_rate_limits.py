"""Per-API-key rate limits: a runaway key gets 429 with Retry-After; the others are served.

Both stores run for real: the memory buckets of one process and the Redis buckets every
API replica shares (each test has its own Redis namespace: its queue name).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from devtools.ports import free_port
from service.app import create_app
from service.config import Settings
from tests.support.api import Keys
from tests.support.clock import OffsetClock
from tests.support.console import sign_in

BURST = 3
PER_SECOND = 0.5
"""One request every 2 s once the burst is spent: Retry-After is 2."""
ENDPOINT = "/v1/languages"


@contextmanager
def limited_client(settings: Settings, clock: OffsetClock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock=clock)) as client:
        yield client


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def limited_settings(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> Settings:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    return make_settings(
        redis_url=redis_url, rate_limit_per_second=PER_SECOND, rate_limit_burst=BURST
    )


def test_a_key_over_its_limit_waits_while_other_keys_are_served(
    limited_settings: Settings, keys: Keys
) -> None:
    clock = OffsetClock()
    with limited_client(limited_settings, clock) as client:
        for _ in range(BURST):
            assert client.get(ENDPOINT, headers=keys.header(keys.scheduler)).status_code == 200
        refused = client.get(ENDPOINT, headers=keys.header(keys.scheduler))
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"] == "2"
        problem = refused.json()
        assert problem["type"] == "https://tellwell.dev/problems/rate-limited"
        assert "0.5 requests per second" in problem["detail"]
        assert "bursts of up to 3" in problem["detail"]
        # Every authenticated endpoint is limited, whatever the role check says after.
        assert client.post("/v1/previews", headers=keys.header(keys.scheduler)).status_code == 429

        # Another scheduler's key has a bucket of its own.
        assert client.get(ENDPOINT, headers=keys.header(keys.other_scheduler)).status_code == 200

        clock.skip(2)
        assert client.get(ENDPOINT, headers=keys.header(keys.scheduler)).status_code == 200
        assert client.get(ENDPOINT, headers=keys.header(keys.scheduler)).status_code == 429


@pytest.mark.redis
def test_replicas_share_one_bucket_per_key_through_redis(
    make_settings: Callable[..., Settings], keys: Keys, redis_url: str
) -> None:
    settings = make_settings(
        redis_url=redis_url, rate_limit_per_second=PER_SECOND, rate_limit_burst=BURST
    )
    clock = OffsetClock()
    with limited_client(settings, clock) as first, limited_client(settings, clock) as second:
        for replica in (first, second, first):
            assert replica.get(ENDPOINT, headers=keys.header(keys.scheduler)).status_code == 200
        assert second.get(ENDPOINT, headers=keys.header(keys.scheduler)).status_code == 429
        assert first.get(ENDPOINT, headers=keys.header(keys.scheduler)).status_code == 429


def test_a_redis_that_does_not_answer_falls_back_to_limits_per_process(
    make_settings: Callable[..., Settings], keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    nothing_listens = f"redis://127.0.0.1:{free_port()}/0"
    settings = make_settings(
        redis_url=nothing_listens, rate_limit_per_second=PER_SECOND, rate_limit_burst=BURST
    )
    with limited_client(settings, OffsetClock()) as client:
        answers = [client.get(ENDPOINT, headers=keys.header(keys.scheduler)) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * BURST + [429] * 2
    warnings = [r for r in caplog.records if "rate limits: Redis is not answering" in r.message]
    assert len(warnings) == 1


def test_the_default_limit_does_not_slow_a_busy_scheduler(
    client: TestClient, keys: Keys, settings: Settings
) -> None:
    assert settings.rate_limit_per_second >= 1000 and settings.rate_limit_burst >= 1000
    answers = [client.get(ENDPOINT, headers=keys.header(keys.scheduler)) for _ in range(50)]
    assert {a.status_code for a in answers} == {200}


def test_the_console_health_and_metrics_are_not_limited_by_key(
    make_settings: Callable[..., Settings], keys: Keys
) -> None:
    settings = make_settings(rate_limit_per_second=PER_SECOND, rate_limit_burst=1)
    with limited_client(settings, OffsetClock()) as client:
        assert client.get(ENDPOINT, headers=keys.header(keys.staff)).status_code == 200
        assert client.get(ENDPOINT, headers=keys.header(keys.staff)).status_code == 429
        # The console works on a session; the key over its API limit still signs in.
        sign_in(client, keys.staff)
        assert client.get("/console/reminders").status_code == 200
        assert client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 200
