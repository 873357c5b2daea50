"""The never-call list over HTTP: who may lift which opt-out, and how numbers are kept."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.app import create_app
from service.call_policy import KEYPAD_SOURCE, legacy_phone_hash
from service.config import Settings
from service.db import Database
from service.models import AuditEntry, OptOut
from tests.support.api import Keys

PHONE = "+13125550123"
REASON = "Patient phoned the clinic and asked to be called again"


def lift(client: TestClient, key: str, **body: str) -> httpx.Response:
    return client.request(
        "DELETE", "/v1/opt-outs", json={"phone": PHONE, **body}, headers=Keys.header(key)
    )


def put_on_list(client: TestClient, key: str) -> None:
    answer = client.post("/v1/opt-outs", json={"phone": PHONE}, headers=Keys.header(key))
    assert answer.status_code == 204, answer.text


def pressed_eight(client: TestClient) -> None:
    """What the Twilio gather route does when the patient presses the opt-out key."""
    pipeline = client.app.state.services.pipeline  # type: ignore[attr-defined]
    with pipeline.db.session() as session:
        pipeline.never_call.add(session, PHONE, KEYPAD_SOURCE)


def stored(database_url: str) -> list[OptOut]:
    db = Database(database_url)
    with db.session() as session:
        rows = list(session.scalars(select(OptOut)).all())
        session.expunge_all()
    db.dispose()
    return rows


def audit_rows(database_url: str) -> list[AuditEntry]:
    db = Database(database_url)
    with db.session() as session:
        rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all())
        session.expunge_all()
    db.dispose()
    return rows


def test_a_scheduler_lifts_only_the_opt_outs_it_set(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    put_on_list(client, keys.scheduler)
    other = lift(client, keys.other_scheduler)
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    assert "another key" in other.json()["detail"]
    assert len(stored(database_url)) == 1
    assert lift(client, keys.scheduler).status_code == 204
    assert stored(database_url) == []
    put_on_list(client, keys.scheduler)
    assert lift(client, keys.admin).status_code == 204
    assert stored(database_url) == []
    assert lift(client, keys.other_scheduler).status_code == 204


def test_a_patients_own_opt_out_needs_an_admin_and_a_reason_on_the_record(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    pressed_eight(client)
    for key in (keys.scheduler, keys.other_scheduler):
        refused = lift(client, key, reason=REASON)
        assert refused.status_code == 403
        assert "only an admin" in refused.json()["detail"]
    for body in ({}, {"reason": "   "}):
        missing = lift(client, keys.admin, **body)
        assert missing.status_code == 422
        errors = missing.json()["errors"]
        assert [e["field"] for e in errors] == ["reason"]
    too_long = lift(client, keys.admin, reason="x" * 501)
    assert too_long.status_code == 422
    assert len(stored(database_url)) == 1, "nothing is lifted by a refused request"

    assert lift(client, keys.admin, reason=REASON).status_code == 204
    assert stored(database_url) == []
    removal = [row for row in audit_rows(database_url) if row.action == "opt_out.remove"]
    assert len(removal) == 1 and removal[0].detail == {"reason": REASON}
    assert PHONE not in str([vars(row) for row in audit_rows(database_url)])


def test_pressing_eight_on_a_scheduler_set_opt_out_makes_it_the_patients(
    client: TestClient, keys: Keys
) -> None:
    put_on_list(client, keys.scheduler)
    pressed_eight(client)
    assert lift(client, keys.scheduler).status_code == 403


def test_numbers_are_kept_under_a_hash_keyed_with_the_servers_secret(
    make_settings: Callable[..., Settings], keys: Keys, database_url: str
) -> None:
    hashes = []
    for secret in ("first-signing-key", "second-signing-key"):
        with TestClient(create_app(make_settings(secret_key=secret))) as client:
            put_on_list(client, keys.scheduler)
            (row,) = stored(database_url)
            hashes.append(row.phone_hash)
            assert lift(client, keys.scheduler).status_code == 204
    guessable = {
        hashlib.sha256(PHONE.encode()).hexdigest(),
        legacy_phone_hash(PHONE),
    }
    assert not guessable & set(hashes), "a hash of the number alone can be guessed"
    assert hashes[0] != hashes[1], "the hash depends on the server's secret"
    audited = {row.subject_id for row in audit_rows(database_url)}
    assert audited == set(hashes)


def test_an_old_plain_hash_opt_out_is_found_and_rekeyed(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    db = Database(database_url)
    with db.session() as session:
        session.add(OptOut(phone_hash=legacy_phone_hash(PHONE), source=KEYPAD_SOURCE))
    db.dispose()
    put_on_list(client, keys.scheduler)  # already there: found under the old hash
    (row,) = stored(database_url)
    assert row.phone_hash != legacy_phone_hash(PHONE) and row.source == KEYPAD_SOURCE
    # Still the patient's own: a scheduler cannot lift it under the new hash either.
    assert lift(client, keys.scheduler).status_code == 403
    assert lift(client, keys.admin, reason=REASON).status_code == 204
    assert stored(database_url) == []
