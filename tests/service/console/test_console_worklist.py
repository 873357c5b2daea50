"""The console's worklist filters over HTTP: by clinic and by the day an item arose, on
the clinic's clock; a bad filter is a 422 page naming the field. The reason filter and
the actions by keyboard are in test_console_worklist_browser.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from tests.support.api import Keys, reminder_body
from tests.support.appointments import advance_to
from tests.support.clinics import store_clinic
from tests.support.console import sign_in

ZONES = {"riverside": "Pacific/Kiritimati", "lakeside": "America/Chicago"}
"""Far apart, so a clinic's day is rarely UTC's."""
PATIENTS = {"riverside": "María López", "lakeside": "Ana Rivera"}


def with_the_staff(client: TestClient, keys: Keys, database_url: str, clinic_id: str) -> str:
    """A reminder of ``clinic_id`` whose escalation ran out, moved as the pipeline moves it."""
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    body = reminder_body(send_at=tomorrow.isoformat(), clinic={"id": clinic_id})
    body["patient"] = body["patient"] | {"name": PATIENTS[clinic_id]}
    created = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert created.status_code == 202, created.text
    reminder_id = str(created.json()["id"])
    for status in ("rendering", "ready", "dispatching", "needs_staff"):
        advance_to(database_url, reminder_id, status)
    return reminder_id


def test_staff_filter_the_worklist_by_clinic_and_day(
    client: TestClient, keys: Keys, database_url: str
) -> None:
    for clinic_id, zone in ZONES.items():
        store_clinic(database_url, id=clinic_id, display_name=clinic_id.title(), timezone=zone)
        with_the_staff(client, keys, database_url, clinic_id)
    items = client.get(
        "/v1/worklist", params={"reason": "needs_staff"}, headers=keys.header(keys.staff)
    ).json()["items"]
    arose = {item["clinic_id"]: datetime.fromisoformat(item["at"]) for item in items}
    assert set(arose) == set(ZONES)
    sign_in(client, keys.staff)

    def shown(**filters: str) -> set[str]:
        page = client.get("/console/worklist", params={"reason": "needs_staff", **filters})
        assert page.status_code == 200, page.text
        return {name for name in PATIENTS.values() if name in page.text}

    assert shown() == set(PATIENTS.values())
    assert shown(clinic="lakeside") == {"Ana Rivera"}
    assert shown(clinic="riverside") == {"María López"}
    # The day the item arose on the clinic's clock; the day before shows nothing.
    local_day = arose["riverside"].astimezone(ZoneInfo(ZONES["riverside"])).date()
    assert shown(clinic="riverside", date=local_day.isoformat()) == {"María López"}
    day_before = (local_day - timedelta(days=1)).isoformat()
    assert shown(clinic="riverside", date=day_before) == set()
    utc_day = arose["lakeside"].astimezone(UTC).date()
    assert "Ana Rivera" in shown(date=utc_day.isoformat())  # no clinic: UTC's day
    assert shown(date=(utc_day + timedelta(days=2)).isoformat()) == set()

    bad_date = client.get("/console/worklist", params={"date": "03/12/2026"})
    assert bad_date.status_code == 422
    assert "must be a date such as" in bad_date.text and "María López" not in bad_date.text
    unknown = client.get("/console/worklist", params={"clinic": "nowhere"})
    assert unknown.status_code == 422 and "is not a known clinic" in unknown.text
