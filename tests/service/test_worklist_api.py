"""The staff worklist through the API: items from real paths (HL7 intake over MLLP, the
appointments and opt-out APIs, the reminders API), each action audited and taking the item
off the list, the filters, who sees what, and bad input as a 422 naming the field.
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from devtools.ports import free_port
from service.app import create_app
from service.config import Settings
from service.db import Database
from service.models import Reminder, StaffAction, Status
from service.worklist import WorklistReason
from tests.support.api import Keys, reminder_body
from tests.support.appointments import advance_to, appointment_body
from tests.support.clinics import audit_entries, limited_key, store_clinic
from tests.support.clock import OffsetClock
from tests.support.hl7 import ack_code, hl7_time, send, siu

HOST = "127.0.0.1"
NO_PHONE_PID = "PID|1||MRN-2^^^RIVERSIDE^MR||Okafor^Ben^^^^^L||||||||^NET^X.400^ben@example.org||en"
NOTE = "Called Mrs Okafor's daughter, she will bring the new number"


@pytest.fixture
def app(
    make_settings: Callable[..., Settings], clock: OffsetClock
) -> Iterator[tuple[TestClient, int]]:
    port = free_port()
    settings = make_settings(mllp_port=port, mllp_host=HOST)
    with TestClient(create_app(settings, clock=clock)) as client:
        yield client, port


def later(days: float) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def worklist(client: TestClient, key: str, **query: Any) -> list[dict[str, Any]]:
    answer = client.get("/v1/worklist", params=query, headers=Keys.header(key))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def actors(client: TestClient, keys: Keys, action: str) -> list[str]:
    """Who did ``action``, by the name of their key, as an admin reads the audit log."""
    answer = client.get("/v1/audit", params={"action": action}, headers=keys.header(keys.admin))
    assert answer.status_code == 200, answer.text
    return [entry["actor_name"] for entry in answer.json()["items"]]


def problems(answer: Any) -> dict[str, str]:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    return {error["field"]: error["message"] for error in answer.json()["errors"]}


def test_an_hl7_visit_nobody_can_reach_is_listed_until_staff_handle_it_with_a_note(
    app: tuple[TestClient, int], keys: Keys, database_url: str
) -> None:
    client, port = app
    store_clinic(database_url, identifiers=["RIVERSIDE"])
    (ack,) = send(HOST, port, [siu(start=hl7_time(later(5)), pid=NO_PHONE_PID)])
    assert ack_code(ack) == "AA"

    (item,) = worklist(client, keys.staff)
    assert item["reason"] == "needs_attention" and item["subject_type"] == "appointment"
    assert item["detail"] == "intake: only work, fax, pager or e-mail contacts are given"
    assert item["clinic_id"] == "riverside" and item["patient"]["name"] == "Ben Okafor"
    assert item["appointment"]["external_id"] == "FL-1"
    assert item["actions"] == ["handled"]  # no number to call back

    handled = client.post(
        f"/v1/worklist/{item['id']}/handled", json={"note": NOTE}, headers=keys.header(keys.staff)
    )
    assert handled.status_code == 200, handled.text
    assert worklist(client, keys.staff) == []
    (entry,) = audit_entries(database_url, "worklist.handled")
    assert entry.detail == {"reason": "needs_attention", "fields": ["note"]}
    assert "Okafor" not in str(entry.detail)
    assert entry.subject_id == item["subject_id"]
    assert actors(client, keys, "worklist.handled") == ["nurse"]  # the staff member's key
    with Database(database_url).session() as session:
        (action,) = session.scalars(select(StaffAction))
        assert action.note == NOTE and action.action == "handled"
    again = client.post(f"/v1/worklist/{item['id']}/handled", headers=keys.header(keys.staff))
    assert again.status_code == 404  # acted on: no longer an item


def test_an_opted_out_number_with_an_upcoming_visit_and_who_sees_it(
    app: tuple[TestClient, int], keys: Keys, database_url: str
) -> None:
    client, _ = app
    store_clinic(database_url)
    store_clinic(database_url, id="lakeside", display_name="Lakeside")
    scheduler = keys.header(keys.scheduler)
    put = client.put(
        "/v1/appointments/riverside/visit-1", json=appointment_body(later(4)), headers=scheduler
    )
    assert put.status_code == 201, put.text
    assert worklist(client, keys.staff, reason="opted_out") == []
    opted = client.post("/v1/opt-outs", json={"phone": "+13125550123"}, headers=scheduler)
    assert opted.status_code == 204

    (item,) = worklist(client, keys.staff, reason="opted_out")
    assert item["id"] == f"opted_out:{put.json()['id']}"
    assert item["patient"]["phone"] == "+13125550123"
    assert item["actions"] == ["handled", "call_back"]
    # Filters: another reason, another clinic, or a window before it arose show nothing.
    assert worklist(client, keys.staff, reason="needs_attention") == []
    assert worklist(client, keys.staff, clinic_id="lakeside", reason="opted_out") == []
    arose = datetime.fromisoformat(item["at"])
    assert worklist(client, keys.staff, until=arose.isoformat(), reason="opted_out") == []
    assert worklist(client, keys.staff, since=arose.isoformat(), reason="opted_out") == [item]
    # Who sees it: the scheduler that wrote the visit, not another, nor one limited elsewhere.
    mine = worklist(client, keys.scheduler)
    assert {i["reason"] for i in mine} == {"opted_out", "unreviewed_language"}
    assert worklist(client, keys.other_scheduler) == []
    elsewhere = limited_key(database_url, "lakeside")
    assert worklist(client, elsewhere) == []
    refused = client.get(
        "/v1/worklist", params={"clinic_id": "riverside"}, headers=keys.header(elsewhere)
    )
    assert refused.status_code == 403
    # Acting is for staff.
    url = f"/v1/worklist/{item['id']}/handled"
    assert client.post(url, headers=scheduler).status_code == 403
    assert client.post(url, headers=keys.header(keys.staff)).status_code == 200
    assert worklist(client, keys.staff, reason="opted_out") == []
    (entry,) = audit_entries(database_url, "worklist.handled")
    assert entry.detail == {"reason": "opted_out", "fields": []}


def needs_staff(client: TestClient, keys: Keys, database_url: str, **changes: Any) -> str:
    """A reminder whose escalation ran out, moved as the pipeline moves it (the whole path
    through the Twilio simulator is tests/workers/test_escalation.py)."""
    body = reminder_body(send_at=later(1).isoformat(), **changes)
    created = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert created.status_code == 202, created.text
    reminder_id = str(created.json()["id"])
    for status in ("rendering", "ready", "dispatching", "needs_staff"):
        advance_to(database_url, reminder_id, status)
    return reminder_id


def test_a_reminder_with_the_staff_is_re_sent_in_another_language(
    app: tuple[TestClient, int], keys: Keys, database_url: str
) -> None:
    client, _ = app
    reminder_id = needs_staff(client, keys, database_url)
    (item,) = worklist(client, keys.staff, reason="needs_staff")
    assert item["reminder"]["id"] == reminder_id and item["language"] == "es"
    assert item["actions"] == ["handled", "call_back", "resend", "change_language"]
    url = f"/v1/worklist/{item['id']}/resend"
    assert "language" in problems(
        client.post(url, json={"language": "xx"}, headers=keys.header(keys.staff))
    )
    assert "colour" in problems(
        client.post(url, json={"colour": "red"}, headers=keys.header(keys.staff))
    )
    resent = client.post(url, json={"language": "en"}, headers=keys.header(keys.staff))
    assert resent.status_code == 201, resent.text
    new = resent.json()["reminder"]
    assert new["id"] != reminder_id and new["status"] == "scheduled"
    with Database(database_url).session() as session:
        copy = session.get_one(Reminder, new["id"])
        old = session.get_one(Reminder, reminder_id)
        assert copy.language == "en" and copy.facts == old.facts and copy.kind == old.kind
        assert old.status == Status.NEEDS_STAFF
    assert worklist(client, keys.staff, reason="needs_staff") == []
    (entry,) = audit_entries(database_url, "worklist.resend")
    assert entry.detail == {
        "reason": "needs_staff",
        "new_reminder": new["id"],
        "fields": ["language"],
    }
    assert actors(client, keys, "worklist.resend") == ["nurse"]


def test_a_cancel_request_leaves_the_list_through_the_reminders_own_route(
    app: tuple[TestClient, int], keys: Keys, database_url: str
) -> None:
    client, _ = app
    body = reminder_body(send_at=later(1).isoformat())
    created = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    reminder_id = created.json()["id"]
    handled_url = f"/v1/reminders/{reminder_id}/handled"
    for status in ("rendering", "ready", "dispatching", "delivered", "cancel_requested"):
        advance_to(database_url, reminder_id, status)
    (item,) = worklist(client, keys.staff, reason="cancel_request")
    assert item["detail"] == "the patient asked to cancel (2)"
    resend = client.post(f"/v1/worklist/{item['id']}/resend", headers=keys.header(keys.staff))
    assert resend.status_code == 409
    long_note = {"note": "x" * 2001}
    assert "note" in problems(
        client.post(handled_url, json=long_note, headers=keys.header(keys.staff))
    )
    answer = client.post(handled_url, json={"note": NOTE}, headers=keys.header(keys.staff))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "cancel_requested"  # the patient's answer stays
    assert answer.json()["events"][-1]["detail"] == "handled by a staff member"
    assert worklist(client, keys.staff, reason="cancel_request") == []
    (entry,) = audit_entries(database_url, "reminder.handled")
    assert entry.detail == {"fields": ["note"]}
    assert actors(client, keys, "reminder.handled") == ["nurse"]


def test_an_unreviewed_language_with_reminders_to_send(
    app: tuple[TestClient, int], keys: Keys
) -> None:
    client, _ = app
    body = reminder_body(send_at=later(1).isoformat())
    assert client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler)).is_success
    (item,) = worklist(client, keys.staff, reason="unreviewed_language")
    assert item["id"] == "unreviewed_language:~es" and item["language"] == "es"
    assert item["detail"] == "1 reminder(s) to send in es, whose wording is unreviewed"
    assert item["patient"] is None
    url = f"/v1/worklist/{item['id']}/handled"
    assert client.post(url, headers=keys.header(keys.staff)).status_code == 200
    assert worklist(client, keys.staff, reason="unreviewed_language") == []


def test_bad_input_is_a_422_naming_the_field(app: tuple[TestClient, int], keys: Keys) -> None:
    client, _ = app
    staff = keys.header(keys.staff)
    assert "reason.0" in problems(client.get("/v1/worklist", params={"reason": "x"}, headers=staff))
    assert "since" in problems(client.get("/v1/worklist", params={"since": "soon"}, headers=staff))
    assert "cursor" in problems(client.get("/v1/worklist", params={"cursor": "abc"}, headers=staff))
    assert "clinic_id" in problems(
        client.get("/v1/worklist", params={"clinic_id": "Not A Slug"}, headers=staff)
    )
    assert (
        client.get("/v1/worklist", params={"clinic_id": "nowhere"}, headers=staff).status_code
        == 404
    )
    assert client.post("/v1/worklist/bogus:1/handled", headers=staff).status_code == 404
    missing = f"/v1/worklist/needs_staff:{'0' * 32}/handled"
    assert client.post(missing, headers=staff).status_code == 404
    assert client.get("/v1/worklist").status_code == 401


def test_every_reason_is_in_the_openapi_enum(app: tuple[TestClient, int]) -> None:
    client, _ = app
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["WorklistReason"]["enum"] == [reason.value for reason in WorklistReason]


def test_pages_follow_one_another_without_repeats(
    app: tuple[TestClient, int], keys: Keys, database_url: str
) -> None:
    client, _ = app
    made = {needs_staff(client, keys, database_url, external_id=f"e-{n}") for n in range(3)}
    staff = keys.header(keys.staff)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"reason": "needs_staff", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/worklist", params=params, headers=staff).json()
        seen += [item["subject_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made)


def test_an_item_about_a_visit_that_has_begun_leaves_the_list(
    app: tuple[TestClient, int], keys: Keys, database_url: str, clock: OffsetClock
) -> None:
    client, _ = app
    needs_staff(client, keys, database_url)
    assert len(worklist(client, keys.staff, reason="needs_staff")) == 1
    clock.skip(timedelta(days=4).total_seconds())  # the visit was 3 days ahead
    assert worklist(client, keys.staff, reason="needs_staff") == []
