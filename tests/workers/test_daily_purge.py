"""The sweeper purges old audio by itself, once per UTC day across every sweeper."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.app import create_app
from service.config import Settings
from service.db import Database
from service.models import AudioAsset
from tests.support.api import Keys, preview_body
from tests.support.clock import OffsetClock
from workers.jobs import build_pipeline
from workers.retention import AUDIO_PURGE_TASK, claim_daily_run
from workers.sweeper import sweep

DAY_S = 24 * 3600
RACERS = 4


@pytest.fixture
def quiet_client(settings: Settings, keys: Keys, clock: OffsetClock) -> Iterator[TestClient]:
    """The app without its own sweeper thread: the test's sweeps are the only ones."""
    with TestClient(create_app(settings, run_sweeper=False, clock=clock)) as client:
        yield client


def audio_files(settings: Settings) -> list[Path]:
    return [path for path in settings.audio_dir.rglob("*") if path.is_file()]


def test_the_sweep_purges_once_a_day_and_again_the_next_day(
    quiet_client: TestClient, keys: Keys, clock: OffsetClock
) -> None:
    settings: Settings = quiet_client.app.state.services.settings  # type: ignore[attr-defined]
    pipeline = quiet_client.app.state.services.pipeline  # type: ignore[attr-defined]
    answer = quiet_client.post("/v1/previews", json=preview_body(), headers=keys.header(keys.staff))
    assert answer.status_code == 200, answer.text

    first = sweep(pipeline)
    assert first.purged is not None and first.purged.files_removed == 0  # still fresh
    assert sweep(pipeline).purged is None  # the same day: not again

    clock.skip(settings.audio_retention_days * DAY_S + DAY_S)
    later = sweep(pipeline)

    assert later.purged is not None and later.purged.files_removed >= 1
    assert audio_files(settings) == []
    with pipeline.db.session() as session:  # marked purged, so its links answer 410
        assert all(asset.purged_at for asset in session.scalars(select(AudioAsset)))
    assert sweep(pipeline).purged is None


def test_racing_sweepers_claim_the_day_once(settings: Settings, clock: OffsetClock) -> None:
    """Each racer has its own database engine, as sweepers on separate machines do."""
    databases = [Database.from_settings(settings) for _ in range(RACERS)]
    start = threading.Barrier(RACERS)
    won: list[bool] = []

    def race(db: Database) -> None:
        start.wait()
        won.append(claim_daily_run(db, AUDIO_PURGE_TASK, clock.now()))

    threads = [threading.Thread(target=race, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pipelines = [build_pipeline(settings, db, clock) for db in databases[:2]]
    clock.skip(DAY_S)
    reports = [sweep(pipeline) for pipeline in pipelines]
    for db in databases:
        db.dispose()

    assert sorted(won) == [False] * (RACERS - 1) + [True]
    assert [report.purged is not None for report in reports] == [True, False]
