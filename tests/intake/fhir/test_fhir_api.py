"""``/fhir/r4`` as an EHR uses it: the published R4 examples stored and planned, a
transaction Bundle, search, errors as OperationOutcome naming the element, auth and
clinic limits, and re-planning a moved visit (one ``appointment_changed``).

The app runs with a Redis queue no worker reads, so reminders stay where the API left them;
a message "reaching" the patient is moved through the status machine
(``tests.support.appointments.deliver``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import select

from devtools.timezones import daytime_zone
from service.app import create_app
from service.config import Settings
from service.db import Database
from service.intake.fhir.communication import FOLLOW_UP_ANSWER
from service.intake.fhir.requests import FOLLOW_UP_QUESTION_SYSTEM, MESSAGE_KIND_SYSTEM
from service.models import Attempt, Reminder, ReminderEvent, Status, advance
from tests.support.api import Keys
from tests.support.appointments import (
    advance_to,
    count_appointments,
    deliver,
    stored_reminders,
)
from tests.support.clinics import limited_key, store_clinic
from tests.support.clock import OffsetClock

DATA = Path(__file__).parent / "data"
FHIR_JSON = "application/fhir+json"
PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"


@pytest.fixture
def api(
    make_settings: Callable[..., Settings], redis_url: str, keys: Keys, clock: OffsetClock
) -> Iterator[TestClient]:
    settings = make_settings(redis_url=redis_url)
    with TestClient(create_app(settings, clock=clock)) as client:
        yield client


@pytest.fixture(autouse=True)
def clinics(database_url: str) -> None:
    """Acme (Australia) named by the examples' ``Location/1``; Riverside (US) by the
    Bundle's Organization identifier. Both in a zone where it is mid-day now."""
    zone = daytime_zone()
    store_clinic(database_url, id="acme", country="AU", timezone=zone, identifiers=["Location/1"])
    store_clinic(
        database_url,
        id="riverside",
        timezone=zone,
        identifiers=["urn:oid:2.16.840.1.113883.19|RIVERSIDE"],
    )


def example(name: str) -> dict[str, Any]:
    return dict(json.loads((DATA / name).read_text(encoding="utf-8")))


