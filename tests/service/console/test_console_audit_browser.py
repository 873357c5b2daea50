"""The audit page in real Chromium: an admin finds an erasure by keyboard; axe finds nothing.

The axe results are written to ``test-artifacts/console-audit-axe.json``.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from devtools.browser import ARTIFACTS_DIR, axe_violations, blocking
from tests.support.api import Keys, LiveServer, reminder_body

# Browser tests run on SQLite only; the HTTP tests cover both databases.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_admin_finds_an_erasure_in_the_audit_log_by_keyboard(
    page: Page, live_server: LiveServer, keys: Keys
) -> None:
    with live_server.client() as http:
        created = http.post(
            "/v1/reminders", json=reminder_body(), headers=keys.header(keys.scheduler)
        )
        assert created.status_code == 202, created.text
        http.get(f"/v1/reminders/{created.json()['id']}", headers=keys.header(keys.staff))
        erased = http.request(
            "DELETE",
            "/v1/patients",
            json={"phone": "+13125550123"},
            headers=keys.header(keys.admin),
        )
        assert erased.status_code == 200, erased.text
    findings: dict[str, object] = {}

    page.goto(f"{live_server.url}/console/sign-in")
    page.get_by_label("Your API key").fill(keys.admin)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Preview a message")
    audit_link = page.get_by_role("link", name="Audit log")
    audit_link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    table = page.get_by_role("table", name="entries, newest first")
    expect(table).to_contain_text("reminder.read")
    expect(table).to_contain_text("patient.erase")
    findings["audit"] = violations = axe_violations(page)
    assert not blocking(violations), json.dumps(blocking(violations), indent=1)

    action = page.get_by_label("Action")
    action.focus()
    action.select_option("patient.erase")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Date (UTC)")).to_be_focused()
    page.keyboard.press("Enter")  # submits the filter form
    expect(page.get_by_role("table")).to_contain_text("1 entry, newest first")
    expect(page.get_by_role("table")).to_contain_text("reminders: 1")
    expect(page.get_by_role("table")).not_to_contain_text("reminder.read")
    findings["audit filtered"] = violations = axe_violations(page)
    assert not blocking(violations), json.dumps(blocking(violations), indent=1)
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    (ARTIFACTS_DIR / "console-audit-axe.json").write_text(json.dumps(findings, indent=1))
