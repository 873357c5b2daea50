"""The clinic pages in real Chromium: an admin adds a clinic by keyboard, fixes a mistake
the page announces, and staff read the result; axe-core finds nothing blocking.

The axe results are written to ``test-artifacts/console-clinics-axe.json``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from devtools.browser import ARTIFACTS_DIR, axe_violations, blocking
from tests.support.api import Keys, LiveServer

# Browser tests run on SQLite only; the HTTP tests cover both databases.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def sign_in(page: Page, live_server: LiveServer, api_key: str) -> None:
    page.goto(f"{live_server.url}/console/sign-in")
    page.get_by_label("Your API key").fill(api_key)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Preview a message")


def test_admin_adds_a_clinic_by_keyboard_and_staff_read_it(
    page: Page, browser: Browser, live_server: LiveServer, keys: Keys
) -> None:
    findings: dict[str, Any] = {}

    def check(name: str, tab: Page) -> None:
        findings[name] = violations = axe_violations(tab)
        assert not blocking(violations), f"{name}: {json.dumps(blocking(violations), indent=1)}"

    sign_in(page, live_server, keys.admin)
    page.get_by_role("link", name="Clinics").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinics")
    check("clinics, none yet", page)
    page.get_by_role("link", name="Add a clinic").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a clinic")
    check("add a clinic", page)

    page.get_by_label("Id", exact=True).fill("lakeside")
    page.get_by_label("Display name").fill("Lakeside Health")
    page.get_by_label("Call-back phone").fill("+13125550100")
    page.get_by_label("Time zone").fill("America/Chicago")
    page.get_by_label("Country").fill("US")
    page.get_by_label("From").fill("07:00")  # before the legal 08:00
    page.get_by_label("Reminder 2: how many days or hours").fill("100")
    page.get_by_label("Reminder 3: kind").select_option("hours")
    page.get_by_label("Reminder 3: how many days or hours").fill("24")
    page.get_by_label("Reminder 3: how many days or hours").press("Enter")

    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Please correct 2 fields")
    check("add a clinic, with mistakes", page)
    page.keyboard.press("Tab")  # the summary's first link: to the field at fault
    page.keyboard.press("Enter")
    hours = page.locator("#hours_start")
    expect(hours).to_be_focused()
    expect(hours).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#hours_start-error")).to_contain_text("08:00-21:00")
    hours.fill("08:30")
    amount = page.locator("#offset_amount_1")
    expect(amount).to_have_attribute("aria-invalid", "true")
    amount.fill("2")
    page.get_by_role("button", name="Add the clinic").focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Lakeside Health")
    expect(page.locator("#offset_amount_2")).to_have_value("24")
    check("clinic, admin", page)

    context = browser.new_context()
    staff_page = context.new_page()
    try:
        sign_in(staff_page, live_server, keys.staff)
        staff_page.goto(f"{live_server.url}/console/clinics")
        table = staff_page.get_by_role("table", name="1 clinic, by id")
        expect(table).to_contain_text("08:30 to 21:00")
        check("clinics, staff", staff_page)
        table.get_by_role("link", name="Lakeside Health").click()
        expect(staff_page.locator("#schedule")).to_contain_text("2 hours before")
        expect(staff_page.locator("#schedule")).to_contain_text("24 hours before")
        expect(staff_page.get_by_role("button", name="Save changes")).to_have_count(0)
        check("clinic, staff", staff_page)
    finally:
        context.close()
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    (ARTIFACTS_DIR / "console-clinics-axe.json").write_text(json.dumps(findings, indent=1))