def visit_at(days: float = 3) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def zulu(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def published_patient() -> dict[str, Any]:
    patient = example("patient-example.json")
    patient["meta"] = {"lastUpdated": "2026-11-30T08:00:00Z"}
    return patient


def published_appointment(start: datetime | None = None, version: int = 1) -> dict[str, Any]:
    appointment = example("appointment-example.json")
    appointment["meta"] = {"versionId": str(version)}
    if start is not None:
        appointment["start"] = zulu(start)
        appointment["end"] = zulu(start + timedelta(hours=1))
    return appointment


def put(api: TestClient, key: str, resource: dict[str, Any]) -> Any:
    url = f"/fhir/r4/{resource['resourceType']}/{resource['id']}"
    return api.put(url, json=resource, headers={**Keys.header(key), "Content-Type": FHIR_JSON})


def issues(answer: Any) -> list[tuple[str, list[str]]]:
    """An OperationOutcome's (code, expression) per issue, checked by the model."""
    assert answer.headers["content-type"].startswith(FHIR_JSON), answer.text
    outcome = OperationOutcome.model_validate(answer.json())
    return [(issue.code, list(issue.expression or [])) for issue in outcome.issue]


def appointment_row(api: TestClient, keys: Keys, clinic: str, external_id: str) -> dict[str, Any]:
    answer = api.get(f"/v1/appointments/{clinic}/{external_id}", headers=keys.header(keys.admin))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_metadata_is_a_capability_statement_listing_what_is_supported(api: TestClient) -> None:
    answer = api.get("/fhir/r4/metadata")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(FHIR_JSON)
    statement = CapabilityStatement.model_validate(answer.json())
    assert statement.fhirVersion == "4.0.1"
    (rest,) = statement.rest
    supported = {r.type: sorted(i.code for i in r.interaction or []) for r in rest.resource}
    assert supported == {
        "Patient": ["read", "update"],
        "Appointment": ["read", "search-type", "update"],
        "CommunicationRequest": ["create"],
        "Communication": ["search-type"],
        "AppointmentResponse": ["search-type"],
        "Practitioner": [],
        "Location": [],
        "Organization": [],
    }
    (appointment,) = [r for r in rest.resource if r.type == "Appointment"]
    assert sorted(p.name for p in appointment.searchParam) == [
        "_count",
        "date",
        "identifier",
        "patient",
        "status",
    ]
    outcomes = {r.type: sorted(p.name for p in r.searchParam or []) for r in rest.resource}
    assert outcomes["Communication"] == ["_count", "_lastUpdated", "about", "patient"]
    assert outcomes["AppointmentResponse"] == ["_count", "_lastUpdated", "appointment", "patient"]
    counts = {p.type for r in rest.resource for p in r.searchParam or [] if p.name == "_count"}
    assert counts == {"number"}
    assert [i.code for i in rest.interaction] == ["transaction"]


def test_the_published_examples_are_stored_and_the_visit_planned(
    api: TestClient, keys: Keys, database_url: str
) -> None:
    patient = published_patient()
    created = put(api, keys.scheduler, patient)
    assert created.status_code == 201, created.text
    read = api.get("/fhir/r4/Patient/example", headers=keys.header(keys.staff))
    assert read.status_code == 200
    assert read.json() == patient  # contact, telecom and all, as sent

    start = visit_at(3)
    stored = put(api, keys.scheduler, published_appointment(start))
    assert stored.status_code == 201, stored.text
    visit = appointment_row(api, keys, "acme", "example")
    assert visit["status"] == "booked"
    assert visit["provider"] == "Dr Adam Careful"
    assert visit["location"] == "South Wing, second floor"
    # The mobile number, read as Australian (the clinic's country); never the work one.
    assert visit["patient"]["name"] == "Peter James Chalmers"
    assert visit["patient"]["phone"] == "+61334105613"
    assert visit["patient"]["language"] == "en"  # no communication: the clinic's default
    assert [(r["plan_slot"], r["status"]) for r in visit["reminders"]] == [
        (0, "scheduled"),
        (1, "scheduled"),
    ]
    read = api.get("/fhir/r4/Appointment/example", headers=keys.header(keys.staff))
    assert read.json()["participant"][0]["actor"]["reference"] == "Patient/example"

    replay = put(api, keys.scheduler, published_appointment(start))
    assert replay.status_code == 200, replay.text
    assert len(stored_reminders(database_url, visit["id"])) == 2


def test_the_example_as_published_is_stored_with_nothing_to_remind_of(
    api: TestClient, keys: Keys
) -> None:
    assert put(api, keys.scheduler, published_patient()).status_code == 201
    stored = put(api, keys.scheduler, published_appointment())  # 2013: long past
    assert stored.status_code == 201, stored.text
    assert appointment_row(api, keys, "acme", "example")["reminders"] == []


def test_a_transaction_bundle_resolves_its_references_and_plans_reminders(
    api: TestClient, keys: Keys, database_url: str
) -> None:
    bundle = example("own-transaction-bundle.json")
    start = visit_at(4)
    bundle["entry"][4]["resource"]["start"] = zulu(start)
    bundle["entry"][4]["resource"]["end"] = zulu(start + timedelta(minutes=30))
    answer = api.post(
        "/fhir/r4", json=bundle, headers=keys.header(keys.scheduler), follow_redirects=False
    )
    assert answer.status_code == 200, answer.text
    response = Bundle.model_validate(answer.json())
    assert response.type == "transaction-response"
    statuses = [e.response.status for e in response.entry]
    assert statuses == ["201 Created"] * 4 + ["200 OK"]
    patient_location = response.entry[0].response.location
    assert patient_location.startswith("Patient/")

    visit = appointment_row(api, keys, "riverside", "visit-9001")
    assert visit["patient"]["language"] == "es"
    assert visit["patient"]["phone"] == "+13125550123"  # the mobile, not the work number
    assert visit["provider"] == "Dr. Li Chen"
    assert visit["location"] == "Second floor, suite 210"
    assert visit["instructions"] == "Bring your medicine list."
    assert len(visit["reminders"]) == 2
    assert {r.language for r in stored_reminders(database_url, visit["id"])} == {"es"}

    read = api.get("/fhir/r4/Appointment/visit-9001", headers=keys.header(keys.scheduler))
    actor = read.json()["participant"][0]["actor"]["reference"]
    assert actor == patient_location  # the urn:uuid made the Patient's new id
    patient = api.get(f"/fhir/r4/{actor}", headers=keys.header(keys.scheduler))
    assert patient.json()["contact"][0]["name"]["given"] == ["José"]


def test_a_transaction_is_all_or_nothing(api: TestClient, keys: Keys, database_url: str) -> None:
    bundle = example("own-transaction-bundle.json")
    bundle["entry"][4]["resource"]["start"] = zulu(visit_at(4))
    del bundle["entry"][0]["resource"]["telecom"]  # nobody to call
    answer = api.post("/fhir/r4", json=bundle, headers=keys.header(keys.scheduler))
    assert answer.status_code == 422, answer.text
    assert issues(answer) == [("invalid", ["Patient.telecom"])]
    assert count_appointments(database_url) == 0
    search = api.get("/fhir/r4/Appointment", headers=keys.header(keys.admin))
    assert search.json()["total"] == 0


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        (lambda a: a.update(status="proposed"), "Appointment.status"),
        (lambda a: a.pop("start"), "Appointment.start"),
        (lambda a: a.pop("meta"), "Appointment.meta"),
        (lambda a: a.update(colour="blue"), "Appointment.colour"),
        (lambda a: a["participant"].pop(0), "Appointment.participant"),
        (lambda a: a["participant"].pop(2), "Appointment.participant"),
        (lambda a: a.update(priority="high"), "Appointment.priority"),
        (lambda a: a.update(id="other"), "Appointment.id"),
    ],
)
def test_a_bad_appointment_is_an_operation_outcome_naming_the_element(
    api: TestClient,
    keys: Keys,
    database_url: str,
    change: Callable[[dict[str, Any]], object],
    expression: str,
) -> None:
    assert put(api, keys.scheduler, published_patient()).status_code == 201
    appointment = published_appointment(visit_at(3))
    changed = copy.deepcopy(appointment)
    change(changed)
    answer = api.put(
        "/fhir/r4/Appointment/example", json=changed, headers=keys.header(keys.scheduler)
    )
    assert answer.status_code == 422, answer.text
    assert [expressions for _, expressions in issues(answer)] == [[expression]]
    assert count_appointments(database_url) == 0


