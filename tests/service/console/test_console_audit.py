"""The console's audit page over HTTP: for admins only, filtered, showing who did what."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.api import Keys, reminder_body
from tests.support.console import sign_in


def test_admins_read_the_audit_log_and_filter_it(client: TestClient, keys: Keys) -> None:
    created = client.post(
        "/v1/reminders", json=reminder_body(), headers=keys.header(keys.scheduler)
    ).json()["id"]
    client.get(f"/v1/reminders/{created}", headers=keys.header(keys.staff))
    erased = client.request(
        "DELETE", "/v1/patients", json={"phone": "+13125550123"}, headers=keys.header(keys.admin)
    )
    assert erased.status_code == 200
    sign_in(client, keys.admin)

    page = client.get("/console/audit")

    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "<caption>3 entries, newest first</caption>" in page.text  # and the sign-in
    assert "patient.erase" in page.text and "reminder.read" in page.text
    assert "by: phone, reminders: 1, stopped: 1, audio files: 0, attempts: 0" in page.text
    assert "+13125550123" not in page.text
    assert f'href="http://testserver/console/reminders/{created}"' in page.text
    current = '<a href="http://testserver/console/audit" aria-current="page">Audit log</a>'
    assert current in page.text

    only_erasures = client.get("/console/audit", params={"action": "patient.erase"})
    assert "1 entry, newest first" in only_erasures.text
    assert "<td>reminder.read</td>" not in only_erasures.text
    bad_date = client.get("/console/audit", params={"date": "yesterday"})
    assert bad_date.status_code == 422 and "must be a date" in bad_date.text


def test_staff_are_refused_and_not_shown_the_link(client: TestClient, keys: Keys) -> None:
    sign_in(client, keys.staff)
    assert "Audit log" not in client.get("/console/reminders").text
    refused = client.get("/console/audit")
    assert refused.status_code == 403 and "for admins" in refused.text
    client.cookies.clear()
    assert client.get("/console/audit", follow_redirects=False).status_code == 303
