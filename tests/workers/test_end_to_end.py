"""A reminder from POST to delivered, with every real part: database, queue, speech, audio."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydub import AudioSegment
from rq import Queue
from rq.serializers import JSONSerializer

from service.app import create_app
from service.config import Settings
from tests.support.api import Keys, reminder_body
from tests.support.redis_contents import redis_contents
from tests.support.waiting import wait_for
from tests.support.workers import run_burst_worker
from voices import Catalog

WORDS_PER_SECOND_RANGE = (1.2, 4.0)
"""Plausible speech pace: a duration outside it means silence, truncation or garbage."""


def assert_delivered_in_spanish(
    client: TestClient, keys: Keys, reminder_id: str, settings: Settings
) -> dict[str, Any]:
    reminder = client.get(f"/v1/reminders/{reminder_id}", headers=keys.header(keys.staff)).json()
    assert reminder["status"] == "delivered", reminder["events"]
    assert [e["status"] for e in reminder["events"]] == [
        "scheduled",
        "rendering",
        "ready",
        "dispatching",
        "delivered",
    ]
    (attempt,) = reminder["attempts"]
    assert attempt["outcome"] == "delivered" and attempt["ended_at"]

    message = reminder["message"]
    assert message["variant"] == "call"
    assert "María" in message["text"] and "cita" in message["text"].lower()
    audio = client.get(message["audio_url"].removeprefix(settings.public_base_url))
    assert audio.status_code == 200
    assert audio.headers["cache-control"] == "no-store"
    path = settings.data_dir / "fetched.wav"
    path.write_bytes(audio.content)
    segment = AudioSegment.from_file(path)
    assert segment.frame_rate == 8000 and segment.channels == 1
    words = len(message["text"].split())
    pace = words / segment.duration_seconds
    assert WORDS_PER_SECOND_RANGE[0] < pace < WORDS_PER_SECOND_RANGE[1], pace
    assert abs(segment.duration_seconds - message["duration_s"]) < 0.5

    record = json.loads((settings.outbox_dir / f"{attempt['id']}.json").read_text())
    assert record["reminder_id"] == reminder_id and record["language"] == "es"
    assert Path(record["audio_path"]).read_bytes() == audio.content
    assert message["voice"] == Catalog.load().get("es").voice
    return reminder


def test_embedded_defaults_deliver_a_spanish_reminder(
    client: TestClient, keys: Keys, settings: Settings
) -> None:
    created = client.post(
        "/v1/reminders", json=reminder_body(), headers=keys.header(keys.scheduler)
    )
    assert created.status_code == 202, created.text
    reminder_id = created.json()["id"]
    wait_for(
        lambda: (
            client.get(f"/v1/reminders/{reminder_id}", headers=keys.header(keys.scheduler)).json()[
                "status"
            ]
            == "delivered"
        )
    )
    assert_delivered_in_spanish(client, keys, reminder_id, settings)


@pytest.mark.redis
def test_rq_worker_delivers_with_ids_only_in_redis(
    make_settings: Any, keys: Keys, redis_url: str
) -> None:
    import redis

    settings = make_settings(redis_url=redis_url)
    with TestClient(create_app(settings)) as client:
        created = client.post(
            "/v1/reminders", json=reminder_body(), headers=keys.header(keys.scheduler)
        ).json()
        connection = redis.Redis.from_url(redis_url)
        (job,) = Queue(
            settings.queue_name, connection=connection, serializer=JSONSerializer
        ).get_jobs()
        assert job.args == [created["id"]] and job.kwargs == {}
        stored = b" ".join(redis_contents(connection))
        assert created["id"].encode() in stored
        for phi in ("María", "Mar\\u00eda", "+13125550123", "5550123", "Chen", "Riverside"):
            assert phi.encode() not in stored

        run_burst_worker(settings)
        assert_delivered_in_spanish(client, keys, created["id"], settings)