def test_bad_patients_and_bodies_are_operation_outcomes(api: TestClient, keys: Keys) -> None:
    patient = published_patient()
    patient["telecom"][2]["rank"] = "second"
    answer = put(api, keys.scheduler, patient)
    assert answer.status_code == 422
    assert issues(answer) == [("invalid", ["Patient.telecom[2].rank"])]

    patient = published_patient()
    patient["communication"] = [{"language": {"coding": [{"code": "xx-klingon"}]}}]
    assert put(api, keys.scheduler, patient).status_code == 201  # stored; read at the visit
    answer = put(api, keys.scheduler, published_appointment(visit_at(3)))
    assert answer.status_code == 422
    assert issues(answer) == [("invalid", ["Patient.communication.language"])]

    not_json = api.put(
        "/fhir/r4/Patient/example",
        content=b"{not json",
        headers={**keys.header(keys.scheduler), "Content-Type": FHIR_JSON},
    )
    assert not_json.status_code == 422
    assert issues(not_json)[0][0] == "invalid"
    unknown = api.get("/fhir/r4/Encounter/1", headers=keys.header(keys.staff))
    assert unknown.status_code == 404
    assert issues(unknown) == [("not-found", [])]


def test_keys_roles_and_clinic_limits(api: TestClient, keys: Keys, database_url: str) -> None:
    nobody = api.get("/fhir/r4/Patient/example")
    assert nobody.status_code == 401
    assert issues(nobody) == [("login", [])]
    assert put(api, keys.staff, published_patient()).status_code == 403

    limited = limited_key(database_url, "riverside")
    assert put(api, limited, published_patient()).status_code == 201
    refused = put(api, limited, published_appointment(visit_at(3)))  # acme's visit
    assert refused.status_code == 403
    assert issues(refused) == [("forbidden", [])]
    assert count_appointments(database_url) == 0

    assert put(api, keys.scheduler, published_patient()).status_code == 404  # not its own
    other = api.get("/fhir/r4/Patient/example", headers=keys.header(keys.other_scheduler))
    assert other.status_code == 404
    assert api.get("/fhir/r4/Patient/example", headers=keys.header(keys.staff)).status_code == 200


def test_a_moved_visit_the_patient_heard_of_gets_one_change_message(
    api: TestClient, keys: Keys, database_url: str
) -> None:
    assert put(api, keys.scheduler, published_patient()).status_code == 201
    first = visit_at(0.5)  # the "2 hours before" reminder is still ahead
    assert put(api, keys.scheduler, published_appointment(first)).status_code == 201
    visit = appointment_row(api, keys, "acme", "example")
    told = visit["reminders"][-1]
    deliver(database_url, told["id"])

    moved = first + timedelta(days=2)
    answer = put(api, keys.scheduler, published_appointment(moved, version=2))
    assert answer.status_code == 200, answer.text
    replay = put(api, keys.scheduler, published_appointment(moved, version=2))
    assert replay.status_code == 200
    kinds = [r.kind for r in stored_reminders(database_url, visit["id"])]
    assert kinds.count("appointment_changed") == 1

    older = put(api, keys.scheduler, published_appointment(first, version=1))
    assert older.status_code == 409
    assert issues(older) == [("conflict", ["Appointment.meta.versionId"])]
    read = api.get("/fhir/r4/Appointment/example", headers=keys.header(keys.staff))
    assert read.json()["start"] == zulu(moved)


def test_search_by_identifier_patient_date_and_status(api: TestClient, keys: Keys) -> None:
    bundle = example("own-transaction-bundle.json")
    start = visit_at(4)
    bundle["entry"][4]["resource"]["start"] = zulu(start)
    posted = api.post("/fhir/r4", json=bundle, headers=keys.header(keys.scheduler))
    assert posted.status_code == 200, posted.text
    patient = posted.json()["entry"][0]["response"]["location"]
    assert put(api, keys.scheduler, published_patient()).status_code == 201
    assert put(api, keys.scheduler, published_appointment(visit_at(6))).status_code == 201

    def found(query: str, key: str = keys.scheduler) -> list[str]:
        answer = api.get(f"/fhir/r4/Appointment?{query}", headers=keys.header(key))
        assert answer.status_code == 200, answer.text
        bundle = Bundle.model_validate(answer.json())
        assert bundle.type == "searchset"
        return [entry.resource.id for entry in bundle.entry or []]

    assert found("") == ["visit-9001", "example"]
    assert found("identifier=urn:oid:2.16.840.1.113883.19.7|SCH-9001") == ["visit-9001"]
    assert found("identifier=SCH-9001") == ["visit-9001"]
    assert found("identifier=other|SCH-9001") == []
    assert found(f"patient={patient}") == ["visit-9001"]
    assert found("patient=example") == ["example"]
    assert found(f"date={start.date().isoformat()}") == ["visit-9001"]
    assert found(f"date=gt{start.date().isoformat()}") == ["example"]
    assert found(f"date=ge{zulu(start)}&date=lt{zulu(start + timedelta(days=1))}") == ["visit-9001"]
    assert found("status=booked") == ["visit-9001", "example"]
    assert found("status=cancelled") == []
    assert found("", keys.other_scheduler) == []
    assert found("", keys.staff) == ["visit-9001", "example"]
    bad = api.get("/fhir/r4/Appointment?date=tomorrow", headers=keys.header(keys.staff))
    assert bad.status_code == 422
    assert issues(bad) == [("invalid", ["date"])]

    cancelled = api.delete("/v1/appointments/acme/example", headers=keys.header(keys.scheduler))
    assert cancelled.status_code == 200
    assert found("status=cancelled") == ["example"]  # as it stands now


