"""The appointment pages in real Chromium: staff reach a clinic's visits and one visit's
reminders by keyboard alone; a visit that needs attention says why; axe-core finds
nothing blocking on either page.

The axe results are written to ``test-artifacts/console-appointments-axe.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from devtools.browser import ARTIFACTS_DIR, axe_violations, blocking
from devtools.ports import free_port
from service.config import Settings
from tests.support.api import Keys, LiveServer
from tests.support.appointments import appointment_body
from tests.support.clinics import store_clinic
from tests.support.hl7 import ack_code, hl7_time, send, siu

# Browser tests run on SQLite only; the HTTP tests cover both databases.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_staff_follow_a_visit_to_its_reminders_by_keyboard(
    page: Page, live_server: LiveServer, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url)
    store_clinic(database_url, id="northside", display_name="Northside Clinic")
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    with live_server.client(keys.scheduler) as http:
        for path in ("/v1/appointments/riverside/A-1", "/v1/appointments/northside/N-1"):
            created = http.put(path, json=appointment_body(start))
            assert created.status_code == 201, created.text
    findings: dict[str, object] = {}

    page.goto(f"{live_server.url}/console/sign-in")
    page.get_by_label("Your API key").fill(keys.staff)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Preview a message")
    page.get_by_role("link", name="Appointments").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Appointments")
    expect(page.get_by_role("table")).to_contain_text("2 appointments, earliest first")
    findings["appointments"] = violations = axe_violations(page)
    assert not blocking(violations), json.dumps(blocking(violations), indent=1)

    clinic = page.get_by_label("Clinic")
    clinic.focus()
    clinic.select_option("riverside")
    page.get_by_role("button", name="Show").focus()
    page.keyboard.press("Enter")
    table = page.get_by_role("table")
    expect(table).to_contain_text("1 appointment, earliest first")
    expect(table).not_to_contain_text("N-1")
    page.get_by_role("link", name="A-1").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Appointment A-1")
    reminders = page.get_by_role("table", name="Planned, sent and cancelled messages")
    expect(reminders.get_by_role("row")).to_have_count(3)  # the header and two reminders
    expect(reminders).to_contain_text("schedule step 2")
    findings["appointment"] = violations = axe_violations(page)
    assert not blocking(violations), json.dumps(blocking(violations), indent=1)

    reminders.get_by_role("link").first.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Reminder ")
    expect(page.locator("#status")).to_have_text("scheduled")
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    (ARTIFACTS_DIR / "console-appointments-axe.json").write_text(json.dumps(findings, indent=1))


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """The live server with its HL7 listener, so a visit can arrive flagged."""
    return make_settings(mllp_port=free_port(), mllp_host="127.0.0.1")


def test_a_visit_needing_attention_shows_why_on_both_pages(
    page: Page, live_server: LiveServer, keys: Keys, database_url: str, settings: Settings
) -> None:
    store_clinic(database_url, identifiers=["RIVERSIDE"])
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    no_phone = "PID|1||MRN-2^^^RIVERSIDE^MR||Okafor^Ben^^^^^L||||||||^NET^X.400^b@example.org"
    assert settings.mllp_port is not None
    (ack,) = send("127.0.0.1", settings.mllp_port, [siu(start=hl7_time(start), pid=no_phone)])
    assert ack_code(ack) == "AA"
    with live_server.client(keys.scheduler) as http:
        reachable = http.put("/v1/appointments/riverside/A-1", json=appointment_body(start))
        assert reachable.status_code == 201, reachable.text
    findings: dict[str, object] = {}

    page.goto(f"{live_server.url}/console/sign-in")
    page.get_by_label("Your API key").fill(keys.staff)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Preview a message")
    page.goto(f"{live_server.url}/console/appointments")
    row = page.get_by_role("row", name="FL-1")
    expect(row).to_contain_text("booked Needs attention")
    expect(page.get_by_role("table")).to_contain_text("2 appointments")
    attention = page.get_by_label("Needs attention")
    attention.focus()
    attention.select_option("yes")
    page.get_by_role("button", name="Show").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("table")).to_contain_text("1 appointment,")
    expect(page.get_by_role("table")).not_to_contain_text("A-1")
    findings["appointments"] = violations = axe_violations(page)
    assert not blocking(violations), json.dumps(blocking(violations), indent=1)

    page.get_by_role("link", name="FL-1").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#needs-attention")).to_contain_text(
        "Needs attention: only work, fax, pager or e-mail contacts are given."
    )
    findings["appointment"] = violations = axe_violations(page)
    assert not blocking(violations), json.dumps(blocking(violations), indent=1)
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    (ARTIFACTS_DIR / "console-appointments-attention-axe.json").write_text(
        json.dumps(findings, indent=1)
    )
