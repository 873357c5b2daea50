"""``/v1/appointments`` as a scheduling system uses it: planned reminders, re-plans,
change and cancellation messages sent once, older updates refused, clinic limits, bad input.

The app runs with a Redis queue no worker reads, so a reminder stays where the API left it
and each test sees exactly what the API planned; a message "reaching" the patient is moved
through the status machine (``tests.support.clinics.deliver``). The patient's time zone is
one where it is mid-day now, so a message due now is inside the calling hours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from devtools.timezones import daytime_zone
from service.app import create_app
from service.config import Settings
from service.db import Database
from service.models import AuditEntry
from service.security import KEY_CACHE_TTL_S
from tests.support.api import Keys, count_reminders
from tests.support.appointments import (
    appointment_body,
    count_appointments,
    deliver,
    stored_reminders,
)
from tests.support.clinics import limited_key, store_clinic
from tests.support.clock import OffsetClock

URL = "/v1/appointments/riverside/A-1"


@pytest.fixture
def api(
    make_settings: Callable[..., Settings], redis_url: str, keys: Keys, clock: OffsetClock
) -> Iterator[TestClient]:
    settings = make_settings(redis_url=redis_url)
    with TestClient(create_app(settings, clock=clock)) as client:
        yield client


@pytest.fixture
def zone() -> str:
    return daytime_zone()


@pytest.fixture(autouse=True)
def riverside(database_url: str) -> str:
    return store_clinic(database_url)


def visit_at(days: float = 3) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def body(start: datetime, zone: str, version: int = 1, **changes: Any) -> dict[str, Any]:
    made = appointment_body(start, version, **changes)
    made["patient"] = {**made["patient"], "timezone": zone, **changes.get("patient", {})}
    return made


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def by_kind(answer: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in answer["reminders"] if r["kind"] == kind]


def test_a_new_appointment_plans_a_reminder_per_offset_and_a_replay_changes_nothing(
    api: TestClient, keys: Keys, database_url: str, zone: str
) -> None:
    start = visit_at(3)
    created = api.put(URL, json=body(start, zone), headers=keys.header(keys.scheduler))
    assert created.status_code == 201, created.text
    answer = created.json()
    assert answer["change"] == "created"
    assert answer["links"]["self"] == "http://testserver/v1/appointments/riverside/A-1"
    reminders = answer["reminders"]
    assert [(r["plan_slot"], r["status"], r["channel"]) for r in reminders] == [
        (0, "scheduled", "phone"),
        (1, "scheduled", "phone"),
    ]
    day_before = moment(reminders[0]["send_at"]).astimezone(ZoneInfo(zone))
    assert (day_before.date(), day_before.strftime("%H:%M")) == (
        start.astimezone(ZoneInfo(zone)).date() - timedelta(days=1),
        "10:00",
    )
    assert moment(reminders[1]["send_at"]) == start - timedelta(hours=2)

    stored = stored_reminders(database_url, answer["id"])
    assert {r.expires_at for r in stored} == {start}
    facts = stored[0].facts
    assert facts["clinic"]["id"] == "riverside"
    assert facts["patient"]["name"] == "María López"
    assert moment(facts["appointment"]["start"]) == start
    assert {(r.language, r.external_id, r.clinic_id) for r in stored} == {
        ("es", "A-1", "riverside")
    }
    listed = api.get("/v1/reminders?external_id=A-1", headers=keys.header(keys.scheduler))
    assert len(listed.json()["items"]) == 2  # the scheduler's own reminders, like any other

    replay = api.put(URL, json=body(start, zone), headers=keys.header(keys.scheduler))
    assert replay.status_code == 200, replay.text
    assert replay.json()["change"] == "unchanged"
    assert replay.json()["reminders"] == reminders
    assert count_reminders(database_url) == 2


def test_what_the_patient_leaves_out_comes_from_the_clinic(
    api: TestClient, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url, id="northside", default_language="en", default_speech_rate="slow")
    request = appointment_body(visit_at(), patient={"name": "Ana Ruiz", "phone": "+13125550123"})
    answer = api.put(
        "/v1/appointments/northside/B-7", json=request, headers=keys.header(keys.scheduler)
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["patient"] == {
        "name": "Ana Ruiz",
        "phone": "+13125550123",
        "language": "en",
        "timezone": "America/New_York",
        "speech_rate": "slow",
        "sentence_pause": "normal",
        "repeat_message": False,
        "offer_repeat_twice": False,
        "app_recipient_id": None,
        "erased_at": None,
    }


def test_an_app_patient_is_reached_through_the_first_channel_they_have(
    api: TestClient, keys: Keys, database_url: str, zone: str
) -> None:
    store_clinic(database_url, id="northside", channels=["app", "phone"])
    patient = {"name": "Ana Ruiz", "app_recipient_id": "patient-7", "timezone": zone}
    request = appointment_body(visit_at(), patient=patient)
    answer = api.put(
        "/v1/appointments/northside/B-7", json=request, headers=keys.header(keys.scheduler)
    )
    assert answer.status_code == 201, answer.text
    assert {r["channel"] for r in answer.json()["reminders"]} == {"app"}


def test_an_older_update_is_refused_and_changes_nothing(
    api: TestClient, keys: Keys, zone: str
) -> None:
    start = visit_at(3)
    header = keys.header(keys.scheduler)
    assert api.put(URL, json=body(start, zone, version=5), headers=header).status_code == 201
    older = api.put(URL, json=body(start + timedelta(days=1), zone, version=4), headers=header)
    assert older.status_code == 409, older.text
    assert older.headers["content-type"] == "application/problem+json"
    assert older.json()["errors"] == [
        {"field": "version", "message": "is older than the one stored"}
    ]
    same_version_other_text = body(start, zone, version=5, provider="Dr. Patel")
    clash = api.put(URL, json=same_version_other_text, headers=header)
    assert clash.status_code == 409, clash.text
    assert clash.json()["errors"][0]["field"] == "version"
    kept = api.get(URL, headers=keys.header(keys.staff)).json()
    assert (moment(kept["start"]), kept["provider"], kept["version"]) == (start, "Dr. Chen", 5)
    # A newer version saying the same is remembered: the one before it is now too old.
    newer_same = api.put(URL, json=body(start, zone, version=6), headers=header)
    assert (newer_same.json()["change"], newer_same.json()["version"]) == ("unchanged", 6)
    assert api.put(URL, json=body(start, zone, version=5), headers=header).status_code == 409


def test_updated_at_orders_updates_when_the_source_has_no_version(
    api: TestClient, keys: Keys, zone: str
) -> None:
    start = visit_at(3)
    header = keys.header(keys.scheduler)
    sent_at = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    first = body(start, zone, updated_at=sent_at.isoformat())
    del first["version"]
    assert api.put(URL, json=first, headers=header).status_code == 201
    older = {**first, "updated_at": (sent_at - timedelta(minutes=1)).isoformat(), "start": "x"}
    older["start"] = (start + timedelta(hours=1)).isoformat()
    refused = api.put(URL, json=older, headers=header)
    assert refused.status_code == 409, refused.text
    assert refused.json()["errors"][0]["field"] == "updated_at"
    switched = api.put(URL, json=body(start, zone, version=9), headers=header)
    assert switched.status_code == 422, switched.text
    assert switched.json()["errors"][0]["field"] == "updated_at"


def test_a_moved_visit_retimes_the_pending_reminders_in_place(
    api: TestClient, keys: Keys, zone: str
) -> None:
    start = visit_at(3)
    header = keys.header(keys.scheduler)
    before = api.put(URL, json=body(start, zone), headers=header).json()["reminders"]
    later = start + timedelta(days=1)
    moved = api.put(URL, json=body(later, zone, version=2), headers=header)
    assert moved.status_code == 200, moved.text
    assert moved.json()["change"] == "updated"
    after = moved.json()["reminders"]
    assert [r["id"] for r in after] == [r["id"] for r in before]
    assert [
        moment(r["send_at"]) - moment(b["send_at"]) for r, b in zip(after, before, strict=True)
    ] == [
        timedelta(days=1),
        timedelta(days=1),
    ]
    assert not by_kind(moved.json(), "appointment_changed")  # nobody was told the old time


def test_a_moved_visit_the_patient_heard_about_gets_exactly_one_changed_message(
    api: TestClient, keys: Keys, database_url: str, zone: str
) -> None:
    start = visit_at(3)
    header = keys.header(keys.scheduler)
    first = api.put(URL, json=body(start, zone), headers=header).json()
    deliver(database_url, first["reminders"][0]["id"])
    later = start + timedelta(hours=3)
    moved = api.put(URL, json=body(later, zone, version=2), headers=header)
    assert moved.status_code == 200, moved.text
    changed = by_kind(moved.json(), "appointment_changed")
    assert len(changed) == 1
    assert changed[0]["status"] == "scheduled"
    assert moment(changed[0]["send_at"]) <= datetime.now(UTC)  # due now: inside the hours
    statuses = [
        (r["plan_slot"], r["status"]) for r in by_kind(moved.json(), "appointment_reminder")
    ]
    # The day-before reminder was heard for the old time; the new time gets its own.
    assert statuses == [(0, "delivered"), (0, "scheduled"), (1, "scheduled")]
    for replay in (body(later, zone, version=2), body(later, zone, version=3)):
        again = api.put(URL, json=replay, headers=header)
        assert again.json()["change"] == "unchanged"
        assert len(by_kind(again.json(), "appointment_changed")) == 1
    notice = next(r for r in stored_reminders(database_url, first["id"]) if r.plan_slot is None)
    assert moment(notice.facts["appointment"]["previous_start"]) == start
    assert moment(notice.facts["appointment"]["start"]) == later
    assert notice.expires_at == later

    # Moved again before that message went out: it is replaced, still one to be sent, and
    # it still names the time the patient heard.
    latest = start + timedelta(hours=5)
    again = api.put(URL, json=body(latest, zone, version=4), headers=header).json()
    pending = [r for r in by_kind(again, "appointment_changed") if r["status"] == "scheduled"]
    assert len(pending) == 1
    assert [r["status"] for r in by_kind(again, "appointment_changed")].count("cancelled") == 1
    replaced = next(
        r for r in stored_reminders(database_url, first["id"]) if r.id == pending[0]["id"]
    )
    assert moment(replaced.facts["appointment"]["previous_start"]) == start

    # Moved back to the time the patient heard: nothing to correct any more.
    back = api.put(URL, json=body(start, zone, version=5), headers=header).json()
    assert [r["status"] for r in by_kind(back, "appointment_changed")] == ["cancelled", "cancelled"]


def test_a_cancelled_visit_cancels_what_is_pending_and_tells_a_patient_who_heard_once(
    api: TestClient, keys: Keys, database_url: str, zone: str
) -> None:
    start = visit_at(3)
    header = keys.header(keys.scheduler)
    first = api.put(URL, json=body(start, zone), headers=header).json()
    deliver(database_url, first["reminders"][0]["id"])
    cancelled = api.delete(URL, headers=header)
    assert cancelled.status_code == 200, cancelled.text
    answer = cancelled.json()
    assert (answer["status"], answer["change"]) == ("cancelled", "updated")
    assert [r["status"] for r in by_kind(answer, "appointment_reminder")] == [
        "delivered",
        "cancelled",
    ]
    assert [r["status"] for r in by_kind(answer, "appointment_cancelled")] == ["scheduled"]
    for again in (
        api.delete(URL, headers=header),
        api.put(URL, json=body(start, zone, version=2, status="cancelled"), headers=header),
    ):
        assert again.status_code == 200, again.text
        assert again.json()["change"] == "unchanged"
        assert len(by_kind(again.json(), "appointment_cancelled")) == 1


def test_a_cancelled_visit_nobody_heard_about_sends_nothing(
    api: TestClient, keys: Keys, zone: str
) -> None:
    header = keys.header(keys.scheduler)
    api.put(URL, json=body(visit_at(3), zone), headers=header)
    answer = api.delete(URL, headers=header).json()
    assert [(r["kind"], r["status"]) for r in answer["reminders"]] == [
        ("appointment_reminder", "cancelled"),
        ("appointment_reminder", "cancelled"),
    ]


@pytest.mark.parametrize("status", ["noshow", "fulfilled"])
def test_a_no_show_or_fulfilled_visit_cancels_what_is_pending_without_a_message(
    api: TestClient, keys: Keys, database_url: str, zone: str, status: str
) -> None:
    start = visit_at(3)
    header = keys.header(keys.scheduler)
    first = api.put(URL, json=body(start, zone), headers=header).json()
    deliver(database_url, first["reminders"][0]["id"])
    answer = api.put(URL, json=body(start, zone, version=2, status=status), headers=header).json()
    assert answer["status"] == status
    assert [(r["kind"], r["status"]) for r in answer["reminders"]] == [
        ("appointment_reminder", "delivered"),
        ("appointment_reminder", "cancelled"),
    ]


def test_a_visit_that_has_passed_gets_no_reminder(
    api: TestClient, keys: Keys, clock: OffsetClock, zone: str
) -> None:
    header = keys.header(keys.scheduler)
    past = api.put(URL, json=body(visit_at(-0.1), zone), headers=header)
    assert past.status_code == 201, past.text
    assert past.json()["reminders"] == []

    start = visit_at(1)
    soon = api.put("/v1/appointments/riverside/A-2", json=body(start, zone), headers=header)
    assert len(soon.json()["reminders"]) >= 1
    clock.skip(2 * 24 * 3600)  # the visit is over; the source sends a late correction
    late = body(start + timedelta(hours=1), zone, version=2)
    answer = api.put("/v1/appointments/riverside/A-2", json=late, headers=header).json()
    assert {r["status"] for r in answer["reminders"]} == {"cancelled"}
    assert not by_kind(answer, "appointment_changed")


def test_scheduler_keys_reach_only_their_clinics_and_their_own_appointments(
    api: TestClient, keys: Keys, database_url: str, zone: str, clock: OffsetClock
) -> None:
    request = body(visit_at(), zone)
    assert api.put(URL, json=request, headers=keys.header(keys.other_scheduler)).status_code == 201
    limited_key(database_url, "northside", key=keys.scheduler)
    for method, path in (
        ("PUT", URL),
        ("GET", URL),
        ("DELETE", URL),
        ("GET", "/v1/appointments?clinic_id=riverside"),
    ):
        refused = api.request(
            method,
            path,
            json=request if method == "PUT" else None,
            headers=keys.header(keys.scheduler),
        )
        assert refused.status_code == 403, (method, path, refused.text)
    limited_key(database_url, "riverside", key=keys.scheduler)
    clock.skip(KEY_CACHE_TTL_S + 1)  # the key's limits as remembered by the app lapse
    for method in ("PUT", "GET", "DELETE"):
        hidden = api.request(
            method,
            URL,
            json=request if method == "PUT" else None,
            headers=keys.header(keys.scheduler),
        )
        assert hidden.status_code == 404, (method, hidden.text)
    assert api.get("/v1/appointments", headers=keys.header(keys.scheduler)).json()["items"] == []
    assert api.get(URL, headers=keys.header(keys.staff)).status_code == 200
    assert api.put(URL, json=request, headers=keys.header(keys.staff)).status_code == 403
    assert api.delete(URL, headers=keys.header(keys.staff)).status_code == 403
    assert api.get(URL, headers=keys.header(keys.admin)).status_code == 200


BAD_INPUT = [
    ("/v1/appointments/River%20side/A-1", {}, 422, "clinic_id"),
    ("/v1/appointments/riverside/A%2F1", {}, 404, None),  # an encoded slash: no such route
    ("/v1/appointments/riverside/" + "x" * 201, {}, 422, "external_id"),
    ("/v1/appointments/riverside/-dash-first", {}, 422, "external_id"),
    ("/v1/appointments/nowhere/A-1", {}, 404, None),
    (URL, {"version": None}, 422, "version"),
    (URL, {"version": -1}, 422, "version"),
    (URL, {"start": "2026-12-01T10:00:00"}, 422, "start"),  # no offset
    (URL, {"start": "2031-01-01T10:00:00Z"}, 422, "start"),  # beyond the horizon
    (URL, {"status": "maybe"}, 422, "status"),
    (URL, {"patient": {"name": "Ana", "phone": "555-0123"}}, 422, "patient.phone"),
    (
        URL,
        {"patient": {"name": "Ana", "phone": "+13125550123", "language": "xx"}},
        422,
        "patient.language",
    ),
    (
        URL,
        {"patient": {"name": "Ana", "phone": "+13125550123", "timezone": "Mars/Base"}},
        422,
        "patient.timezone",
    ),
    (URL, {"patient": {"name": "Ana"}}, 422, "patient.phone"),  # no way to reach her
    (URL, {"patient": {"name": "Ana", "phone": "+13125550123", "ssn": "1"}}, 422, "patient.ssn"),
    (URL, {"provider": "Dr.\u202eevil"}, 422, "provider"),
]


@pytest.mark.parametrize(("path", "changes", "status", "field"), BAD_INPUT)
def test_bad_input_is_a_problem_naming_the_field_and_nothing_is_stored(
    api: TestClient,
    keys: Keys,
    database_url: str,
    path: str,
    changes: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    request = {**appointment_body(visit_at()), **changes}
    answer = api.put(path, json=request, headers=keys.header(keys.scheduler))
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    if field is not None:
        assert field in [e["field"] for e in answer.json()["errors"]], answer.json()
    assert count_appointments(database_url) == 0
    assert count_reminders(database_url) == 0


def test_the_list_filters_by_clinic_status_and_start_and_pages_by_start(
    api: TestClient, keys: Keys, database_url: str, zone: str
) -> None:
    header = keys.header(keys.scheduler)
    store_clinic(database_url, id="northside")
    starts = [visit_at(days) for days in (1, 2, 3)]
    for number, start in enumerate(starts):
        path = f"/v1/appointments/riverside/A-{number}"
        assert api.put(path, json=body(start, zone), headers=header).status_code == 201
    api.put("/v1/appointments/northside/N-1", json=body(starts[0], zone), headers=header)
    api.delete("/v1/appointments/riverside/A-1", headers=header)

    staff = keys.header(keys.staff)
    first = api.get("/v1/appointments?clinic_id=riverside&limit=2", headers=staff).json()
    assert [a["external_id"] for a in first["items"]] == ["A-0", "A-1"]
    assert all(a["reminders"] for a in first["items"])
    rest = api.get(
        "/v1/appointments",
        params={"clinic_id": "riverside", "limit": 2, "cursor": first["next_cursor"]},
        headers=staff,
    ).json()
    assert ([a["external_id"] for a in rest["items"]], rest["next_cursor"]) == (["A-2"], None)
    cancelled = api.get("/v1/appointments?status=cancelled", headers=staff).json()
    assert [a["external_id"] for a in cancelled["items"]] == ["A-1"]
    window = api.get(
        "/v1/appointments",
        params={"start_after": starts[1].isoformat(), "start_before": starts[2].isoformat()},
        headers=staff,
    ).json()
    assert [a["external_id"] for a in window["items"]] == ["A-1"]
    found = api.get("/v1/appointments?external_id=N-1", headers=staff).json()
    assert [a["clinic_id"] for a in found["items"]] == ["northside"]
    for query, field in (
        ("cursor=nonsense", "cursor"),
        ("status=maybe", "status"),
        ("start_after=today", "start_after"),
    ):
        refused = api.get(f"/v1/appointments?{query}", headers=staff)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == field


def test_writes_and_reads_are_audited_without_phi(
    api: TestClient, keys: Keys, database_url: str, zone: str
) -> None:
    header = keys.header(keys.scheduler)
    created = api.put(URL, json=body(visit_at(), zone), headers=header).json()
    api.get(URL, headers=keys.header(keys.staff))
    db = Database(database_url)
    with db.session() as session:
        entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    db.dispose()
    mine = [(e.action, e.subject_id) for e in entries if e.subject_type == "appointment"]
    assert mine == [("appointment.write", created["id"]), ("appointment.read", created["id"])]
    written = next(e for e in entries if e.action == "appointment.write")
    assert written.detail == {
        "change": "created",
        "planned": 2,
        "retimed": 0,
        "cancelled": 0,
        "notice": None,
    }
    text = repr([(e.detail, e.subject_id) for e in entries])
    for phi in ("María", "+1312", "Chen", "suite", "A-1"):
        assert phi not in text


def test_the_patients_accessibility_profile_reaches_their_reminders(
    api: TestClient, keys: Keys, database_url: str, zone: str
) -> None:
    """The visit's patient carries the profile, and every reminder planned for it says it
    that way; a visit sent again as before is unchanged, and a profile changed alone
    re-plans."""
    header = keys.header(keys.scheduler)
    profile = {"sentence_pause": "long", "repeat_message": True, "offer_repeat_twice": True}
    request = appointment_body(visit_at())
    request["patient"] |= {"timezone": zone, "speech_rate": "slow", **profile}
    answer = api.put(URL, json=request, headers=header)
    assert answer.status_code == 201, answer.text
    assert {name: answer.json()["patient"][name] for name in profile} == profile
    planned = stored_reminders(database_url, answer.json()["id"])
    assert planned and all(
        {name: r.facts["patient"][name] for name in (*profile, "speech_rate")}
        == {**profile, "speech_rate": "slow"}
        for r in planned
    )
    assert api.put(URL, json=request, headers=header).json()["change"] == "unchanged"
    standard = {**request, "patient": {**request["patient"], "repeat_message": False}}
    changed = api.put(URL, json={**standard, "version": 2}, headers=header)
    assert changed.json()["change"] == "updated"
    assert changed.json()["patient"]["repeat_message"] is False
    assert all(
        "repeat_message" not in r.facts["patient"]
        for r in stored_reminders(database_url, answer.json()["id"])
        if r.status == "scheduled"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("sentence_pause", "slower"), ("repeat_message", "yes"), ("accessibility", {})],
)
def test_a_bad_accessibility_profile_is_refused_naming_the_field(
    api: TestClient, keys: Keys, database_url: str, zone: str, field: str, value: Any
) -> None:
    request = appointment_body(visit_at())
    request["patient"] |= {"timezone": zone, field: value}
    answer = api.put(URL, json=request, headers=keys.header(keys.scheduler))
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [f"patient.{field}"]
    assert count_appointments(database_url) == 0


SPANISH_TEXT = {"location": "Segundo piso, consultorio 210", "instructions": "Traiga su lista."}


def test_free_text_in_another_language_is_stored_with_a_warning_per_field(
    api: TestClient, keys: Keys, zone: str
) -> None:
    # The example: a Spanish patient, the clinic's English location and instructions.
    start = visit_at(3)
    first = api.put(URL, json=body(start, zone), headers=keys.header(keys.scheduler))
    assert first.status_code == 201, first.text
    warnings = first.json()["warnings"]
    assert [w.split(" ")[0] for w in warnings] == ["location", "instructions"]
    assert all("reads as English ('en'" in w for w in warnings)
    assert all("not the message's language ('es')" in w for w in warnings)
    assert len(first.json()["reminders"]) == 2  # planned all the same
    # Not stored: the same request again says it again.
    again = api.put(URL, json=body(start, zone), headers=keys.header(keys.scheduler))
    assert again.json()["change"] == "unchanged" and again.json()["warnings"] == warnings
    # Listed visits carry no warnings field: it belongs to the write's answer.
    listed = api.get("/v1/appointments", headers=keys.header(keys.staff)).json()["items"]
    assert "warnings" not in listed[0]


def test_free_text_in_the_patients_language_brings_no_warning(
    api: TestClient, keys: Keys, zone: str
) -> None:
    spanish = body(visit_at(3), zone, **SPANISH_TEXT)
    answer = api.put(URL, json=spanish, headers=keys.header(keys.scheduler))
    assert answer.status_code == 201 and answer.json()["warnings"] == []
    english = body(visit_at(3), zone, version=2)
    english["patient"]["language"] = "en"
    answer = api.put(URL, json=english, headers=keys.header(keys.scheduler))
    assert answer.status_code == 200 and answer.json()["warnings"] == []


def test_a_clinic_that_refuses_it_answers_422_and_stores_nothing(
    api: TestClient, keys: Keys, database_url: str, zone: str
) -> None:
    store_clinic(database_url, id="hillside", refuse_other_language_text=True)
    url = "/v1/appointments/hillside/A-1"
    answer = api.put(url, json=body(visit_at(3), zone), headers=keys.header(keys.scheduler))
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    errors = {e["field"]: e["message"] for e in answer.json()["errors"]}
    assert set(errors) == {"location", "instructions"}
    assert errors["location"].startswith("reads as English ('en'")
    assert "not 'es'" in errors["location"] and "refuses" in errors["location"]
    assert count_appointments(database_url) == 0 and count_reminders(database_url) == 0
    fixed = body(visit_at(3), zone, **SPANISH_TEXT)
    stored = api.put(url, json=fixed, headers=keys.header(keys.scheduler))
    assert stored.status_code == 201 and stored.json()["warnings"] == []
