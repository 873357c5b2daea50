"""The console in real Chromium: sign in, preview and play a Spanish message, follow a
reminder, sign out; every page checked with axe-core; sign-in and preview by keyboard alone.

The axe results per page are written to ``test-artifacts/console-axe.json`` and the preview
page's screenshot to ``test-artifacts/console-preview.png``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from devtools.browser import ARTIFACTS_DIR, axe_violations, blocking
from tests.support.api import Keys, LiveServer, reminder_body
from tests.support.waiting import wait_for

# Browser tests run on SQLite only; the HTTP tests cover both databases.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

MAX_TABS = 60


class AxeRecord:
    """Checks each page with axe-core and keeps every finding for the report."""

    def __init__(self) -> None:
        self.pages: dict[str, list[dict[str, Any]]] = {}

    def check(self, page: Page, name: str) -> None:
        violations = axe_violations(page)
        self.pages[name] = violations
        assert not blocking(violations), f"{name}: {json.dumps(blocking(violations), indent=1)}"

    def save(self, name: str = "console-axe.json") -> None:
        ARTIFACTS_DIR.mkdir(exist_ok=True)
        (ARTIFACTS_DIR / name).write_text(json.dumps(self.pages, indent=1))


def sign_in_by_mouse(page: Page, live_server: LiveServer, api_key: str) -> None:
    page.goto(f"{live_server.url}/console/")
    page.get_by_label("Your API key").fill(api_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Preview a message")


def delivered_reminder(live_server: LiveServer, keys: Keys) -> str:
    """A reminder taken through the whole pipeline to the local outbox."""
    with live_server.client(keys.scheduler) as http:
        created = http.post("/v1/reminders", json=reminder_body(language="es"))
        assert created.status_code == 202, created.text
        reminder_id: str = created.json()["id"]
        wait_for(lambda: http.get(f"/v1/reminders/{reminder_id}").json()["status"] == "delivered")
    return reminder_id


def test_staff_preview_a_spanish_message_follow_a_reminder_and_sign_out(
    page: Page, live_server: LiveServer, keys: Keys
) -> None:
    axe = AxeRecord()
    reminder_id = delivered_reminder(live_server, keys)

    page.goto(f"{live_server.url}/console/")
    expect(page).to_have_url(f"{live_server.url}/console/sign-in")
    axe.check(page, "sign-in")
    sign_in_by_mouse(page, live_server, keys.staff)

    page.get_by_label("Kind").select_option("appointment_changed")
    page.get_by_label("Language").select_option("es")
    page.get_by_role("button", name="Fill with sample data").click()
    expect(page.get_by_label("Location (optional)")).to_have_value("Segundo piso, consultorio 210")
    expect(page.get_by_label("Previous date and time (optional)")).not_to_have_value("")
    axe.check(page, "preview form")
    page.get_by_role("button", name="Preview", exact=True).click()

    transcript = page.locator("#transcript")
    expect(transcript).to_contain_text("María")
    expect(transcript).to_have_attribute("lang", "es")
    audio = page.get_by_label("Message audio", exact=False)
    expect(audio).to_have_attribute("controls", "")
    assert audio.get_attribute("autoplay") is None
    shown_s = float(page.locator("#duration").inner_text().removesuffix(" s"))
    duration_s = audio.evaluate(
        "a => a.readyState >= 1 ? a.duration : new Promise((ok, fail) => {"
        " a.addEventListener('loadedmetadata', () => ok(a.duration));"
        " a.addEventListener('error', () => fail(new Error('audio failed to load'))); })"
    )
    assert duration_s > 1 and abs(duration_s - shown_s) < 0.5
    audio.evaluate("a => a.play()")
    page.wait_for_function("() => document.querySelector('#preview-audio').currentTime > 0")
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS_DIR / "console-preview.png", full_page=True)
    axe.check(page, "preview result")

    page.get_by_role("link", name="Languages").click()
    expect(
        page.get_by_role("table", name="Languages this installation can write and speak")
    ).to_contain_text("Spanish")
    axe.check(page, "languages")

    page.get_by_role("link", name="Reminders").click()
    page.get_by_label("Language").select_option("es")
    page.get_by_label("Status").select_option("delivered")
    page.get_by_role("button", name="Show").click()
    axe.check(page, "reminders")
    page.get_by_role("link", name="appt-88123").click()
    expect(page).to_have_url(f"{live_server.url}/console/reminders/{reminder_id}")
    expect(page.locator("#status")).to_have_text("delivered")
    expect(page.locator("#transcript")).to_contain_text("María")
    expect(page.locator("#attempts")).to_contain_text("outbox")
    reminder_audio = page.get_by_label("Audio played to the patient", exact=False)
    assert (
        reminder_audio.evaluate(
            "a => new Promise(ok => a.readyState >= 1 ? ok(a.duration)"
            " : a.addEventListener('loadedmetadata', () => ok(a.duration)))"
        )
        > 1
    )
    axe.check(page, "reminder")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    axe.check(page, "signed out")
    page.goto(f"{live_server.url}/console/reminders/{reminder_id}")
    expect(page).to_have_url(f"{live_server.url}/console/sign-in")
    axe.save()


def tab_to(page: Page, selector: str) -> None:
    """Press Tab until ``selector`` has focus, as a keyboard user would."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"{selector} has no visible focus"
            return
    pytest.fail(f"{selector} cannot be reached with Tab")


def test_sign_in_and_preview_by_keyboard_alone(
    page: Page, live_server: LiveServer, keys: Keys
) -> None:
    page.goto(f"{live_server.url}/console/sign-in")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    tab_to(page, "#api_key")
    page.keyboard.type(keys.staff)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Preview a message")

    tab_to(page, "#language")
    page.keyboard.type("Spanish")
    expect(page.locator("#language")).to_have_value("es")
    tab_to(page, "button[value=sample]")
    page.keyboard.press("Enter")
    expect(page.locator("#location")).to_have_value("Segundo piso, consultorio 210")

    # Enter in a field previews; a mistake is announced and its summary takes focus.
    tab_to(page, "#patient_name")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.press("Enter")
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("patient name")
    axe = AxeRecord()
    axe.check(page, "preview with errors")
    page.keyboard.press("Tab")  # the summary's link to the field
    page.keyboard.press("Enter")
    expect(page.locator("#patient_name")).to_be_focused()
    expect(page.locator("#patient_name")).to_have_attribute("aria-invalid", "true")
    page.keyboard.type("María López")
    page.keyboard.press("Enter")
    # Focus moves to the new preview, and the player is the next stop.
    expect(page.locator("#result-heading")).to_be_focused()
    tab_to(page, "#preview-audio")
    expect(page.locator("#transcript")).to_have_attribute("lang", "es")
    axe.save("console-axe-keyboard.json")
