"""Erasing a patient on request: what an admin, the patient and the scheduler would check."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.config import Settings
from service.db import Database
from service.models import Attempt, AudioAsset, Reminder, StaffAction, Status
from tests.support.api import Keys, reminder_body
from tests.support.appointments import advance_to, appointment_body
from tests.support.clinics import store_clinic
from tests.support.clock import OffsetClock
from tests.support.waiting import wait_for
from voices import cached_files
from workers.sweeper import sweep

PHONE = "+13125550123"
OTHER_PHONE = "+13125550145"
DAY_S = 24 * 3600


def create(client: TestClient, keys: Keys, body: dict[str, Any]) -> str:
    answer = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def read(client: TestClient, keys: Keys, reminder_id: str) -> dict[str, Any]:
    answer = client.get(f"/v1/reminders/{reminder_id}", headers=keys.header(keys.admin))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def delivered(client: TestClient, keys: Keys, body: dict[str, Any]) -> dict[str, Any]:
    reminder_id = create(client, keys, body)
    wait_for(lambda: read(client, keys, reminder_id)["status"] == "delivered")
    return read(client, keys, reminder_id)


def erase(client: TestClient, keys: Keys, body: dict[str, Any], key: str | None = None) -> Any:
    return client.request(
        "DELETE", "/v1/patients", json=body, headers=keys.header(key or keys.admin)
    )


def audio_path(database_url: str, reminder_id: str) -> Path:
    db = Database(database_url)
    with db.session() as session:
        reminder = session.get_one(Reminder, reminder_id)
        assert reminder.audio is not None
        path = Path(reminder.audio.path)
    db.dispose()
    return path


def local(url: str) -> str:
    return url.removeprefix("http://testserver")


@pytest.mark.parametrize(
    ("language", "cached_per_message"),
    [("es", 2), ("en", 7)],  # Pico speaks whole; Piper phrase by phrase, each phrase cached
)
def test_erasing_a_delivered_reminder_leaves_nothing_about_the_patient(
    client: TestClient,
    keys: Keys,
    settings: Settings,
    database_url: str,
    language: str,
    cached_per_message: int,
) -> None:
    cached_before = set(settings.audio_dir.rglob("*.*"))
    shown = delivered(client, keys, reminder_body(language=language))
    made_for_the_patient = set(settings.audio_dir.rglob("*.*")) - cached_before
    reminder_id, audio_url = shown["id"], shown["message"]["audio_url"]
    file = audio_path(database_url, reminder_id)
    outbox_record = settings.outbox_dir / f"{shown['attempts'][0]['id']}.json"
    assert file.exists() and outbox_record.exists()
    assert "María" in shown["message"]["text"]

    answer = erase(client, keys, {"phone": PHONE})

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "reminders": 1,
        "stopped": 0,
        "audio_files": 1,
        "attempts": 1,
        "appointments": 0,
    }
    assert PHONE not in answer.text
    assert not file.exists() and not outbox_record.exists()
    # The speech cache keeps no phrase of the message either: its greeting says the name.
    assert len(made_for_the_patient) >= cached_per_message
    assert not made_for_the_patient & set(settings.audio_dir.rglob("*.*"))
    assert client.get(local(audio_url)).status_code == 410
    after = read(client, keys, reminder_id)
    assert after["status"] == "delivered" and after["message"] is None
    assert after["external_id"] is None and after["attempts"][0]["outcome"] == "delivered"
    seen = json.dumps(after)
    for personal in ("María", "López", PHONE, "appt-88123", "Dr. Chen", "suite 210"):
        assert personal not in seen
    db = Database(database_url)
    with db.session() as session:
        stored = session.get_one(Reminder, reminder_id)
        stored_text = json.dumps(stored.facts) + str(stored.message_text)
        assert "María" not in stored_text and PHONE not in stored_text
        assert stored.facts["patient"]["timezone"] == reminder_body()["patient"]["timezone"]
        attempt = session.get_one(Attempt, shown["attempts"][0]["id"])
        assert attempt.provider_ref is None and attempt.digits is None
    db.dispose()


def test_a_namesake_after_an_erasure_is_spoken_anew_not_from_memory(
    client: TestClient, keys: Keys, settings: Settings
) -> None:
    """The phrases erasing deletes (the greeting says the name) are not kept in the
    speaking process's memory either: a later patient of the same name has them spoken
    again, from the engine, into new files."""
    body = reminder_body(language="en")
    namesake = copy.deepcopy(body)  # the same words, another phone
    namesake["patient"]["phone"] = OTHER_PHONE
    cached_before = set(settings.audio_dir.rglob("*.wav"))
    delivered(client, keys, body)
    erased_phrases = set(settings.audio_dir.rglob("*.wav")) - cached_before
    assert erased_phrases

    assert erase(client, keys, {"phone": PHONE}).status_code == 200
    assert not erased_phrases & set(settings.audio_dir.rglob("*.wav"))
    delivered(client, keys, namesake)

    assert erased_phrases <= set(settings.audio_dir.rglob("*.wav"))


def test_audio_another_patient_still_needs_is_kept(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    first_body = reminder_body()
    second_body = copy.deepcopy(first_body)  # the same words, another phone: the same file
    second_body["patient"]["phone"] = OTHER_PHONE
    first = delivered(client, keys, first_body)
    second = delivered(client, keys, second_body)
    shared = audio_path(database_url, second["id"])
    assert audio_path(database_url, first["id"]) == shared

    answer = erase(client, keys, {"phone": PHONE})

    assert answer.json()["reminders"] == 1 and answer.json()["audio_files"] == 0
    assert all(path.exists() for path in cached_files(shared))
    assert client.get(local(second["message"]["audio_url"])).status_code == 200
    kept = read(client, keys, second["id"])
    assert "María" in kept["message"]["text"] and kept["external_id"] == "appt-88123"
    assert read(client, keys, first["id"])["message"] is None


def test_a_pending_reminder_is_cancelled_and_never_dispatched(
    client: TestClient, keys: Keys, clock: OffsetClock
) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    body = reminder_body(send_at=tomorrow, external_id="appt-erase-me")
    reminder_id = create(client, keys, body)

    answer = erase(client, keys, {"external_id": "appt-erase-me"})

    assert answer.json() == {
        "reminders": 1,
        "stopped": 1,
        "audio_files": 0,
        "attempts": 0,
        "appointments": 0,
    }
    clock.skip(2 * DAY_S)
    pipeline = client.app.state.services.pipeline  # type: ignore[attr-defined]
    report = sweep(pipeline)
    assert reminder_id not in [i for ids in report.enqueued.values() for i in ids]
    shown = read(client, keys, reminder_id)
    assert shown["status"] == Status.CANCELLED and shown["attempts"] == []
    assert shown["events"][-1]["detail"] == "stopped: the patient's data was erased"


def test_erasure_is_audited_without_the_phone_number(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    delivered(client, keys, reminder_body())
    erase(client, keys, {"phone": PHONE})

    log = client.get("/v1/audit?action=patient.erase", headers=keys.header(keys.admin))

    assert log.status_code == 200, log.text
    [entry] = log.json()["items"]
    assert entry["actor_name"] == "admin" and entry["subject_type"] == "patient"
    assert entry["detail"] == {
        "by": "phone",
        "reminders": 1,
        "stopped": 0,
        "audio_files": 1,
        "attempts": 1,
        "appointments": 0,
    }
    assert PHONE not in log.text and "3125550123" not in log.text
    again = erase(client, keys, {"phone": PHONE})  # the same patient: the same subject
    log = client.get("/v1/audit?action=patient.erase", headers=keys.header(keys.admin)).json()
    assert again.status_code == 200
    assert {e["subject_id"] for e in log["items"]} == {entry["subject_id"]}


def test_erasing_twice_is_the_same_as_once(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    shown = delivered(client, keys, reminder_body())
    assert erase(client, keys, {"phone": PHONE}).json()["reminders"] == 1
    after_first = read(client, keys, shown["id"])

    repeat = erase(client, keys, {"phone": PHONE})

    assert repeat.status_code == 200
    assert repeat.json() == {
        "reminders": 0,
        "stopped": 0,
        "audio_files": 0,
        "attempts": 0,
        "appointments": 0,
    }
    assert read(client, keys, shown["id"]) == after_first
    db = Database(database_url)
    with db.session() as session:
        assets = session.query(AudioAsset).all()
        assert assets and all(asset.purged_at is not None for asset in assets)
    db.dispose()


def test_only_admins_may_erase_and_the_patient_must_be_named_once(
    client: TestClient, keys: Keys
) -> None:
    for key in (keys.scheduler, keys.staff):
        refused = erase(client, keys, {"phone": PHONE}, key)
        assert refused.status_code == 403
        assert refused.json()["type"].endswith("/forbidden")
    assert client.request("DELETE", "/v1/patients", json={"phone": PHONE}).status_code == 401
    for body in ({}, {"phone": PHONE, "external_id": "appt-1"}):
        invalid = erase(client, keys, body)
        assert invalid.status_code == 422
        assert {e["field"] for e in invalid.json()["errors"]} == {"phone", "external_id"}
    bad_phone = erase(client, keys, {"phone": "312 555 0123"})
    assert bad_phone.status_code == 422 and bad_phone.json()["errors"][0]["field"] == "phone"


def test_an_appointment_keeps_the_visit_but_not_the_patient(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url)
    start = (datetime.now(UTC) + timedelta(days=5)).replace(hour=15, minute=0, second=0)
    url = "/v1/appointments/riverside/V-77"
    put = client.put(url, json=appointment_body(start), headers=keys.header(keys.scheduler))
    assert put.status_code == 201, put.text
    planned = [r["id"] for r in put.json()["reminders"]]
    assert planned
    app_only = appointment_body(start, patient={"name": "Ana Ruiz", "app_recipient_id": "u-9"})
    other = client.put(
        "/v1/appointments/riverside/V-78", json=app_only, headers=keys.header(keys.scheduler)
    )
    assert other.status_code == 201, other.text

    by_phone = erase(client, keys, {"phone": PHONE})
    by_id = erase(client, keys, {"external_id": "V-78"})

    assert by_phone.json()["appointments"] == 1
    assert by_phone.json()["reminders"] == by_phone.json()["stopped"] == len(planned)
    assert by_id.json()["appointments"] == 1 and by_id.json()["reminders"] >= 1
    for visit in ("V-77", "V-78"):
        shown = client.get(
            f"/v1/appointments/riverside/{visit}", headers=keys.header(keys.admin)
        ).json()
        assert shown["status"] == "cancelled" and shown["start"] == put.json()["start"]
        assert shown["patient"]["name"] is None and shown["patient"]["erased_at"]
        assert shown["provider"] is None and shown["instructions"] is None
        assert all(r["status"] == "cancelled" for r in shown["reminders"])
        seen = json.dumps(shown)
        for personal in ("María", "Ana Ruiz", PHONE, "u-9", "Dr. Chen", "suite 210"):
            assert personal not in seen
    assert erase(client, keys, {"external_id": "V-78"}).json()["appointments"] == 0


def test_staff_notes_about_the_patient_are_cleared_and_others_kept(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    staff = keys.header(keys.staff)
    handled = {}
    for phone, note in ((PHONE, "Spoke to María López's daughter"), (OTHER_PHONE, "Rebooked")):
        reminder_id = delivered(client, keys, reminder_body(patient=patient_with(phone)))["id"]
        advance_to(database_url, reminder_id, "cancel_requested")  # on the worklist
        answer = client.post(
            f"/v1/reminders/{reminder_id}/handled", json={"note": note}, headers=staff
        )
        assert answer.status_code == 200, answer.text
        handled[phone] = reminder_id
    store_clinic(database_url)
    start = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    put = client.put(
        "/v1/appointments/riverside/V-77",
        json=appointment_body(start),
        headers=keys.header(keys.scheduler),
    )
    assert put.status_code == 201, put.text
    opted = client.post("/v1/opt-outs", json={"phone": PHONE}, headers=keys.header(keys.scheduler))
    assert opted.status_code == 204
    item = f"/v1/worklist/opted_out:{put.json()['id']}/handled"
    answer = client.post(item, json={"note": "María asked to be called at work"}, headers=staff)
    assert answer.status_code == 200, answer.text

    assert erase(client, keys, {"phone": PHONE}).status_code == 200

    db = Database(database_url)
    with db.session() as session:
        notes = {
            action.subject_id: (action.note, action.actor_key_id is not None)
            for action in session.scalars(select(StaffAction))
        }
    db.dispose()
    assert notes == {
        handled[PHONE]: (None, True),
        put.json()["id"]: (None, True),
        handled[OTHER_PHONE]: ("Rebooked", True),
    }


def patient_with(phone: str) -> dict[str, Any]:
    return reminder_body()["patient"] | {"phone": phone}
