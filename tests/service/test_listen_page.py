"""The patient's listen page in real Debian Chromium: accessible, keyboard operable, no JS needed.

axe-core (from npm, pinned by package-lock.json) is injected into the page and run there.
The message arrives the way an app backend gets it: from a signed app webhook's listen_url.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser

from devtools.browser import axe_violations, blocking
from service.config import Settings
from tests.support.api import Keys, LiveServer, reminder_body
from tests.support.waiting import wait_for
from tests.support.webhook_receiver import SECRET, Receiver


@pytest.fixture
def settings(make_settings: Callable[..., Settings], receiver: Receiver) -> Settings:
    return make_settings(
        app_webhook_url=receiver.url, app_webhook_secret=SECRET, webhook_allow_private_targets=True
    )


@pytest.fixture
def delivered(
    live_server: LiveServer, keys: Keys, receiver: Receiver, settings: Settings
) -> dict[str, Any]:
    """The app webhook's data for one delivered Spanish reminder, listen_url made local."""
    body = reminder_body(channel="app")
    body["patient"] = body["patient"] | {"phone": None, "app_recipient_id": "app-user-7"}
    created = live_server.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert created.status_code == 202, created.text
    (request,) = wait_for(receiver.accepted)
    assert request.valid
    data: dict[str, Any] = request.payload["data"]
    data["listen_url"] = live_server.url + data["listen_url"].removeprefix(settings.public_base_url)
    return data


def test_the_listen_page_passes_axe_and_plays_by_keyboard(
    browser: Browser, delivered: dict[str, Any]
) -> None:
    page = browser.new_page()
    response = page.goto(delivered["listen_url"])
    assert response is not None and response.status == 200
    assert page.get_attribute("html", "lang") == "es"
    assert page.inner_text("#transcript").strip() == delivered["transcript"]

    serious = blocking(axe_violations(page))
    assert serious == [], [(v["id"], v["help"]) for v in serious]

    duration = page.wait_for_function(
        "() => { const a = document.getElementById('player');"
        " return a.readyState >= 1 && isFinite(a.duration) && a.duration; }"
    ).json_value()
    assert abs(duration - delivered["audio"]["duration_s"]) < 0.5
    assert page.evaluate("() => document.getElementById('player').paused"), "no autoplay"

    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "play"
    assert page.get_attribute("#play", "aria-controls") == "player"
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.getElementById('player').paused")
    assert page.inner_text("#play-label") == "Pause"
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('player').paused")
    page.close()


def test_without_javascript_the_transcript_and_the_audio_controls_are_there(
    browser: Browser, delivered: dict[str, Any]
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(delivered["listen_url"])
    assert page.inner_text("#transcript").strip() == delivered["transcript"]
    assert page.is_hidden("#play")
    assert page.get_attribute("#player", "controls") is not None
    assert page.get_attribute("#player", "autoplay") is None
    context.close()


def test_a_forged_link_shows_an_accessible_explanation(
    browser: Browser, live_server: LiveServer
) -> None:
    page = browser.new_page()
    response = page.goto(f"{live_server.url}/listen/forged-token")
    assert response is not None and response.status == 403
    assert "not valid" in page.inner_text("[role=alert]")
    page.close()


def test_a_follow_up_is_answered_on_the_page_by_keyboard_once(
    browser: Browser, live_server: LiveServer, keys: Keys, receiver: Receiver, settings: Settings
) -> None:
    """The app's follow-up, answered where the patient listens: large buttons, keys only,
    no script needed; the first answer is kept, as a key on a call would be."""
    body = reminder_body(kind="follow_up", channel="app")
    del body["appointment"]
    body["patient"] = body["patient"] | {"phone": None, "app_recipient_id": "app-user-8"}
    created = live_server.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert created.status_code == 202, created.text
    url = f"/v1/reminders/{created.json()['id']}"

    def read() -> dict[str, Any]:
        return dict(live_server.get(url, headers=keys.header(keys.staff)).json())

    (request,) = wait_for(receiver.accepted)
    listen_url = live_server.url + request.payload["data"]["listen_url"].removeprefix(
        settings.public_base_url
    )
    wait_for(lambda: read()["status"] == "delivered")
    page = browser.new_page()
    page.goto(listen_url)
    buttons = page.get_by_role("button", name="Answer")
    assert [buttons.nth(i).inner_text().strip()[-1] for i in range(buttons.count())] == list(
        "12345"
    )
    serious = blocking(axe_violations(page))
    assert serious == [], [(v["id"], v["help"]) for v in serious]

    for _ in range(12):  # the play button, the player's controls, then the answers
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.value") == "4":
            break
    assert page.evaluate("() => document.activeElement.value") == "4"
    page.keyboard.press("Enter")
    page.wait_for_selector("#answered")
    assert page.inner_text("#answered") == "Thank you. Your answer is saved."
    assert page.get_by_role("button", name="Answer").count() == 0
    assert blocking(axe_violations(page)) == []
    page.close()

    answered = read()
    assert answered["status"] == "confirmed" and answered["follow_up"]["answer"] == "4"
    again = live_server.post(f"{listen_url}/answer", data={"key": "1"})
    assert again.status_code == 303
    assert read()["follow_up"]["answer"] == "4"  # the first answer stays
    not_an_answer = live_server.post(f"{listen_url}/answer", data={"key": "7"})
    assert not_an_answer.status_code == 422
    assert "not an answer" in not_an_answer.text
