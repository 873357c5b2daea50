"""FHIR intake end to end: an Appointment stored through a transaction Bundle is reminded
through the real pipeline (the sweeper finds it due, espeak-ng speaks it, the local
outbox delivers it), and the outcome comes back as a completed ``Communication``; a
reschedule through ``PUT`` is one ``appointment_changed``, delivered too. SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle

from devtools.timezones import daytime_zone
from service.config import Settings
from tests.support.api import Keys
from tests.support.clinics import store_clinic
from tests.support.clock import OffsetClock
from tests.support.waiting import wait_for

BUNDLE = Path(__file__).parent / "data" / "own-transaction-bundle.json"
FHIR_JSON = "application/fhir+json"
LEAD_S = 120
"""The reminder is planned this far ahead; the clock skips past it instead of waiting."""
OUTCOMES = "/fhir/r4/Communication?about=Appointment/visit-9001"


def zulu(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def post_a_visit_reminded_soon(
    client: TestClient, keys: Keys, database_url: str
) -> tuple[datetime, str]:
    """Riverside (one reminder, two hours before) and the Bundle's visit, starting two
    hours and ``LEAD_S`` from now; its start, and the URL of its Patient."""
    store_clinic(
        database_url,
        timezone=daytime_zone(),
        identifiers=["urn:oid:2.16.840.1.113883.19|RIVERSIDE"],
        schedule={"appointment_reminder": [{"hours_before": 2}]},
    )
    start = (datetime.now(UTC) + timedelta(hours=2, seconds=LEAD_S)).replace(microsecond=0)
    bundle = json.loads(BUNDLE.read_text(encoding="utf-8"))
    bundle["entry"][4]["resource"] |= {
        "start": zulu(start),
        "end": zulu(start + timedelta(minutes=30)),
    }
    posted = client.post("/fhir/r4", json=bundle, headers=keys.header(keys.scheduler))
    assert posted.status_code == 200, posted.text
    return start, "/fhir/r4/" + posted.json()["entry"][0]["response"]["location"]


def test_a_bundled_appointment_is_reminded_and_its_outcome_is_a_communication(
    client: TestClient, keys: Keys, database_url: str, clock: OffsetClock
) -> None:
    start, _ = post_a_visit_reminded_soon(client, keys, database_url)
    scheduler, staff = keys.header(keys.scheduler), keys.header(keys.staff)

    def outcomes() -> list[dict[str, Any]]:
        answer = client.get(OUTCOMES, headers=staff)
        assert answer.status_code == 200, answer.text
        Bundle.model_validate(answer.json())
        return [entry["resource"] for entry in answer.json().get("entry", [])]

    (planned,) = outcomes()
    assert planned["status"] == "preparation"

    clock.skip(LEAD_S + 1)

    def status_of(reminder_id: str) -> str:
        found: str = client.get(f"/v1/reminders/{reminder_id}", headers=staff).json()["status"]
        return found

    wait_for(lambda: status_of(planned["id"]) == "delivered")
    (reminded,) = outcomes()
    assert reminded["id"] == planned["id"] and reminded["status"] == "completed"
    assert reminded["category"] == [{"text": "appointment_reminder"}]
    assert reminded["language"] == "es"
    assert reminded["sent"] <= reminded["received"]
    assert "Riverside Clinic" in reminded["payload"][0]["contentString"]

    # The EHR moves the visit a day later: the patient, told once, hears one change.
    visit = client.get("/fhir/r4/Appointment/visit-9001", headers=scheduler).json()
    moved = start + timedelta(days=1)
    visit |= {"start": zulu(moved), "end": zulu(moved + timedelta(minutes=30))}
    visit["meta"] = {"versionId": "2"}
    put = client.put(
        "/fhir/r4/Appointment/visit-9001",
        json=visit,
        headers={**scheduler, "Content-Type": FHIR_JSON},
    )
    assert put.status_code == 200, put.text
    changes = [c for c in outcomes() if c["category"] == [{"text": "appointment_changed"}]]
    assert len(changes) == 1
    wait_for(lambda: status_of(changes[0]["id"]) == "delivered")
    # The reminder heard stays heard, one is planned for the new time, one change told.
    assert sorted((c["category"][0]["text"], c["status"]) for c in outcomes()) == [
        ("appointment_changed", "completed"),
        ("appointment_reminder", "completed"),
        ("appointment_reminder", "preparation"),
    ]


def test_a_patient_update_alone_is_what_the_next_reminder_says_and_calls(
    client: TestClient, settings: Settings, keys: Keys, database_url: str, clock: OffsetClock
) -> None:
    """The EHR sends only the Patient, with a new mobile number and French instead of
    Spanish, before the reminder is due: the reminder is spoken in French and the call
    goes to the new number."""
    _, patient_url = post_a_visit_reminded_soon(client, keys, database_url)
    scheduler, staff = keys.header(keys.scheduler), keys.header(keys.staff)

    patient = client.get(patient_url, headers=scheduler).json()
    patient["meta"] = {"lastUpdated": "2026-12-01T09:00:00Z"}
    patient["telecom"] = [{"system": "phone", "value": "(312) 555-0175", "use": "mobile"}]
    patient["communication"] = [{"language": {"coding": [{"code": "fr"}]}, "preferred": True}]
    put = client.put(patient_url, json=patient, headers={**scheduler, "Content-Type": FHIR_JSON})
    assert put.status_code == 200, put.text

    clock.skip(LEAD_S + 1)
    # One planned message; the first one is cancelled if it had been rendered ahead already.
    (planned,) = [
        entry["resource"]
        for entry in client.get(OUTCOMES, headers=staff).json()["entry"]
        if entry["resource"]["status"] != "not-done"
    ]

    def reminder() -> dict[str, Any]:
        found: dict[str, Any] = client.get(f"/v1/reminders/{planned['id']}", headers=staff).json()
        return found

    wait_for(lambda: reminder()["status"] == "delivered")
    (attempt,) = reminder()["attempts"]
    call = json.loads((settings.outbox_dir / f"{attempt['id']}.json").read_text())
    assert call["to"] == "+13125550175" and call["language"] == "fr"
    (reminded,) = [
        entry["resource"]
        for entry in client.get(OUTCOMES, headers=staff).json()["entry"]
        if entry["resource"]["id"] == planned["id"]
    ]
    assert reminded["status"] == "completed" and reminded["language"] == "fr"
    assert "Riverside Clinic" in reminded["payload"][0]["contentString"]
    assert reminded["payload"][0]["contentString"] == call["transcript"]