def test_erasing_the_patient_erases_what_fhir_kept_of_them(
    api: TestClient, keys: Keys, database_url: str
) -> None:
    bundle = example("own-transaction-bundle.json")
    bundle["entry"][4]["resource"]["start"] = zulu(visit_at(4))
    posted = api.post("/fhir/r4", json=bundle, headers=keys.header(keys.scheduler))
    assert posted.status_code == 200, posted.text
    patient = posted.json()["entry"][0]["response"]["location"]

    erased = api.request(
        "DELETE", "/v1/patients", json={"phone": "+13125550123"}, headers=keys.header(keys.admin)
    )
    assert erased.status_code == 200, erased.text
    assert api.get(f"/fhir/r4/{patient}", headers=keys.header(keys.admin)).status_code == 404
    shown = api.get("/fhir/r4/Appointment/visit-9001", headers=keys.header(keys.admin))
    assert shown.status_code == 200
    assert shown.json()["status"] == "cancelled"
    seen = json.dumps(shown.json())
    for personal in ("López", "555-01", "Li", "medicine", patient):
        assert personal not in seen
    assert (
        api.get(f"/fhir/r4/Appointment?patient={patient}", headers=keys.header(keys.admin)).json()[
            "total"
        ]
        == 0
    )


def test_each_reminder_comes_back_as_a_communication(
    api: TestClient, keys: Keys, database_url: str
) -> None:
    assert put(api, keys.scheduler, published_patient()).status_code == 201
    assert put(api, keys.scheduler, published_appointment(visit_at(3))).status_code == 201
    visit = appointment_row(api, keys, "acme", "example")
    told, pending = visit["reminders"][1]["id"], visit["reminders"][0]["id"]
    deliver(database_url, told)
    cancelled = api.delete("/v1/appointments/acme/example", headers=keys.header(keys.scheduler))
    assert cancelled.status_code == 200, cancelled.text

    def found(query: str, key: str = keys.staff) -> dict[str, dict[str, Any]]:
        answer = api.get(f"/fhir/r4/Communication?{query}", headers=keys.header(key))
        assert answer.status_code == 200, answer.text
        bundle = Bundle.model_validate(answer.json())
        assert bundle.type == "searchset"
        return {entry.resource.id: answer.json()["entry"][i]["resource"]
                for i, entry in enumerate(bundle.entry or [])}  # fmt: skip

    by_id = found("about=Appointment/example")
    assert by_id == found("patient=Patient/example") == found("patient=example", keys.scheduler)
    delivered = by_id[told]
    assert delivered["status"] == "completed"
    assert delivered["sent"] and delivered["received"]
    assert delivered["about"] == [{"reference": "Appointment/example"}]
    assert delivered["recipient"] == [{"reference": "Patient/example"}]
    assert delivered["medium"][0]["coding"][0]["code"] == "PHONE"
    assert by_id[pending]["status"] == "not-done"
    assert by_id[pending]["statusReason"] == {"text": "appointment cancelled"}
    (notice,) = [c for c in by_id.values() if c["category"] == [{"text": "appointment_cancelled"}]]
    assert notice["status"] == "preparation" and "sent" not in notice

    assert found("about=Appointment/other") == {}
    assert found("about=Appointment/example", keys.other_scheduler) == {}
    missing = api.get("/fhir/r4/Communication", headers=keys.header(keys.staff))
    assert missing.status_code == 422
    assert issues(missing) == [("invalid", ["about"])]


def test_a_message_with_the_staff_is_a_communication_with_its_steps(
    api: TestClient, keys: Keys, database_url: str
) -> None:
    """Escalated to the clinic's staff, then handled: the search still answers, the
    Communication says the patient was not reached, and each step is a note."""
    assert put(api, keys.scheduler, published_patient()).status_code == 201
    assert put(api, keys.scheduler, published_appointment(visit_at(3))).status_code == 201
    reminder_id = appointment_row(api, keys, "acme", "example")["reminders"][1]["id"]
    db = Database(database_url)
    with db.session() as session:
        for status in (Status.RENDERING, Status.READY, Status.DISPATCHING):
            assert advance(session, reminder_id, status)
        session.add(  # as the pipeline records a step the reminder stays dispatching for
            ReminderEvent(
                reminder_id=reminder_id,
                status=Status.DISPATCHING,
                step=1,
                detail="step 1 (sms): text sent",
            )
        )
        session.flush()
        assert advance(
            session,
            reminder_id,
            Status.NEEDS_STAFF,
            step=2,
            detail="step 2 (staff): handed to the clinic's staff",
        )
    db.dispose()

    def communication() -> dict[str, Any]:
        answer = api.get(
            "/fhir/r4/Communication?about=Appointment/example", headers=keys.header(keys.staff)
        )
        assert answer.status_code == 200, answer.text
        Bundle.model_validate(answer.json())
        (found,) = [
            e["resource"] for e in answer.json()["entry"] if e["resource"]["id"] == reminder_id
        ]
        return dict(found)

    with_staff = communication()
    assert with_staff["status"] == "not-done"
    assert with_staff["statusReason"] == {"text": "step 2 (staff): handed to the clinic's staff"}
    assert [note["text"] for note in with_staff["note"]] == [
        "step 1 (sms): text sent",
        "step 2 (staff): handed to the clinic's staff",
    ]
    handled = api.post(f"/v1/reminders/{reminder_id}/handled", headers=keys.header(keys.staff))
    assert handled.status_code == 200, handled.text
    assert communication()["status"] == "not-done"


