"""The clinic pages over HTTP: staff and reviewers read, admins add, edit and delete.

What the form saves is checked through the API, as the scheduling system will read it.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from service.db import Database
from service.models import Role
from service.security import issue_key
from tests.support.api import Keys
from tests.support.clinics import add_clinic, audit_entries, count_clinics
from tests.support.console import csrf_of, sign_in

FIELD_ERROR = re.compile(r'<p class="error" id="([\w-]+)-error">.*?Error: </span>([^<]+)</p>')


def clinic_form(csrf: str, **changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "csrf_token": csrf,
        "action": "save",
        "id": "lakeside",
        "display_name": "Lakeside Health",
        "spoken_name": "",
        "callback_phone": "+13125550100",
        "caller_id": "+13125550177",
        "timezone": "America/Chicago",
        "country": "us",
        "hours_start": "09:00",
        "hours_end": "18:30",
        "default_language": "es",
        "default_speech_rate": "slow",
        "channel_1": "app",
        "channel_2": "phone",
        "identifiers": "LAKE^MSH4\n\n urn:oid:1.2.3 \n",
        "require_reviewed_wording": "on",
        "offset_unit": ["days", "hours", ""],
        "offset_amount": ["3", "2", ""],
        "offset_at": ["10:00", "", ""],
    }
    form.update(changes)
    return form


def field_errors(html: str) -> dict[str, str]:
    return dict(FIELD_ERROR.findall(html))


def reviewer_key(database_url: str) -> str:
    db = Database(database_url)
    with db.session() as session:
        raw = issue_key(session, Role.REVIEWER, "reviewer").raw
    db.dispose()
    return raw


def test_an_admin_adds_a_clinic_with_the_form(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    sign_in(client, keys.admin)
    page = client.get("/console/new-clinic")
    assert page.status_code == 200 and 'id="offset_unit_2"' in page.text  # 2 defaults + 1 blank
    saved = client.post(
        "/console/new-clinic", data=clinic_form(csrf_of(page.text)), follow_redirects=False
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"].endswith("/console/clinics/lakeside")
    clinic = client.get("/v1/clinics/lakeside", headers=keys.header(keys.admin)).json()
    assert clinic["schedule"] == {
        "appointment_reminder": [{"days_before": 3, "at": "10:00"}, {"hours_before": 2}]
    }
    assert clinic["channels"] == ["app", "phone"] and clinic["country"] == "US"
    assert clinic["identifiers"] == ["LAKE^MSH4", "urn:oid:1.2.3"]
    assert clinic["require_reviewed_wording"] is True and clinic["spoken_name"] is None
    assert clinic["calling_hours"] == {"start": "09:00", "end": "18:30"}
    listed = client.get("/console/clinics")
    assert "Lakeside Health" in listed.text and "09:00 to 18:30" in listed.text
    assert [e.action for e in audit_entries(database_url, "clinic.")] == ["clinic.create"]


def test_mistakes_are_shown_beside_their_fields_and_nothing_is_saved(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    csrf = sign_in(client, keys.admin)
    form = clinic_form(
        csrf,
        id="Lake Side",
        hours_start="07:00",
        timezone="Lake/Side",
        offset_unit=["days", "hours", "days"],
        offset_amount=["3", "99", "2"],
        offset_at=["10:00", "", ""],
    )
    answer = client.post("/console/new-clinic", data=form)
    assert answer.status_code == 422
    errors = field_errors(answer.text)
    assert set(errors) == {"id", "hours_start", "timezone", "offset_amount_1", "offset_unit_2"}
    assert "08:00-21:00" in errors["hours_start"] and "72" in errors["offset_amount_1"]
    assert 'aria-describedby="offset_amount_1-error"' in answer.text
    assert '<a href="#offset_amount_1">' in answer.text  # the summary links to the field
    assert 'value="Lake Side"' in answer.text  # what was typed is kept
    assert count_clinics(database_url) == 0

    add_clinic(client, keys.admin, id="lakeside")
    taken = client.post("/console/new-clinic", data=clinic_form(csrf))
    assert taken.status_code == 409 and "lakeside" in field_errors(taken.text)["id"]


def test_rows_are_added_and_removed_without_script(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    add_clinic(client, keys.admin, id="lakeside")
    csrf = sign_in(client, keys.admin)
    more = client.post("/console/clinics/lakeside", data=clinic_form(csrf, action="add_row"))
    assert more.status_code == 200 and 'id="offset_unit_3"' in more.text
    assert audit_entries(database_url, "clinic.update") == []  # nothing saved

    form = clinic_form(
        csrf,
        offset_unit=["days", "hours", "hours"],
        offset_amount=["3", "2", "24"],
        offset_at=["10:00", "", ""],
        offset_remove=["0"],
    )
    saved = client.post("/console/clinics/lakeside", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    clinic = client.get("/v1/clinics/lakeside", headers=keys.header(keys.admin)).json()
    assert clinic["schedule"] == {
        "appointment_reminder": [{"hours_before": 2}, {"hours_before": 24}]
    }
    page = client.get(saved.headers["location"])
    assert "Saved." in page.text
    (update,) = audit_entries(database_url, "clinic.update")
    assert update.detail is not None and "schedule" in update.detail["fields"]


def test_staff_and_reviewers_read_but_do_not_edit(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    add_clinic(client, keys.admin, id="lakeside", display_name="Lakeside Health")
    for key in (keys.staff, reviewer_key(database_url)):
        csrf = sign_in(client, key)
        listed = client.get("/console/clinics")
        assert "Lakeside Health" in listed.text and "Add a clinic" not in listed.text
        page = client.get("/console/clinics/lakeside")
        assert page.status_code == 200
        assert "2 days before, at 10:00" in page.text and "3 hours before" in page.text
        assert 'name="display_name"' not in page.text and "Delete" not in page.text
        refused = client.post("/console/clinics/lakeside", data=clinic_form(csrf))
        assert refused.status_code == 403
        assert client.get("/console/new-clinic").status_code == 403
        deleted = client.post("/console/clinics/lakeside/delete", data={"csrf_token": csrf})
        assert deleted.status_code == 403
    assert [e.action for e in audit_entries(database_url, "clinic.")] == ["clinic.create"]


def test_an_admin_deletes_a_clinic(client: TestClient, keys: Keys) -> None:
    add_clinic(client, keys.admin, id="lakeside")
    csrf = sign_in(client, keys.admin)
    forged = client.post("/console/clinics/lakeside/delete", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    deleted = client.post(
        "/console/clinics/lakeside/delete", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert deleted.status_code == 303
    assert "was deleted" in client.get(deleted.headers["location"]).text
    assert client.get("/console/clinics/lakeside").status_code == 404
    assert client.get("/v1/clinics/lakeside", headers=keys.header(keys.admin)).status_code == 404


def test_an_admin_makes_a_clinic_refuse_text_in_another_language(
    client: TestClient, keys: Keys
) -> None:
    sign_in(client, keys.admin)
    page = client.get("/console/new-clinic")
    assert 'id="refuse_other_language_text"' in page.text
    form = clinic_form(csrf_of(page.text), refuse_other_language_text="on")
    saved = client.post("/console/new-clinic", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    clinic = client.get("/v1/clinics/lakeside", headers=keys.header(keys.admin)).json()
    assert clinic["refuse_other_language_text"] is True
    shown = client.get("/console/clinics/lakeside")
    box = re.search(r'<input id="refuse_other_language_text"[^>]*>', shown.text)
    assert box is not None and "checked" in box.group()
    sign_in(client, keys.staff)
    facts = client.get("/console/clinics/lakeside").text
    assert "Location or instructions in another language</dt><dd>Refused" in facts


def test_an_admin_sets_the_escalation_steps_with_the_form(client: TestClient, keys: Keys) -> None:
    csrf = sign_in(client, keys.admin)
    steps = {
        "step_channel": ["phone", "sms", "staff", ""],
        "step_wait": ["180", "60", "240", ""],
        "on_voicemail": "continue",
    }
    saved = client.post("/console/new-clinic", data=clinic_form(csrf, **steps))
    assert saved.status_code == 200, saved.text  # followed to the clinic's page
    clinic = client.get("/v1/clinics/lakeside", headers=keys.header(keys.admin)).json()
    assert clinic["escalation"] == {
        "steps": [
            {"channel": "phone", "wait_minutes": 180},
            {"channel": "sms", "wait_minutes": 60},
            {"channel": "staff", "wait_minutes": 240},
        ],
        "on_voicemail": "continue",
    }
    page = client.get("/console/clinics/lakeside")
    assert 'id="step_channel_3"' in page.text  # the three steps and a blank row
    not_a_number = {"step_channel": ["phone", "sms"], "step_wait": ["10", "x"]}
    refused = client.post("/console/clinics/lakeside", data=clinic_form(csrf, **not_a_number))
    assert refused.status_code == 422 and "step_wait_1" in field_errors(refused.text)
    staff_first = {"step_channel": ["staff", "sms"], "step_wait": ["10", "20"]}
    refused = client.post("/console/clinics/lakeside", data=clinic_form(csrf, **staff_first))
    assert refused.status_code == 422
    assert "staff step can only be the last" in field_errors(refused.text)["step_channel_0"]
    cleared = client.post(
        "/console/clinics/lakeside", data=clinic_form(csrf, step_channel=[""], step_wait=[""])
    )
    assert cleared.status_code == 200
    assert (
        client.get("/v1/clinics/lakeside", headers=keys.header(keys.admin)).json()["escalation"]
        is None
    )

    sign_in(client, keys.staff)
    assert "Nothing more after the first contact." in client.get("/console/clinics/lakeside").text
