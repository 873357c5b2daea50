"""The worklist page in real Chromium: a staff member filters by reason, calls back, notes
what they did and re-sends in another language by keyboard alone; each item acted on
leaves the page; axe-core finds nothing blocking.

The axe results are written to ``test-artifacts/console-worklist-axe.json``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from devtools.browser import ARTIFACTS_DIR, axe_violations, blocking
from tests.support.api import Keys, LiveServer, reminder_body
from tests.support.appointments import advance_to
from tests.support.clinics import audit_entries

# Browser tests run on SQLite only; the HTTP tests cover both databases.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_staff_work_the_list_by_keyboard(
    page: Page, live_server: LiveServer, keys: Keys, database_url: str
) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).isoformat()
    made = []
    with live_server.client(keys.scheduler) as http:
        for name in ("María López", "Ana Rivera"):
            body = reminder_body(send_at=tomorrow)
            body["patient"] = body["patient"] | {"name": name}
            created = http.post("/v1/reminders", json=body)
            assert created.status_code == 202, created.text
            made.append(created.json()["id"])
    for status in ("rendering", "ready", "dispatching", "delivered", "cancel_requested"):
        advance_to(database_url, made[0], status)
    for status in ("rendering", "ready", "dispatching", "needs_staff"):
        advance_to(database_url, made[1], status)
    findings: dict[str, object] = {}

    page.goto(f"{live_server.url}/console/sign-in")
    page.get_by_label("Your API key").fill(keys.staff)
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Worklist").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Worklist")
    expect(page.get_by_role("heading", level=2)).to_have_text("2 items need a person, newest first")
    findings["worklist"] = violations = axe_violations(page)
    assert not blocking(violations), json.dumps(blocking(violations), indent=1)

    reason = page.get_by_label("Reason")
    reason.focus()
    reason.select_option("cancel_request")
    page.get_by_role("button", name="Show").focus()
    page.keyboard.press("Enter")
    cancel = page.get_by_role("article", name="Asked to cancel: María López")
    expect(cancel).to_contain_text("the patient asked to cancel (2)")
    expect(page.get_by_role("article")).to_have_count(1)
    call_back = cancel.get_by_role("link", name="Call back +13125550123")
    href = call_back.get_attribute("href")
    assert href is not None and "5550123" not in href and "5550123" not in page.url
    # Followed, it is audited, then hands the phone the number (the browser's session).
    dialled = page.request.get(href, max_redirects=0)
    assert dialled.status == 303 and dialled.headers["location"] == "tel:+13125550123"
    (called,) = audit_entries(database_url, "worklist.call_back")
    assert called.detail == {"reason": "cancel_request", "fields": []}
    cancel.get_by_label("Note (optional)").focus()
    page.keyboard.type("Called back; moved the visit to Friday")
    page.keyboard.press("Tab")
    expect(cancel.get_by_role("button", name="Mark handled")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Marked handled.")
    expect(page.get_by_role("article")).to_have_count(1)  # the other reason, unfiltered
    findings["after_handled"] = violations = axe_violations(page)
    assert not blocking(violations), json.dumps(blocking(violations), indent=1)

    staff = page.get_by_role("article", name="Not reached after every step: Ana Rivera")
    language = staff.get_by_label("Language")
    language.focus()
    language.select_option("en")
    page.keyboard.press("Tab")
    expect(staff.get_by_role("button", name="Re-send")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Re-sent: a new reminder is planned.")
    expect(
        page.get_by_role("article", name="Not reached after every step: Ana Rivera")
    ).to_have_count(0)
    (handled,) = audit_entries(database_url, "reminder.handled")
    assert handled.detail == {"fields": ["note"]}
    (resent,) = audit_entries(database_url, "worklist.resend")
    assert resent.detail is not None and resent.detail["fields"] == ["language"]
    # Every action under the signed-in staff member's key, named in the audit log.
    with live_server.client(keys.admin) as http:
        for action in ("worklist.call_back", "reminder.handled", "worklist.resend"):
            (entry,) = http.get("/v1/audit", params={"action": action}).json()["items"]
            assert entry["actor_name"] == "nurse", action
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    (ARTIFACTS_DIR / "console-worklist-axe.json").write_text(json.dumps(findings, indent=1))
