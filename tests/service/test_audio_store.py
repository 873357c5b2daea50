"""The audio store setting: every store serves, ranges, purges and erases the same way.

Each test runs on every store (local files, the database's ``audio_blobs``, an S3 bucket
on moto's real HTTP server) and on both databases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import update

from service.app import create_app
from service.audio_store import AudioStore, cache_path
from service.config import Settings
from service.db import Database
from service.models import Reminder
from tests.support.api import Keys, preview_body, reminder_body
from tests.support.s3 import S3_ENV, moto_s3
from tests.support.waiting import wait_for
from workers.retention import purge_audio

STORES = ["local", "database", "s3"]
RIGHT_AWAY = timedelta(0)
PHONE = "+13125550123"


@pytest.fixture(params=STORES)
def store_settings(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """The settings naming one store (for s3, a fresh moto server and bucket)."""
    if request.param != "s3":
        yield {"audio_store": request.param}
        return
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    with moto_s3() as server:
        yield server.settings()


@pytest.fixture
def app_settings(
    make_settings: Callable[..., Settings], store_settings: dict[str, Any]
) -> Settings:
    return make_settings(**store_settings)


@pytest.fixture
def app(app_settings: Settings, keys: Keys) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings)) as test_client:
        yield test_client


def store_of(client: TestClient) -> AudioStore:
    store: AudioStore = client.app.state.services.pipeline.audio_store  # type: ignore[attr-defined]
    return store


def local(url: str) -> str:
    return url.removeprefix("http://testserver")


def preview(client: TestClient, keys: Keys, body: dict[str, Any] | None = None) -> str:
    """A preview's audio link; the same ``body`` again is the same words (and audio)."""
    body = body or preview_body()
    answer = client.post("/v1/previews", json=body, headers=keys.header(keys.staff))
    assert answer.status_code == 200, answer.text
    return local(answer.json()["audio_url"])


def key_of(client: TestClient, url: str) -> tuple[str, str]:
    links = client.app.state.services.links  # type: ignore[attr-defined]
    key, fmt = links.open_audio(url.rsplit("/", 1)[1])
    return str(key), str(fmt)


def test_audio_is_served_whole_and_by_range_from_the_store(
    app: TestClient, keys: Keys, app_settings: Settings
) -> None:
    url = preview(app, keys)
    key, fmt = key_of(app, url)
    spoken = cache_path(app_settings.audio_dir, key, fmt).read_bytes()

    whole = app.get(url)
    part = app.get(url, headers={"Range": "bytes=100-199"})
    tail = app.get(url, headers={"Range": "bytes=-50"})
    beyond = app.get(url, headers={"Range": f"bytes={len(spoken)}-"})

    assert whole.status_code == 200 and whole.content == spoken
    assert whole.headers["content-type"] == "audio/mpeg"
    assert whole.headers["cache-control"] == "no-store"
    assert whole.headers["accept-ranges"] == "bytes"
    assert part.status_code == 206 and part.content == spoken[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(spoken)}"
    assert tail.status_code == 206 and tail.content == spoken[-50:]
    assert beyond.status_code == 416
    assert beyond.headers["content-type"] == "application/problem+json"
    assert beyond.headers["content-range"] == f"bytes */{len(spoken)}"
    assert store_of(app).size(key, fmt) == len(spoken)


def test_audio_in_a_shared_store_is_served_without_the_rendering_machines_files(
    app: TestClient, keys: Keys, app_settings: Settings
) -> None:
    url = preview(app, keys)
    key, fmt = key_of(app, url)
    spoken = cache_path(app_settings.audio_dir, key, fmt)
    expected = spoken.read_bytes()
    spoken.unlink()  # as on another machine: the store alone holds the audio

    answer = app.get(url)

    if app_settings.audio_store == "local":
        assert answer.status_code == 410
    else:
        assert answer.status_code == 200 and answer.content == expected


def test_retention_purges_the_store_and_keeps_what_a_waiting_reminder_needs(
    app: TestClient, keys: Keys, app_settings: Settings, database_url: str
) -> None:
    english = preview_body(language="en")  # its time is read once: the same words twice
    needed, unneeded = preview(app, keys), preview(app, keys, english)
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    waiting = app.post(
        "/v1/reminders", json=reminder_body(send_at=later), headers=keys.header(keys.scheduler)
    ).json()["id"]
    needed_key, _ = key_of(app, needed)
    unneeded_key, unneeded_fmt = key_of(app, unneeded)
    db = Database(database_url)
    with db.session() as session:  # as a rendered reminder waiting for its send time
        session.execute(update(Reminder).where(Reminder.id == waiting).values(audio_key=needed_key))
    store = store_of(app)

    kept = purge_audio(db, app_settings.audio_dir, timedelta(days=30), store=store)
    report = purge_audio(db, app_settings.audio_dir, RIGHT_AWAY, store=store)

    assert kept.files_removed == 0 and report.records_marked == 1
    assert app.get(needed).status_code == 200
    assert app.get(unneeded).status_code == 410
    assert store.size(unneeded_key, unneeded_fmt) is None
    assert not cache_path(app_settings.audio_dir, unneeded_key, unneeded_fmt).exists()
    assert app.get(preview(app, keys, english)).status_code == 200  # needed again: spoken
    assert app.get(unneeded).status_code == 200
    db.dispose()


def test_erasing_a_patient_deletes_their_audio_from_the_store(
    app: TestClient, keys: Keys, app_settings: Settings
) -> None:
    created = app.post("/v1/reminders", json=reminder_body(), headers=keys.header(keys.scheduler))
    reminder_id = created.json()["id"]

    def shown() -> dict[str, Any]:
        answer = app.get(f"/v1/reminders/{reminder_id}", headers=keys.header(keys.admin))
        return dict(answer.json())

    wait_for(lambda: shown()["status"] == "delivered")
    url = local(shown()["message"]["audio_url"])
    key, fmt = key_of(app, url)
    assert app.get(url).status_code == 200 and store_of(app).size(key, fmt) is not None

    erased = app.request(
        "DELETE", "/v1/patients", json={"phone": PHONE}, headers=keys.header(keys.admin)
    )

    assert erased.status_code == 200, erased.text
    assert erased.json()["audio_files"] == 1
    assert store_of(app).size(key, fmt) is None
    assert not cache_path(app_settings.audio_dir, key, fmt).exists()
    assert app.get(url).status_code == 410


def test_an_s3_store_without_a_bucket_is_refused_at_start(
    make_settings: Callable[..., Settings],
) -> None:
    with pytest.raises(ValidationError, match="TELLWELL_AUDIO_S3_BUCKET"):
        make_settings(audio_store="s3")


def test_the_s3_server_for_tests_starts_on_another_port_when_its_own_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another test's server may take the port moto was given before moto binds it; the
    bucket must then be made on moto elsewhere, not asked of that server (a 404 once)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    import tests.support.s3 as s3
    from devtools.ports import free_port

    class NotS3(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        do_PUT = do_GET

        def log_message(self, *args: object) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), NotS3) as taken:
        Thread(target=taken.serve_forever, daemon=True).start()
        ports = iter([taken.server_address[1], free_port()])
        monkeypatch.setattr(s3, "free_port", lambda: next(ports))
        for name, value in S3_ENV.items():
            monkeypatch.setenv(name, value)
        try:
            with moto_s3() as server:
                assert server.endpoint_url != f"http://127.0.0.1:{taken.server_address[1]}"
                assert server.object_names() == []
        finally:
            taken.shutdown()