def test_communications_are_searched_by_last_updated(
    api: TestClient, keys: Keys, database_url: str
) -> None:
    assert put(api, keys.scheduler, published_patient()).status_code == 201
    assert put(api, keys.scheduler, published_appointment(visit_at(3))).status_code == 201
    pending, told = (r["id"] for r in appointment_row(api, keys, "acme", "example")["reminders"])
    deliver(database_url, told)  # after both were planned: changed last

    def found(*last_updated: str) -> dict[str, str]:
        """Communication id -> its meta.lastUpdated, of the visit, within ``last_updated``."""
        query = {"about": "Appointment/example", "_lastUpdated": list(last_updated)}
        answer = api.get("/fhir/r4/Communication", params=query, headers=keys.header(keys.staff))
        assert answer.status_code == 200, answer.text
        Bundle.model_validate(answer.json())
        entries = answer.json().get("entry", [])
        return {e["resource"]["id"]: e["resource"]["meta"]["lastUpdated"] for e in entries}

    everything = found()
    assert set(everything) == {pending, told}
    delivered_at = datetime.fromisoformat(everything[told])
    assert datetime.fromisoformat(everything[pending]) < delivered_at
    at = zulu(delivered_at)
    assert set(found(f"ge{at}")) == {told}
    assert set(found(f"lt{at}")) == {pending}
    assert set(found(f"gt{at}")) == set()
    yesterday = (delivered_at - timedelta(days=1)).date().isoformat()
    assert set(found(f"ge{yesterday}")) == {pending, told}
    assert set(found(f"le{yesterday}")) == set()
    assert set(found(f"ge{yesterday}", f"lt{at}")) == {pending}
    for bad in ("ne2030-01-01", "yesterday", "2030-13"):
        refused = api.get(
            "/fhir/r4/Communication",
            params={"about": "Appointment/example", "_lastUpdated": bad},
            headers=keys.header(keys.staff),
        )
        assert refused.status_code == 422, (bad, refused.text)
        assert issues(refused) == [("invalid", ["_lastUpdated"])]


def test_a_communication_request_sends_one_message_and_its_outcome_is_based_on_it(
    api: TestClient, keys: Keys, database_url: str
) -> None:
    assert put(api, keys.scheduler, published_patient()).status_code == 201
    assert put(api, keys.scheduler, published_appointment(visit_at(3))).status_code == 201
    asked = {
        "resourceType": "CommunicationRequest",
        "status": "active",
        "about": [{"reference": "Appointment/example"}],
        "recipient": [{"reference": "Patient/example"}],
        "occurrenceDateTime": zulu(visit_at(1)),
        "medium": [{"coding": [{"system": PARTICIPATION_MODE, "code": "PHONE"}]}],
    }
    url = "/fhir/r4/CommunicationRequest"
    answer = api.post(url, json=asked, headers=keys.header(keys.scheduler))
    assert answer.status_code == 201, answer.text
    request_id = answer.json()["id"]
    assert answer.headers["location"] == f"CommunicationRequest/{request_id}"
    reminder = api.get(f"/v1/reminders/{request_id}", headers=keys.header(keys.scheduler))
    assert reminder.status_code == 200, reminder.text
    assert reminder.json()["kind"] == "appointment_reminder"
    assert reminder.json()["channel"] == "phone"

    deliver(database_url, request_id)
    outcomes = api.get(
        "/fhir/r4/Communication?about=Appointment/example", headers=keys.header(keys.staff)
    )
    (outcome,) = [
        e["resource"] for e in outcomes.json()["entry"] if e["resource"]["id"] == request_id
    ]
    assert outcome["status"] == "completed"
    assert outcome["basedOn"] == [{"reference": f"CommunicationRequest/{request_id}"}]
    assert len(outcomes.json()["entry"]) == 3  # the two planned reminders and this one

    for change, expression in (
        ({"about": [{"reference": "Appointment/nope"}]}, "CommunicationRequest.about"),
        ({"recipient": [{"reference": "Patient/other"}]}, "CommunicationRequest.recipient"),
        ({"status": "draft"}, "CommunicationRequest.status"),
        ({"medium": [{"text": "carrier pigeon"}]}, "CommunicationRequest.medium"),
        ({"occurrenceDateTime": "2020-01-01T10:00:00Z"}, "CommunicationRequest.occurrenceDateTime"),
    ):
        refused = api.post(url, json={**asked, **change}, headers=keys.header(keys.scheduler))
        assert refused.status_code == 422, (change, refused.text)
        assert [e for _, e in issues(refused)] == [[expression]]
    staff = api.post(url, json=asked, headers=keys.header(keys.staff))
    assert staff.status_code == 403


