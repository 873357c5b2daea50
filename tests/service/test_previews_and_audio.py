"""Previews, the language list, signed audio links and health, as staff and clients use them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydub import AudioSegment
from sqlalchemy import select

from service.db import Database
from service.links import Links
from service.models import AuditEntry, Reminder
from tests.support.api import Keys, count_reminders, preview_body
from tests.support.clock import OffsetClock
from tests.support.voices import require_program
from voices import PicoEngine


def test_preview_speaks_english_and_delivers_nothing(
    client: TestClient, keys: Keys, database_url: str, tmp_path: Any
) -> None:
    response = client.post(
        "/v1/previews", json=preview_body(language="en"), headers=keys.header(keys.staff)
    )
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["language"] == "en" and preview["variant"] == "call"
    assert "María" in preview["text"] and "Riverside Clinic" in preview["text"]
    assert preview["reading_grade"] is not None and preview["reading_grade"] <= 8
    assert preview["reviewed"] is False
    audio = client.get(preview["audio_url"].removeprefix("http://testserver"))
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
    (tmp_path / "preview.mp3").write_bytes(audio.content)
    segment = AudioSegment.from_file(tmp_path / "preview.mp3")
    assert abs(segment.duration_seconds - preview["duration_s"]) < 0.5
    assert count_reminders(database_url) == 0

    db = Database(database_url)
    with db.session() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
        assert session.scalars(select(Reminder)).first() is None
    db.dispose()
    assert "preview.render" in actions and "audio.read" in actions


def test_preview_of_a_voicemail_leaves_out_the_appointment_details(
    client: TestClient, keys: Keys
) -> None:
    preview = client.post(
        "/v1/previews",
        json=preview_body(language="en", variant="voicemail"),
        headers=keys.header(keys.staff),
    ).json()
    assert preview["variant"] == "voicemail"
    for detail in ("Chen", "suite 210", "medicine"):
        assert detail not in preview["text"]


def test_languages_list_only_what_can_be_spoken(client: TestClient, keys: Keys) -> None:
    languages = client.get("/v1/languages", headers=keys.header(keys.scheduler)).json()
    by_code = {lang["code"]: lang for lang in languages}
    assert {"en", "es"} <= set(by_code)
    spanish = by_code["es"]
    engine = "pico" if shutil.which(PicoEngine.program) else "espeak"
    assert spanish["name"] == "Spanish" and spanish["engine"] == engine
    assert set(spanish["kinds"]) >= {"appointment_reminder", "result_ready"}
    assert spanish["reviewed"] is False


def test_a_spanish_preview_names_the_engine_that_spoke(
    make_settings: Any, keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pico speaks Spanish where make voices installed it; on a machine without it (PATH
    holding only espeak-ng and ffmpeg) espeak-ng does, and the preview says which."""
    from service.app import create_app

    require_program(PicoEngine.program)
    heard = {}
    for machine in ("with make voices", "without"):
        if machine == "without":
            bare = tmp_path / "bin"
            bare.mkdir()
            for program in ("espeak-ng", "ffmpeg"):
                (bare / program).symlink_to(require_program(program))
            monkeypatch.setenv("PATH", str(bare))
        with TestClient(create_app(make_settings())) as client:
            response = client.post(
                "/v1/previews", json=preview_body(language="es"), headers=keys.header(keys.staff)
            )
        assert response.status_code == 200, response.text
        heard[machine] = (response.json()["engine"], response.json()["voice"])
    assert heard == {"with make voices": ("pico", "es-ES"), "without": ("espeak", "es-419")}


def test_audio_link_supports_range_requests(client: TestClient, keys: Keys) -> None:
    preview = client.post(
        "/v1/previews", json=preview_body(language="en"), headers=keys.header(keys.staff)
    ).json()
    path = preview["audio_url"].removeprefix("http://testserver")
    whole = client.get(path).content
    part = client.get(path, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == whole[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole)}"


def test_forged_audio_links_are_403(client: TestClient, keys: Keys) -> None:
    preview = client.post(
        "/v1/previews", json=preview_body(language="en"), headers=keys.header(keys.staff)
    ).json()
    token = preview["audio_url"].rsplit("/", 1)[1]
    key, fmt = Links("http://testserver", "test-signing-key", 3600).open_audio(token)
    forged = Links("http://testserver", "some-other-secret", 3600).audio(key, fmt)
    assert client.get(forged.removeprefix("http://testserver")).status_code == 403
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert client.get(f"/v1/audio/{tampered}").status_code == 403
    assert client.get(f"/v1/audio/{token}").status_code == 200


def test_expired_audio_links_are_403(make_settings: Any, keys: Keys) -> None:
    from service.app import create_app

    clock = OffsetClock()
    settings = make_settings(audio_link_ttl_s=60)
    with TestClient(create_app(settings, clock=clock)) as client:
        preview = client.post(
            "/v1/previews", json=preview_body(language="en"), headers=keys.header(keys.staff)
        ).json()
        path = preview["audio_url"].removeprefix("http://testserver")
        clock.skip(59)
        assert client.get(path).status_code == 200
        clock.skip(2)
        response = client.get(path)
    assert response.status_code == 403
    assert "expired" in response.json()["detail"]


def test_purged_audio_is_410(client: TestClient, keys: Keys) -> None:
    preview = client.post(
        "/v1/previews", json=preview_body(language="en"), headers=keys.header(keys.staff)
    ).json()
    path = preview["audio_url"].removeprefix("http://testserver")
    audio_dir = client.app.state.services.settings.audio_dir  # type: ignore[attr-defined]
    for file in audio_dir.rglob("*.mp3"):
        file.unlink()
    assert client.get(path).status_code == 410


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "queue": "ok"}


def test_readiness_fails_when_redis_is_unreachable(make_settings: Any) -> None:
    from service.app import create_app

    settings = make_settings(redis_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["queue"].startswith("unreachable")


def test_openapi_is_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/v1/reminders", "/v1/previews", "/v1/languages", "/v1/audio/{token}"} <= set(
        spec["paths"]
    )
