"""The pronunciations page in real Chromium: staff type a word and how to say it, hear
both (two players whose audio really loads and plays), save what they heard, see it
listed, delete it;
axe-core finds nothing serious on any state of the page.

The axe results are written to ``test-artifacts/console-lexicon-axe.json``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from devtools.browser import ARTIFACTS_DIR, axe_violations, blocking
from tests.support.api import Keys, LiveServer
from tests.support.clinics import store_clinic

# Browser tests run on SQLite only; the HTTP tests cover both databases.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

LOADED_DURATION = (
    "a => a.readyState >= 1 ? a.duration : new Promise((ok, fail) => {"
    " a.addEventListener('loadedmetadata', () => ok(a.duration));"
    " a.addEventListener('error', () => fail(new Error('audio failed to load'))); })"
)


def playable_seconds(page: Page, audio: Locator) -> float:
    """The player's duration once its audio has loaded, after checking it plays."""
    seconds = float(audio.evaluate(LOADED_DURATION))
    source = audio.evaluate("a => a.src")
    fetched = page.request.get(source)
    assert fetched.ok and fetched.headers["content-type"] == "audio/mpeg"
    audio.evaluate("a => a.play()")
    audio.evaluate(
        "a => new Promise(ok => { const check = () => a.currentTime > 0 ? ok() :"
        " setTimeout(check, 20); check(); })"
    )
    return seconds


def test_staff_hear_a_word_both_ways_then_save_and_delete_it(
    page: Page, live_server: LiveServer, keys: Keys, database_url: str
) -> None:
    store_clinic(database_url)
    findings: dict[str, Any] = {}

    def check(name: str) -> None:
        findings[name] = violations = axe_violations(page)
        assert not blocking(violations), f"{name}: {json.dumps(blocking(violations), indent=1)}"

    page.goto(f"{live_server.url}/console/sign-in")
    page.get_by_label("Your API key").fill(keys.staff)
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Pronunciations").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pronunciations")
    expect(page.get_by_label("Clinic")).to_have_value("riverside")
    page.get_by_label("Language").select_option("en")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#entries")).to_contain_text("No pronunciations saved")
    check("empty")

    expect(page.get_by_role("button", name="Save")).to_have_count(0)  # hear it first
    page.get_by_role("button", name="Hear both").click()  # nothing typed yet
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("written")
    expect(page.locator("#written")).to_have_attribute("aria-invalid", "true")
    check("errors")

    page.get_by_label("Word as written").fill("Nguyen")
    page.get_by_label("How to say it").fill("Win")
    page.get_by_role("button", name="Hear both").click()
    written = page.get_by_label("As written: Nguyen", exact=True)
    spoken = page.get_by_label("As you want it said: Win", exact=True)
    expect(written).to_have_attribute("controls", "")
    assert written.get_attribute("src") != spoken.get_attribute("src")
    assert playable_seconds(page, written) > 0.2
    assert playable_seconds(page, spoken) > 0.2
    expect(page.get_by_label("How to say it")).to_have_value("Win")  # kept for Save
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS_DIR / "console-lexicon.png", full_page=True)
    check("audition")

    page.get_by_label("How to say it").fill("Wen")  # typed after hearing: not what is saved
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved: Nguyen.")
    row = page.locator("#entries tbody tr").first
    expect(row).to_contain_text("Nguyen")
    expect(row).to_contain_text("Win")
    expect(row).not_to_contain_text("Wen")
    check("saved")

    page.get_by_role("button", name="Delete Nguyen").click()
    expect(page.locator("#entries")).to_contain_text("No pronunciations saved")
    expect(page.locator("#entries")).not_to_contain_text("Nguyen")
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    (ARTIFACTS_DIR / "console-lexicon-axe.json").write_text(json.dumps(findings, indent=1))