def test_a_follow_up_asked_through_fhir_comes_back_with_its_answer(
    api: TestClient, keys: Keys, database_url: str
) -> None:
    """After a visit the EHR asks its one question by CommunicationRequest; the patient's
    answer (here "no", on the listen page) comes back on the Communication, machine
    readable and in words, and a person is asked to follow it up."""
    assert put(api, keys.scheduler, published_patient()).status_code == 201
    assert put(api, keys.scheduler, published_appointment(visit_at(3))).status_code == 201
    url = "/fhir/r4/CommunicationRequest"
    asked = {
        "resourceType": "CommunicationRequest",
        "status": "active",
        "category": [
            {
                "coding": [
                    {"system": MESSAGE_KIND_SYSTEM, "code": "follow_up"},
                    {"system": FOLLOW_UP_QUESTION_SYSTEM, "code": "resolved"},
                ]
            }
        ],
        "about": [{"reference": "Appointment/example"}],
        "recipient": [{"reference": "Patient/example"}],
        "medium": [{"coding": [{"system": PARTICIPATION_MODE, "code": "PHONE"}]}],
    }
    answer = api.post(url, json=asked, headers=keys.header(keys.scheduler))
    assert answer.status_code == 201, answer.text
    asked_id = answer.json()["id"]
    reminder = api.get(f"/v1/reminders/{asked_id}", headers=keys.header(keys.staff)).json()
    assert reminder["kind"] == "follow_up"
    assert reminder["follow_up"]["question"] == "resolved"

    deliver(database_url, asked_id)
    db = Database(database_url)
    with db.session() as session:
        session.add(Attempt(reminder_id=asked_id, channel="outbox"))
    db.dispose()
    link = api.app.state.services.pipeline.links.listen(asked_id)  # type: ignore[attr-defined]
    token = link.rsplit("/", 1)[1]
    said = api.post(f"/listen/{token}/answer", data={"key": "2"}, follow_redirects=False)
    assert said.status_code == 303, said.text

    outcomes = api.get(
        "/fhir/r4/Communication?about=Appointment/example", headers=keys.header(keys.staff)
    )
    Bundle.model_validate(outcomes.json())
    (outcome,) = [
        e["resource"] for e in outcomes.json()["entry"] if e["resource"]["id"] == asked_id
    ]
    assert outcome["category"] == [{"text": "follow_up"}]
    assert outcome["status"] == "completed"  # it reached the patient, who answered
    assert outcome["basedOn"] == [{"reference": f"CommunicationRequest/{asked_id}"}]
    (extension,) = outcome["extension"]
    assert extension["url"] == FOLLOW_UP_ANSWER
    parts = {part["url"]: part for part in extension["extension"]}
    assert parts["question"]["valueCode"] == "resolved"
    assert parts["answer"]["valueString"] == "no"
    assert "answered" in parts
    assert outcome["payload"][-1] == {"contentString": "The patient answered no (resolved)."}
    stored = api.get(f"/v1/reminders/{asked_id}", headers=keys.header(keys.staff)).json()
    assert stored["status"] == "needs_staff"

    for category, why in (
        ([{"coding": [{"system": MESSAGE_KIND_SYSTEM, "code": "result_ready"}]}], "code must"),
        ([{"coding": [{"system": FOLLOW_UP_QUESTION_SYSTEM, "code": "resolved"}]}], "only for"),
        ([{"coding": [{"system": FOLLOW_UP_QUESTION_SYSTEM, "code": "mood"}]}], "code must"),
    ):
        refused = api.post(
            url, json={**asked, "category": category}, headers=keys.header(keys.scheduler)
        )
        assert refused.status_code == 422, (category, refused.text)
        assert [e for _, e in issues(refused)] == [["CommunicationRequest.category"]]
        assert why in refused.text


def test_a_keypress_comes_back_as_an_appointment_response(
    api: TestClient, keys: Keys, database_url: str
) -> None:
    assert put(api, keys.scheduler, published_patient()).status_code == 201
    assert put(api, keys.scheduler, published_appointment(visit_at(3))).status_code == 201
    first, second = (r["id"] for r in appointment_row(api, keys, "acme", "example")["reminders"])
    url = "/fhir/r4/AppointmentResponse?appointment=Appointment/example"
    assert api.get(url, headers=keys.header(keys.staff)).json()["total"] == 0
    deliver(database_url, first)
    advance_to(database_url, first, "confirmed")
    deliver(database_url, second)
    advance_to(database_url, second, "cancel_requested")

    answer = api.get(url, headers=keys.header(keys.staff))
    assert answer.status_code == 200, answer.text
    bundle = Bundle.model_validate(answer.json())
    responses = {e.resource.id: e.resource for e in bundle.entry or []}
    assert responses[first].participantStatus == "accepted"
    assert responses[second].participantStatus == "declined"
    assert responses[first].actor.reference == "Patient/example"
    assert responses[first].appointment.reference == "Appointment/example"
    by_patient = api.get(
        "/fhir/r4/AppointmentResponse?patient=Patient/example", headers=keys.header(keys.staff)
    )
    assert by_patient.json()["total"] == 2
    answered_last = responses[second].meta.lastUpdated
    assert answered_last > responses[first].meta.lastUpdated
    since = api.get(
        "/fhir/r4/AppointmentResponse",
        params={"appointment": "Appointment/example", "_lastUpdated": f"ge{zulu(answered_last)}"},
        headers=keys.header(keys.staff),
    )
    assert since.status_code == 200, since.text
    assert [e["resource"]["id"] for e in since.json()["entry"]] == [second]
    missing = api.get("/fhir/r4/AppointmentResponse", headers=keys.header(keys.staff))
    assert issues(missing) == [("invalid", ["appointment"])]


