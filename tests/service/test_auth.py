"""API keys and roles: who may do what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.support.api import Keys, reminder_body
from tests.support.clock import OffsetClock

LATER = (datetime.now(UTC) + timedelta(days=1)).isoformat()


def test_missing_key_is_401_with_a_bearer_challenge(client: TestClient) -> None:
    response = client.post("/v1/reminders", json=reminder_body())
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


def test_unknown_key_is_401(client: TestClient) -> None:
    response = client.get("/v1/languages", headers=Keys.header("tw_not-a-real-key"))
    assert response.status_code == 401


def test_staff_cannot_create_reminders(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/v1/reminders", json=reminder_body(send_at=LATER), headers=keys.header(keys.staff)
    )
    assert response.status_code == 403
    assert "scheduler" in response.json()["detail"]


def test_scheduler_cannot_preview(client: TestClient, keys: Keys) -> None:
    body = reminder_body()
    del body["external_id"]
    response = client.post("/v1/previews", json=body, headers=keys.header(keys.scheduler))
    assert response.status_code == 403


def test_a_scheduler_cannot_read_or_cancel_another_schedulers_reminder(
    client: TestClient, keys: Keys
) -> None:
    created = client.post(
        "/v1/reminders", json=reminder_body(send_at=LATER), headers=keys.header(keys.scheduler)
    ).json()
    url = f"/v1/reminders/{created['id']}"
    assert client.get(url, headers=keys.header(keys.other_scheduler)).status_code == 404
    assert client.delete(url, headers=keys.header(keys.other_scheduler)).status_code == 404
    listing = client.get("/v1/reminders", headers=keys.header(keys.other_scheduler)).json()
    assert listing["items"] == []
    # Staff and admins read everything; the owner still can.
    for key in (keys.scheduler, keys.staff, keys.admin):
        assert client.get(url, headers=keys.header(key)).status_code == 200
    assert client.get(url, headers=keys.header(keys.scheduler)).json()["status"] == "scheduled"


def test_revoked_key_is_refused(client: TestClient, keys: Keys, database_url: str) -> None:
    from sqlalchemy import update

    from service.db import Database, utcnow
    from service.models import ApiKey
    from service.security import hash_key

    db = Database(database_url)
    with db.session() as session:
        session.execute(
            update(ApiKey)
            .where(ApiKey.key_hash == hash_key(keys.staff))
            .values(revoked_at=utcnow())
        )
    db.dispose()
    assert client.get("/v1/languages", headers=keys.header(keys.staff)).status_code == 401


def test_a_revoked_key_stops_working_once_the_key_cache_expires(database_url: str) -> None:
    from sqlalchemy import update

    from service.db import Database, utcnow
    from service.models import ApiKey, Role
    from service.security import KeyRing, hash_key, issue_key

    db = Database(database_url)
    clock = OffsetClock()
    ring = KeyRing(ttl_s=10, clock=clock.monotonic)
    with db.session() as session:
        raw = issue_key(session, Role.STAFF).raw
    with db.session() as session:
        assert ring.find(session, raw) is not None
        session.execute(
            update(ApiKey).where(ApiKey.key_hash == hash_key(raw)).values(revoked_at=utcnow())
        )
    with db.session() as session:
        assert ring.find(session, raw) is not None  # remembered for at most ttl_s
    clock.skip(10)
    with db.session() as session:
        assert ring.find(session, raw) is None
        assert ring.find(session, "tw_never-issued") is None
    db.dispose()
