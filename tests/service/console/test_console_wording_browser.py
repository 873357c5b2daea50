"""The wording pages in real Chromium, by keyboard: staff write a version, meet a gate's
error (focused, linked to the text), fix it, save it and hear it (a player whose audio
really loads and plays); a reviewer marks the wording reviewed. axe-core finds nothing
serious on any state of the pages.

The axe results are written to ``test-artifacts/console-wording-axe.json``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from devtools.browser import ARTIFACTS_DIR, axe_violations, blocking
from tests.support.api import Keys, LiveServer
from tests.support.clinics import reviewer_key, store_clinic

# Browser tests run on SQLite only; the HTTP tests cover both databases.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

NO_MENU = "Hello, {patient_name}. This is {clinic_name}. Your visit is on {day}, at {time}."
LOADED_DURATION = (
    "a => a.readyState >= 1 ? a.duration : new Promise((ok, fail) => {"
    " a.addEventListener('loadedmetadata', () => ok(a.duration));"
    " a.addEventListener('error', () => fail(new Error('audio failed to load'))); })"
)
PLAYING = (
    "a => a.play().then(() => new Promise(ok => { const check = () => a.currentTime > 0 ?"
    " ok() : setTimeout(check, 20); check(); }))"
)


def sign_in(page: Page, live_server: LiveServer, api_key: str) -> None:
    page.goto(f"{live_server.url}/console/sign-in")
    page.get_by_label("Your API key").fill(api_key)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Preview a message")


def follow(page: Page, name: str) -> None:
    """Tab to a link or button by focusing it, then press Enter as a keyboard user does."""
    page.get_by_role("link", name=name).first.focus()
    page.keyboard.press("Enter")


def test_staff_write_fix_save_and_hear_a_version_then_a_reviewer_signs_it(
    page: Page, live_server: LiveServer, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url)
    findings: dict[str, Any] = {}

    def check(name: str) -> None:
        findings[name] = violations = axe_violations(page)
        assert not blocking(violations), f"{name}: {json.dumps(blocking(violations), indent=1)}"

    sign_in(page, live_server, keys.staff)
    follow(page, "Clinics")
    follow(page, "Riverside Clinic")
    follow(page, "Wording of this clinic's messages")
    expect(page.get_by_role("heading", level=1)).to_have_text("Wording of Riverside Clinic")
    expect(page.locator("#review-status")).to_contain_text("Not reviewed")
    expect(page.get_by_role("button", name="Mark reviewed")).to_have_count(0)  # staff
    check("overview")

    follow(page, "Appointment reminder, phone call, answered")
    expect(page.locator("#slots")).to_contain_text("{menu}")
    text = page.get_by_label("Text")
    text.focus()
    page.keyboard.type(NO_MENU)
    page.keyboard.press("Tab")  # to Save a new version
    expect(page.get_by_role("button", name="Save a new version")).to_be_focused()
    page.keyboard.press("Enter")
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("add {menu}")
    expect(text).to_have_attribute("aria-invalid", "true")
    expect(text).to_have_value(NO_MENU)
    check("gate error")
    page.keyboard.press("Tab")  # the summary's link: to the text at fault
    page.keyboard.press("Enter")
    expect(text).to_be_focused()
    page.keyboard.press("End")
    page.keyboard.press("Control+End")
    page.keyboard.type(" {menu}")
    page.get_by_role("button", name="Save a new version").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Saved as version 1. It is not reviewed yet.")
    expect(page.locator("#in-use")).to_have_text(NO_MENU + " {menu}")
    check("saved")

    page.get_by_role("button", name="Hear version 1").focus()
    page.keyboard.press("Enter")
    heading = page.get_by_role("heading", name="Version 1, with sample facts")
    expect(heading).to_be_focused()
    expect(page.locator("#transcript")).to_contain_text("This is Riverside Clinic")
    audio = page.locator("#preview-audio")
    assert float(audio.evaluate(LOADED_DURATION)) > 1.0
    fetched = page.request.get(audio.evaluate("a => a.src"))
    assert fetched.ok and fetched.headers["content-type"] == "audio/mpeg"
    audio.evaluate(PLAYING)
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS_DIR / "console-wording.png", full_page=True)
    check("heard")

    follow(page, "Preview")  # the same version, heard through the preview for the clinic
    page.get_by_label("Clinic", exact=True).focus()
    page.keyboard.press("ArrowDown")  # from "None (inline)" to Riverside Clinic
    expect(page.get_by_label("Clinic", exact=True)).to_have_value("riverside")
    page.get_by_role("button", name="Preview", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#wording-used")).to_have_text("the clinic's version 1")
    expect(page.locator("#transcript")).to_contain_text("This is Riverside Clinic")
    check("preview for the clinic")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server, reviewer_key(database_url))
    page.goto(f"{live_server.url}/console/clinics/riverside/wording?language=en")
    expect(page.locator("#messages")).to_contain_text("version 1")
    name = page.get_by_label("Your name")
    name.focus()
    page.keyboard.type("Ana Reyes")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Marked reviewed.")
    expect(page.locator("#review-status")).to_contain_text("Reviewed by Ana Reyes")
    check("reviewed")
    (ARTIFACTS_DIR / "console-wording-axe.json").write_text(json.dumps(findings, indent=1))
