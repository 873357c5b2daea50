"""Audio retention: unused rendered messages (PHI) are deleted; what is still needed stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from service.config import Settings
from service.db import Database
from service.models import Reminder
from tests.support.api import Keys, preview_body, reminder_body
from workers.retention import purge_audio

RIGHT_AWAY = timedelta(0)


def preview(client: TestClient, keys: Keys, language: str) -> dict[str, str]:
    answer = client.post(
        "/v1/previews", json=preview_body(language=language), headers=keys.header(keys.staff)
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def local(url: str) -> str:
    return url.removeprefix("http://testserver")


def test_unused_audio_is_purged_its_link_gone_and_spoken_again_when_needed(
    client: TestClient, keys: Keys, settings: Settings, database_url: str
) -> None:
    first = preview(client, keys, "es")
    assert client.get(local(first["audio_url"])).status_code == 200
    db = Database(database_url)

    report = purge_audio(db, settings.audio_dir, RIGHT_AWAY)

    assert report.files_removed >= 1 and report.records_marked == 1
    assert not [p for p in settings.audio_dir.rglob("*") if p.is_file()]
    assert client.get(local(first["audio_url"])).status_code == 410
    again = preview(client, keys, "es")  # the same words, needed again: spoken again
    assert client.get(local(again["audio_url"])).status_code == 200
    assert client.get(local(first["audio_url"])).status_code == 200
    db.dispose()


def test_recently_used_audio_and_audio_a_waiting_reminder_needs_are_kept(
    client: TestClient, keys: Keys, settings: Settings, database_url: str
) -> None:
    needed = preview(client, keys, "es")
    unneeded = preview(client, keys, "en")
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    waiting = client.post(
        "/v1/reminders", json=reminder_body(send_at=later), headers=keys.header(keys.scheduler)
    ).json()["id"]
    db = Database(database_url)
    token = needed["audio_url"].rsplit("/", 1)[1]
    audio_key, _ = client.app.state.services.links.open_audio(token)  # type: ignore[attr-defined]
    with db.session() as session:  # as a rendered reminder waiting for its send time
        session.execute(update(Reminder).where(Reminder.id == waiting).values(audio_key=audio_key))

    assert purge_audio(db, settings.audio_dir, timedelta(days=30)).files_removed == 0
    purge_audio(db, settings.audio_dir, RIGHT_AWAY)

    assert client.get(local(needed["audio_url"])).status_code == 200
    assert client.get(local(unneeded["audio_url"])).status_code == 410
    db.dispose()


def test_the_app_message_of_a_call_between_its_steps_is_kept(
    client: TestClient, keys: Keys, settings: Settings, database_url: str
) -> None:
    app_message = preview(client, keys, "es")
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    waiting = client.post(
        "/v1/reminders", json=reminder_body(send_at=later), headers=keys.header(keys.scheduler)
    ).json()["id"]
    db = Database(database_url)
    token = app_message["audio_url"].rsplit("/", 1)[1]
    key, fmt = client.app.state.services.links.open_audio(token)  # type: ignore[attr-defined]
    with db.session() as session:  # as a call whose app step ran, the loop going on
        session.execute(
            update(Reminder)
            .where(Reminder.id == waiting)
            .values(app_message_text="Hola.", app_audio_key=key, app_audio_format=fmt)
        )

    purge_audio(db, settings.audio_dir, RIGHT_AWAY)

    assert client.get(local(app_message["audio_url"])).status_code == 200
    db.dispose()