def many_visits(count: int, per_bundle: int = 35) -> tuple[list[dict[str, Any]], list[str]]:
    """Transaction Bundles (each under the body limit) storing one Patient,
    ``Patient/many``, and ``count`` Appointments of theirs, two at each start (so a page
    may end between two visits at one time); the Appointment ids in search order."""
    first = visit_at(4)
    bundles, ids = [], []
    for offset in range(0, count, per_bundle):
        bundle = example("own-transaction-bundle.json")
        visit = bundle["entry"].pop()
        bundle["entry"][0]["resource"]["id"] = "many"
        bundle["entry"][0]["request"] = {"method": "PUT", "url": "Patient/many"}
        for n in range(offset, min(offset + per_bundle, count)):
            entry = copy.deepcopy(visit)
            start = first + timedelta(hours=n // 2)
            entry["resource"] |= {
                "id": f"visit-{n:03}",
                "identifier": [{"system": "urn:example:sch", "value": f"SCH-{n}"}],
                "start": zulu(start),
                "end": zulu(start + timedelta(minutes=30)),
            }
            entry["request"]["url"] = f"Appointment/visit-{n:03}"
            bundle["entry"].append(entry)
            ids.append(f"visit-{n:03}")
        bundles.append(bundle)
    return bundles, ids


def pages(api: TestClient, key: str, url: str) -> list[list[str]]:
    """Each page's resource ids, following ``next`` links to the end."""
    seen: list[list[str]] = []
    next_url: str | None = url
    while next_url is not None:
        answer = api.get(next_url, headers=Keys.header(key))
        assert answer.status_code == 200, answer.text
        bundle = Bundle.model_validate(answer.json())
        seen.append([entry.resource.id for entry in bundle.entry or []])
        links = {link.relation: link.url for link in bundle.link or []}
        assert links["self"]
        next_url = links.get("next")
        assert (bundle.total is None) == (len(seen) > 1 or next_url is not None)
    return seen


def test_searches_page_past_one_hundred_matches_by_next_links(
    api: TestClient, keys: Keys, database_url: str
) -> None:
    bundles, ids = many_visits(105)
    for bundle in bundles:
        posted = api.post("/fhir/r4", json=bundle, headers=keys.header(keys.scheduler))
        assert posted.status_code == 200, posted.text

    by_hundred = pages(api, keys.staff, "/fhir/r4/Appointment")
    assert [len(page) for page in by_hundred] == [100, 5]
    assert list(chain(*by_hundred)) == ids
    by_forty = pages(api, keys.scheduler, "/fhir/r4/Appointment?status=booked&_count=40")
    assert [len(page) for page in by_forty] == [40, 40, 25]
    assert list(chain(*by_forty)) == ids
    capped = api.get("/fhir/r4/Appointment?_count=1000", headers=keys.header(keys.staff))
    assert len(capped.json()["entry"]) == 100

    # A visit stored between two pages, earlier than the cursor, moves no page.
    first_page = api.get("/fhir/r4/Appointment?_count=50", headers=keys.header(keys.staff))
    next_url = {link["relation"]: link["url"] for link in first_page.json()["link"]}["next"]
    early = published_appointment(visit_at(1))
    assert put(api, keys.scheduler, published_patient()).status_code == 201
    assert put(api, keys.scheduler, early).status_code == 201
    rest = pages(api, keys.staff, next_url)
    assert list(chain(*rest)) == ids[50:]

    messages = pages(api, keys.staff, "/fhir/r4/Communication?patient=Patient/many")
    assert [len(page) for page in messages] == [100, 100, 10]
    reminders = list(chain(*messages))
    assert len(set(reminders)) == 210
    db = Database(database_url)
    with db.session() as session:
        by_send_time = session.scalars(select(Reminder.id).order_by(Reminder.send_at, Reminder.id))
        assert reminders == [r for r in by_send_time if r in set(reminders)]
    db.dispose()

    forged = api.get(
        "/fhir/r4/Appointment?_cursor=bm90LWEtY3Vyc29y", headers=keys.header(keys.staff)
    )
    assert forged.status_code == 422
    assert issues(forged) == [("invalid", ["_cursor"])]
    zero = api.get(
        "/fhir/r4/Communication?patient=example&_count=0", headers=keys.header(keys.staff)
    )
    assert issues(zero) == [("invalid", ["_count"])]


def test_a_patient_update_alone_replans_the_pending_reminders_of_their_visits(
    api: TestClient, keys: Keys, database_url: str
) -> None:
    """A new mobile number and language in a Patient PUT reach the visit's reminders: the
    one not yet rendered takes them in place; the one already rendered (its audio in the
    old language) is cancelled and planned again, to be rendered anew."""
    assert put(api, keys.scheduler, published_patient()).status_code == 201
    assert put(api, keys.scheduler, published_appointment(visit_at(3))).status_code == 201
    visit = appointment_row(api, keys, "acme", "example")
    pending, rendered = (r["id"] for r in visit["reminders"])
    advance_to(database_url, rendered, "rendering")
    advance_to(database_url, rendered, "ready")

    patient = published_patient()
    patient["meta"] = {"lastUpdated": "2026-12-01T08:00:00Z"}
    patient["telecom"] = [{"system": "phone", "value": "0491 570 156", "use": "mobile"}]
    patient["communication"] = [{"language": {"coding": [{"code": "es"}]}, "preferred": True}]
    answer = put(api, keys.scheduler, patient)
    assert answer.status_code == 200, answer.text

    now = appointment_row(api, keys, "acme", "example")
    assert now["patient"]["phone"] == "+61491570156" and now["patient"]["language"] == "es"
    assert now["start"] == visit["start"]
    by_id = {r.id: r for r in stored_reminders(database_url, visit["id"])}
    assert by_id[pending].status == "scheduled" and by_id[pending].language == "es"
    assert by_id[pending].facts["patient"]["phone"] == "+61491570156"
    assert by_id[rendered].status == "cancelled"
    (again,) = [r for r in by_id.values() if r.id not in {pending, rendered}]
    assert again.status == "scheduled" and again.plan_slot == by_id[rendered].plan_slot
    assert again.language == "es" and again.facts["patient"]["phone"] == "+61491570156"

    # The same Patient again changes nothing.
    assert put(api, keys.scheduler, patient).status_code == 200
    assert len(stored_reminders(database_url, visit["id"])) == 3


def spanish_visit_bundle() -> dict[str, Any]:
    """Our Bundle: a Spanish-speaking patient, the clinic's Location ("Second floor, suite
    210") and patientInstruction ("Bring your medicine list.") in English."""
    bundle = example("own-transaction-bundle.json")
    start = visit_at(4)
    bundle["entry"][4]["resource"]["start"] = zulu(start)
    bundle["entry"][4]["resource"]["end"] = zulu(start + timedelta(minutes=30))
    return bundle


def test_free_text_in_another_language_is_stored_with_a_warning_outcome(
    api: TestClient, keys: Keys
) -> None:
    answer = api.post("/fhir/r4", json=spanish_visit_bundle(), headers=keys.header(keys.scheduler))
    assert answer.status_code == 200, answer.text
    response = Bundle.model_validate(answer.json())
    assert [e.response.outcome for e in response.entry[:4]] == [None] * 4
    outcome = response.entry[4].response.outcome
    assert outcome is not None
    issues = [
        (i.severity, i.code, list(i.expression or []), i.diagnostics or "")
        for i in OperationOutcome.model_validate(outcome.model_dump()).issue
    ]
    assert [(s, c, e) for s, c, e, _ in issues] == [
        ("warning", "business-rule", ["Appointment.participant"]),
        ("warning", "business-rule", ["Appointment.patientInstruction"]),
    ]
    assert all("reads as English ('en'" in d and "('es')" in d for *_, d in issues)
    assert len(appointment_row(api, keys, "riverside", "visit-9001")["reminders"]) == 2


def test_a_put_that_prefers_an_outcome_gets_its_warnings(api: TestClient, keys: Keys) -> None:
    patient = published_patient()
    patient["communication"] = [
        {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es"}]}}
    ]
    assert put(api, keys.scheduler, patient).status_code == 201
    appointment = published_appointment(visit_at(3))
    appointment["patientInstruction"] = "Please bring your medicine list and arrive early."
    url = f"/fhir/r4/Appointment/{appointment['id']}"
    headers = {**keys.header(keys.scheduler), "Content-Type": FHIR_JSON}
    answer = api.put(
        url, json=appointment, headers={**headers, "Prefer": "return=OperationOutcome"}
    )
    assert answer.status_code == 201
    assert ("business-rule", ["Appointment.patientInstruction"]) in issues(answer)
    # Without the preference the answer is the resource, as before.
    appointment["meta"] = {"versionId": "2"}
    plain = api.put(url, json=appointment, headers=headers)
    assert plain.status_code == 200 and plain.json()["resourceType"] == "Appointment"


def test_a_clinic_that_refuses_it_answers_an_outcome_naming_the_elements(
    api: TestClient, keys: Keys, database_url: str
) -> None:
    refused = api.patch(
        "/v1/clinics/riverside",
        json={"refuse_other_language_text": True},
        headers=keys.header(keys.admin),
    )
    assert refused.status_code == 200, refused.text
    answer = api.post("/fhir/r4", json=spanish_visit_bundle(), headers=keys.header(keys.scheduler))
    assert answer.status_code == 422
    assert issues(answer) == [
        ("invalid", ["Appointment.participant"]),
        ("invalid", ["Appointment.patientInstruction"]),
    ]
    assert "refuses free text in another language" in answer.text
    assert count_appointments(database_url) == 0
