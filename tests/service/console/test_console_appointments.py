"""The console's appointment pages over HTTP, on both databases: a day's visits of one
clinic, one visit with its reminders, the audit entry, and bad filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from tests.support.api import Keys
from tests.support.appointments import appointment_body
from tests.support.clinics import store_clinic
from tests.support.console import sign_in


def test_staff_find_a_clinics_visits_by_day_and_open_one(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url)
    store_clinic(database_url, id="northside", display_name="Northside Clinic")
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    header = keys.header(keys.scheduler)
    created = client.put(
        "/v1/appointments/riverside/A-1", json=appointment_body(start), headers=header
    )
    assert created.status_code == 201, created.text
    client.put("/v1/appointments/northside/N-1", json=appointment_body(start), headers=header)
    client.put(
        "/v1/appointments/riverside/A-2",
        json=appointment_body(start + timedelta(days=1)),
        headers=header,
    )
    sign_in(client, keys.staff)

    local_day = start.astimezone(ZoneInfo("America/New_York")).date().isoformat()
    page = client.get("/console/appointments", params={"clinic": "riverside", "date": local_day})
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    assert "<caption>1 appointment, earliest first</caption>" in page.text
    assert ">A-1</a>" in page.text and "N-1" not in page.text and "A-2" not in page.text
    assert "2 planned" in page.text
    assert "María" not in page.text  # the list names visits, not patients

    appointment_id = created.json()["id"]
    one = client.get(f"/console/appointments/{appointment_id}")
    assert one.status_code == 200
    for reminder in created.json()["reminders"]:
        assert f'href="http://testserver/console/reminders/{reminder["id"]}"' in one.text
    assert "schedule step 1" in one.text and "schedule step 2" in one.text
    sign_in(client, keys.admin)
    audit = client.get("/console/audit", params={"action": "appointment.read"})
    assert "1 entry, newest first" in audit.text


def test_bad_filters_and_unknown_visits_are_explained(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url)
    sign_in(client, keys.staff)
    for params, message in (
        ({"date": "tomorrow"}, "must be a date"),
        ({"clinic": "nowhere"}, "is not a known clinic"),
        ({"status": "maybe"}, "is not a known status"),
        ({"cursor": "nonsense"}, "is not a cursor"),
    ):
        page = client.get("/console/appointments", params=params)
        assert page.status_code == 422, params
        assert message in page.text
    assert client.get("/console/appointments/" + "0" * 32).status_code == 404
    assert client.get("/console/appointments/../../etc").status_code == 404
