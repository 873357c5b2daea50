"""``/v1/clinics`` as an admin and the other keys use it: create, read, change, delete.

Every refusal is a problem naming the field, and leaves nothing stored; every write is in
the audit log with the names of the fields it set, never their values.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.api import Keys
from tests.support.clinics import (
    add_clinic,
    audit_entries,
    clinic_body,
    count_clinics,
    limited_key,
)


def create(client: TestClient, keys: Keys, **changes: Any) -> dict[str, Any]:
    return add_clinic(client, keys.admin, **changes)


def problem_fields(answer: Any) -> list[str]:
    assert answer.headers["content-type"] == "application/problem+json", answer.text
    return [error["field"] for error in answer.json()["errors"]]


def test_admin_creates_reads_and_lists_a_clinic(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    created = create(client, keys)
    assert created["id"] == "riverside" and created["caller_id"] == "+13125550177"
    assert created["links"]["self"].endswith("/v1/clinics/riverside")
    assert created["schedule"] == {
        "appointment_reminder": [{"days_before": 2, "at": "10:00"}, {"hours_before": 3}]
    }
    for key in (keys.staff, keys.scheduler, keys.admin):
        read = client.get("/v1/clinics/riverside", headers=keys.header(key))
        assert read.status_code == 200 and read.json() == created
    listed = client.get("/v1/clinics", headers=keys.header(keys.staff)).json()
    assert [c["id"] for c in listed["items"]] == ["riverside"]
    (entry,) = audit_entries(database_url, "clinic.")
    assert entry.action == "clinic.create" and entry.subject_id == "riverside"
    assert entry.detail is not None and "display_name" in entry.detail["fields"]
    assert "Riverside" not in str(entry.detail)


def test_a_minimal_clinic_gets_the_defaults(client: TestClient, keys: Keys) -> None:
    body = {
        "id": "north-side-2",
        "display_name": "North Side",
        "callback_phone": "+13125550100",
        "timezone": "America/New_York",
        "country": "US",
    }
    answer = client.post("/v1/clinics", json=body, headers=keys.header(keys.admin))
    assert answer.status_code == 201, answer.text
    clinic = answer.json()
    assert clinic["calling_hours"] == {"start": "08:00", "end": "21:00"}
    assert clinic["schedule"] == {
        "appointment_reminder": [{"days_before": 3, "at": "10:00"}, {"hours_before": 2}]
    }
    assert clinic["channels"] == ["phone"] and clinic["default_language"] == "en"
    assert clinic["spoken_name"] is None and clinic["caller_id"] is None


def test_only_an_admin_writes(client: TestClient, keys: Keys, database_url: str) -> None:
    for key in (keys.staff, keys.scheduler):
        answer = client.post("/v1/clinics", json=clinic_body(), headers=keys.header(key))
        assert answer.status_code == 403, answer.text
    assert count_clinics(database_url) == 0
    create(client, keys)
    patched = client.patch(
        "/v1/clinics/riverside", json={"display_name": "X"}, headers=keys.header(keys.staff)
    )
    assert patched.status_code == 403
    deleted = client.delete("/v1/clinics/riverside", headers=keys.header(keys.scheduler))
    assert deleted.status_code == 403


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": "Riverside"}, "id"),
        ({"id": "-riverside"}, "id"),
        ({"id": "a" * 64}, "id"),
        ({"calling_hours": {"start": "07:30", "end": "18:00"}}, "calling_hours"),
        ({"calling_hours": {"start": "09:00", "end": "21:30"}}, "calling_hours"),
        ({"calling_hours": {"start": "12:00", "end": "12:00"}}, "calling_hours"),
        ({"calling_hours": {"start": "14:00", "end": "10:00"}}, "calling_hours"),
        ({"calling_hours": {"start": "9:00", "end": "18:00"}}, "calling_hours.start"),
        (
            {"schedule": {"appointment_reminder": [{"days_before": 61, "at": "10:00"}]}},
            "schedule.appointment_reminder.0.days_before",
        ),
        (
            {"schedule": {"appointment_reminder": [{"days_before": 0, "at": "10:00"}]}},
            "schedule.appointment_reminder.0.days_before",
        ),
        (
            {"schedule": {"appointment_reminder": [{"hours_before": 73}]}},
            "schedule.appointment_reminder.0.hours_before",
        ),
        (
            {"schedule": {"appointment_reminder": [{"days_before": 2}]}},
            "schedule.appointment_reminder.0",
        ),
        (
            {
                "schedule": {
                    "appointment_reminder": [{"days_before": 2, "at": "10:00", "hours_before": 2}]
                }
            },
            "schedule.appointment_reminder.0",
        ),
        (
            {"schedule": {"appointment_reminder": [{"hours_before": 2}, {"hours_before": 2}]}},
            "schedule.appointment_reminder",
        ),
        (
            {"schedule": {"appointment_reminder": [{"minutes_before": 5}]}},
            "schedule.appointment_reminder.0.minutes_before",
        ),
        ({"schedule": {"result_ready": [{"hours_before": 2}]}}, "schedule.result_ready"),
        ({"default_language": "tlh"}, "default_language"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "/etc/passwd"}, "timezone"),
        ({"country": "XX"}, "country"),
        ({"country": "us"}, "country"),
        ({"channels": []}, "channels"),
        ({"channels": ["phone", "phone"]}, "channels"),
        ({"channels": ["sms"]}, "channels.0"),
        ({"callback_phone": "555-0100"}, "callback_phone"),
        ({"caller_id": "+1312"}, "caller_id"),
        ({"default_speech_rate": "fast"}, "default_speech_rate"),
        ({"display_name": ""}, "display_name"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    client: TestClient, keys: Keys, database_url: str, changes: dict[str, Any], field: str
) -> None:
    answer = client.post(
        "/v1/clinics", json=clinic_body(**changes), headers=keys.header(keys.admin)
    )
    assert answer.status_code == 422, answer.text
    assert problem_fields(answer) == [field]
    assert count_clinics(database_url) == 0
    assert audit_entries(database_url, "clinic.") == []


def test_an_id_is_never_taken_twice_even_after_delete(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    create(client, keys)
    again = client.post("/v1/clinics", json=clinic_body(), headers=keys.header(keys.admin))
    assert again.status_code == 409 and "riverside" in again.json()["detail"]

    deleted = client.delete("/v1/clinics/riverside", headers=keys.header(keys.admin))
    assert deleted.status_code == 204 and deleted.content == b""
    assert client.get("/v1/clinics/riverside", headers=keys.header(keys.staff)).status_code == 404
    assert client.get("/v1/clinics", headers=keys.header(keys.staff)).json()["items"] == []
    gone = client.delete("/v1/clinics/riverside", headers=keys.header(keys.admin))
    assert gone.status_code == 404
    reused = client.post("/v1/clinics", json=clinic_body(), headers=keys.header(keys.admin))
    assert reused.status_code == 409
    actions = [entry.action for entry in audit_entries(database_url, "clinic.")]
    assert actions == ["clinic.create", "clinic.delete"]


def test_patch_changes_only_the_fields_sent(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    before = create(client, keys)
    answer = client.patch(
        "/v1/clinics/riverside",
        json={"calling_hours": {"start": "10:00", "end": "16:30"}, "spoken_name": None},
        headers=keys.header(keys.admin),
    )
    assert answer.status_code == 200, answer.text
    after = answer.json()
    assert after["calling_hours"] == {"start": "10:00", "end": "16:30"}
    assert after["spoken_name"] is None
    unchanged = {k: v for k, v in after.items() if k not in {"calling_hours", "spoken_name"}}
    assert unchanged | {"updated_at": before["updated_at"]} == {
        k: v for k, v in before.items() if k not in {"calling_hours", "spoken_name"}
    }
    assert client.get("/v1/clinics/riverside", headers=keys.header(keys.staff)).json() == after
    update = audit_entries(database_url, "clinic.update")
    assert [entry.detail for entry in update] == [{"fields": ["calling_hours", "spoken_name"]}]

    # The same values again change nothing, and write no audit entry.
    same = client.patch(
        "/v1/clinics/riverside",
        json={"calling_hours": {"start": "10:00", "end": "16:30"}},
        headers=keys.header(keys.admin),
    )
    assert same.status_code == 200
    assert len(audit_entries(database_url, "clinic.update")) == 1


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"display_name": None}, "display_name"),
        ({"calling_hours": {"start": "06:00", "end": "12:00"}}, "calling_hours"),
        (
            {"schedule": {"appointment_reminder": [{"hours_before": 0}]}},
            "schedule.appointment_reminder.0.hours_before",
        ),
        ({"default_language": "xx"}, "default_language"),
        ({"id": "elsewhere"}, "id"),
        ({"caller_id": "not a phone"}, "caller_id"),
        ({"timezone": "Nowhere/Town"}, "timezone"),
    ],
)
def test_a_bad_patch_changes_nothing(
    client: TestClient, keys: Keys, database_url: str, patch: dict[str, Any], field: str
) -> None:
    before = create(client, keys)
    answer = client.patch("/v1/clinics/riverside", json=patch, headers=keys.header(keys.admin))
    assert answer.status_code == 422, answer.text
    assert problem_fields(answer) == [field]
    assert client.get("/v1/clinics/riverside", headers=keys.header(keys.admin)).json() == before
    assert audit_entries(database_url, "clinic.update") == []


def test_unknown_and_malformed_ids(client: TestClient, keys: Keys) -> None:
    admin = keys.header(keys.admin)
    assert client.get("/v1/clinics/nowhere", headers=admin).status_code == 404
    assert client.patch("/v1/clinics/nowhere", json={}, headers=admin).status_code == 404
    malformed = client.get("/v1/clinics/No%20Where", headers=admin)
    assert malformed.status_code == 422 and problem_fields(malformed) == ["clinic_id"]


def test_a_limited_scheduler_sees_only_its_clinics(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    create(client, keys)
    create(client, keys, id="lakeside", display_name="Lakeside")
    limited = keys.header(limited_key(database_url, "lakeside"))
    listed = client.get("/v1/clinics", headers=limited).json()
    assert [c["id"] for c in listed["items"]] == ["lakeside"]
    assert client.get("/v1/clinics/lakeside", headers=limited).status_code == 200
    assert client.get("/v1/clinics/riverside", headers=limited).status_code == 404
    everyone = client.get("/v1/clinics", headers=keys.header(keys.scheduler)).json()
    assert [c["id"] for c in everyone["items"]] == ["lakeside", "riverside"]
