"""Escalation end to end: the app on uvicorn with a controllable clock, its sweeper and
in-process workers, and the Twilio simulator placing calls and taking texts over HTTP.

The clock is moved to each step's time instead of waiting hours; everything else is real:
rendering, the call's TwiML and audio, the signed callbacks, the listen page in Chromium.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from playwright.sync_api import Browser
from pydub import AudioSegment
from sqlalchemy import select

from devtools.timezones import daytime_zone
from devtools.twilio_sim import Said, Scenario, TwilioSimulator
from service.app import create_app
from service.config import Settings
from service.models import Reminder, WebhookDelivery
from templates import render_message
from tests.support.api import Keys, LiveServer, reminder_body
from tests.support.clinics import add_clinic
from tests.support.clock import OffsetClock
from tests.support.console import sign_in
from tests.support.phone import FROM_NUMBER, phone_settings
from tests.support.serving import serving
from tests.support.waiting import wait_for
from tests.support.webhook_receiver import SECRET, Receiver
from voices import AudioFormat, Catalog, EspeakEngine, Speaker
from voices.engines import configured_speaker
from workers import jobs
from workers.rendering import Renderer, message_facts
from workers.sweeper import sweep

PATIENT = "+13125550123"
PATIENT_NAME = "María López"
CALLBACK = "https://scheduler.example.org/hooks/tellwell"
"""Status webhooks are recorded (no client secret here, so none is sent): their payloads
are what the scheduler would get."""


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings], sim: TwilioSimulator, receiver: Receiver
) -> Settings:
    """Calls and texts through the simulator; app steps to a real app backend on loopback."""
    return phone_settings(
        make_settings,
        "",
        sim,
        calls_per_day=1,
        calls_per_week=3,
        app_webhook_url=receiver.url,
        app_webhook_secret=SECRET,
        webhook_allow_private_targets=True,
    )


@pytest.fixture
def live(settings: Settings, keys: Keys, clock: OffsetClock) -> Iterator[LiveServer]:
    """The app with its sweeper on the test's clock, where the simulator calls back."""
    port = int(settings.public_base_url.rsplit(":", 1)[1])
    with serving(create_app(settings, clock=clock), port) as server:
        yield server


def post(live: LiveServer, keys: Keys, body: dict[str, Any]) -> str:
    answer = live.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def create(live: LiveServer, keys: Keys, escalation: dict[str, Any], **changes: Any) -> str:
    return post(live, keys, reminder_body(escalation=escalation, **changes))


def app_patient() -> dict[str, Any]:
    """The usual patient, who also has the clinic's app."""
    return reminder_body()["patient"] | {"app_recipient_id": "app-user-7"}


def read(live: LiveServer, keys: Keys, reminder_id: str) -> dict[str, Any]:
    answer = live.get(f"/v1/reminders/{reminder_id}", headers=keys.header(keys.staff))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def until(
    live: LiveServer,
    keys: Keys,
    reminder_id: str,
    found: Callable[[dict[str, Any]], bool],
    within_s: float = 60,
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        reminder = read(live, keys, reminder_id)
        return reminder if found(reminder) else None

    return dict(wait_for(reached, timeout_s=within_s))


def nothing_due(reminder_id: str) -> bool:
    """A sweep now (the clock moved past every step's time) queues nothing for it."""
    report = sweep(jobs.pipeline())
    return all(reminder_id not in ids for ids in report.enqueued.values())


def has_event(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda r: any(text in (e["detail"] or "") for e in r["events"])


def next_step_at(reminder_id: str) -> datetime:
    """When the step waiting now is due (the lease the sweeper waits for)."""
    with jobs.pipeline().db.session() as session:
        due = session.get_one(Reminder, reminder_id).lease_until
    assert due is not None
    return due


def skip_to(clock: OffsetClock, moment: datetime) -> None:
    clock.skip(max(0.0, (moment - clock.now()).total_seconds()) + 1)


def app_text(body: dict[str, Any], today: datetime) -> str:
    """What the app variant says for the request's facts: the text a patient reads in the
    app and on the listen page, not the call's with its keypad menu."""
    facts = message_facts(body)
    return render_message(body["kind"], body["language"], "app", facts, today=today).text


def words(text: str) -> str:
    return " ".join(text.split())


def step_events(reminder: dict[str, Any]) -> list[tuple[int | None, str, str]]:
    return [
        (e["step"], e["status"], e["detail"]) for e in reminder["events"] if e["step"] is not None
    ]


def test_no_answer_then_a_text_then_the_staff_who_mark_it_handled(
    live: LiveServer, keys: Keys, sim: TwilioSimulator, clock: OffsetClock
) -> None:
    sim.scenario_for(PATIENT, Scenario(answer="no-answer"))
    policy = {
        "steps": [{"channel": "sms", "wait_minutes": 60}, {"channel": "staff", "wait_minutes": 240}]
    }
    reminder_id = create(live, keys, policy, callback_url=CALLBACK)

    first = until(live, keys, reminder_id, has_event("step 1 (sms) after"))
    assert first["status"] == "dispatching" and first["escalation_step"] == 1
    called_at = datetime.fromisoformat(first["attempts"][0]["started_at"])
    sms_due = next_step_at(reminder_id)
    assert timedelta(minutes=60) <= sms_due - called_at < timedelta(minutes=61)
    assert sim.texts_to(PATIENT) == []  # nothing before its time

    skip_to(clock, sms_due)
    texted = until(live, keys, reminder_id, has_event("step 2 (staff) after"))
    (text,) = sim.texts_to(PATIENT)
    body = text.param("Body")
    assert "Riverside Clinic" in body and f"{live.url}/listen/" in body
    assert PATIENT_NAME not in body and "Chen" not in body and "210" not in body
    assert text.param("From") == FROM_NUMBER and sim.problems == []
    assert [a["channel"] for a in texted["attempts"]] == ["twilio", "sms"]

    skip_to(clock, next_step_at(reminder_id))
    with_staff = until(live, keys, reminder_id, lambda r: r["status"] == "needs_staff")
    assert step_events(with_staff) == [
        (0, "dispatching", step_events(with_staff)[0][2]),
        (1, "dispatching", step_events(with_staff)[1][2]),
        (2, "needs_staff", "step 2 (staff): handed to the clinic's staff"),
    ]
    assert step_events(with_staff)[0][2].startswith("step 0 (phone): no-answer; step 1 (sms)")
    assert step_events(with_staff)[1][2].startswith("step 1 (sms): sent, not yet heard; step 2")
    # The console's reminder page shows each step and why it ran or stopped.
    with live.client() as console:
        sign_in(console, keys.staff)
        page = console.get(f"/console/reminders/{reminder_id}")
    assert page.status_code == 200, page.text
    for _, _, detail in step_events(with_staff):
        assert str(escape(detail)) in page.text
    listed = live.get(
        "/v1/reminders",
        params={"status": "needs_staff"},
        headers=keys.header(keys.staff),
    ).json()
    assert [item["id"] for item in listed["items"]] == [reminder_id]  # the worklist's hook

    handled_url = f"{live.url}/v1/reminders/{reminder_id}/handled"
    assert live.post(handled_url, headers=keys.header(keys.scheduler)).status_code == 403
    answer = live.post(handled_url, headers=keys.header(keys.staff))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "handled"
    assert answer.json()["events"][-1]["detail"] == "handled by a staff member"
    assert live.post(handled_url, headers=keys.header(keys.staff)).status_code == 200
    audit = live.get(
        "/v1/audit",
        params={"action": "reminder.handled"},
        headers=keys.header(keys.admin),
    ).json()
    assert [entry["subject_id"] for entry in audit["items"]] == [reminder_id]
    assert len(sim.calls_to(PATIENT)) == 1
    with jobs.pipeline().db.session() as session:
        sent = session.scalars(
            select(WebhookDelivery.payload)
            .where(WebhookDelivery.reminder_id == reminder_id)
            .order_by(WebhookDelivery.id)
        ).all()
    steps = [(p["type"], p["data"].get("step")) for p in sent if "step" in p["data"]]
    assert steps == [
        ("reminder.escalated", 0),
        ("reminder.escalated", 1),
        ("reminder.needs_staff", 2),
        ("reminder.handled", 2),
    ]
    assert all(PATIENT_NAME not in str(p) and "5550123" not in str(p) for p in sent)


def test_a_second_call_waits_for_the_daily_limit_and_a_key_stops_the_loop(
    live: LiveServer, keys: Keys, sim: TwilioSimulator, clock: OffsetClock
) -> None:
    sim.scenario_for(PATIENT, Scenario(answer="busy"), Scenario(answer="human", keys=["1"]))
    policy = {
        "steps": [{"channel": "phone", "wait_minutes": 180}, {"channel": "sms", "wait_minutes": 60}]
    }
    reminder_id = create(live, keys, policy)

    first = until(live, keys, reminder_id, has_event("step 1 (phone) after"))
    called_at = datetime.fromisoformat(first["attempts"][0]["started_at"])
    second_due = next_step_at(reminder_id)
    # 3 hours asked, but one call a day: the step waits for the limit, it is not skipped.
    assert timedelta(days=1) <= second_due - called_at < timedelta(days=1, minutes=1)

    skip_to(clock, second_due)
    done = until(live, keys, reminder_id, lambda r: r["status"] == "confirmed")
    sim.wait_idle()
    calls = sim.calls_to(PATIENT)
    assert len(calls) == 2 and calls[1].pressed == ["1"] and sim.problems == []
    assert [a["outcome"] for a in done["attempts"]] == ["busy", "confirmed"]
    started = [datetime.fromisoformat(a["started_at"]) for a in done["attempts"]]
    assert started[1] - started[0] >= timedelta(days=1)

    skip_to(clock, clock.now() + timedelta(hours=2))  # past when the text would have gone
    assert nothing_due(reminder_id)
    assert sim.texts_to(PATIENT) == [] and read(live, keys, reminder_id)["status"] == "confirmed"


def test_voicemail_stops_the_loop_unless_the_policy_says_continue(
    live: LiveServer, keys: Keys, sim: TwilioSimulator, clock: OffsetClock
) -> None:
    sim.scenario_for(PATIENT, Scenario(answer="machine"))
    steps = [{"channel": "sms", "wait_minutes": 30}]
    stops = create(live, keys, {"steps": steps})
    done = until(live, keys, stops, lambda r: r["status"] == "voicemail")
    assert done["escalation_step"] == 0
    skip_to(clock, clock.now() + timedelta(hours=1))
    assert nothing_due(stops) and sim.texts_to(PATIENT) == []

    goes_on = create(live, keys, {"steps": steps, "on_voicemail": "continue"})
    waiting = until(live, keys, goes_on, has_event("voicemail left, not confirmed; step 1 (sms)"))
    assert waiting["status"] == "dispatching"


def test_the_listen_page_played_to_the_end_stops_the_loop(
    live: LiveServer,
    keys: Keys,
    sim: TwilioSimulator,
    clock: OffsetClock,
    browser: Browser,
    settings: Settings,
) -> None:
    sim.scenario_for(PATIENT, Scenario(answer="no-answer"))
    policy = {
        "steps": [{"channel": "sms", "wait_minutes": 30}, {"channel": "staff", "wait_minutes": 120}]
    }
    body = reminder_body(escalation=policy)
    reminder_id = post(live, keys, body)
    called = until(live, keys, reminder_id, has_event("step 1 (sms) after"))
    skip_to(clock, next_step_at(reminder_id))
    until(live, keys, reminder_id, has_event("step 2 (staff) after"))
    (text,) = sim.texts_to(PATIENT)
    link = next(word for word in text.param("Body").split() if "/listen/" in word)

    page = browser.new_page()
    page.goto(link)
    # The page shows the app's words, not the call's "Oprima 1..." that nobody can press.
    shown = words(page.inner_text("#transcript"))
    assert shown == words(app_text(body, clock.now()))
    assert "Oprima" in called["message"]["text"] and "Oprima" not in shown
    assert page.locator("#player source").get_attribute("type") == AudioFormat.APP.media_type
    page.evaluate("() => { document.getElementById('player').playbackRate = 16; }")
    page.click("#play")  # as the patient would: the big button
    heard = until(live, keys, reminder_id, lambda r: r["status"] == "delivered")
    assert heard["events"][-1]["detail"] == "listened to the end on the listen page"
    assert heard["events"][-1]["step"] == 1  # the text's link, heard while staff was next
    page.close()

    skip_to(clock, clock.now() + timedelta(hours=3))  # past the staff step's time
    assert nothing_due(reminder_id)
    assert read(live, keys, reminder_id)["status"] == "delivered"
    forged = live.post("/listen/not-a-token/ended")
    assert forged.status_code == 403


def test_an_app_step_sends_the_audio_to_the_app_and_listening_there_stops_the_loop(
    live: LiveServer,
    keys: Keys,
    sim: TwilioSimulator,
    clock: OffsetClock,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    sim.scenario_for(PATIENT, Scenario(answer="no-answer"))
    policy = {
        "steps": [{"channel": "app", "wait_minutes": 30}, {"channel": "staff", "wait_minutes": 120}]
    }
    body = reminder_body(escalation=policy, patient=app_patient())
    reminder_id = post(live, keys, body)

    called = until(live, keys, reminder_id, has_event("step 1 (app) after"))
    assert receiver.requests == []  # nothing before its time
    skip_to(clock, next_step_at(reminder_id))
    sent = until(live, keys, reminder_id, has_event("step 1 (app): sent, not yet heard; step 2"))
    assert sent["status"] == "dispatching"
    assert [a["channel"] for a in sent["attempts"]] == ["twilio", "app"]
    (request,) = receiver.requests
    assert request.valid and request.answered == 204
    data = request.payload["data"]
    assert data["reminder_id"] == reminder_id and data["recipient_id"] == "app-user-7"
    # The app's message, in the patient's language: no keypad menu, a number to call.
    assert data["language"] == "es"
    assert data["transcript"] == app_text(body, clock.now())
    assert "Oprima" in called["message"]["text"] and "Oprima" not in data["transcript"]
    # MP3 at the app's rate, not the call's 8 kHz mu-law.
    assert data["audio"]["media_type"] == AudioFormat.APP.media_type
    audio = live.get(data["audio"]["url"])
    assert audio.status_code == 200 and audio.headers["content-type"] == data["audio"]["media_type"]
    fetched = tmp_path / "app-step-audio"
    fetched.write_bytes(audio.content)
    decoded = AudioSegment.from_file(fetched)
    assert decoded.frame_rate == AudioFormat.APP.sample_rate_hz
    assert abs(decoded.duration_seconds - data["audio"]["duration_s"]) < 0.5
    # Its listen page shows the same words.
    page = live.get(data["listen_url"])
    assert page.status_code == 200
    assert str(escape(data["transcript"])) in page.text and "Oprima" not in page.text

    # The app plays the message to the end on its listen page: the loop stops there.
    ended = live.post(f"{data['listen_url']}/ended")
    assert ended.status_code == 204
    heard = read(live, keys, reminder_id)
    assert heard["status"] == "delivered"
    assert (heard["events"][-1]["step"], heard["events"][-1]["detail"]) == (
        1,
        "listened to the end on the listen page",
    )
    skip_to(clock, clock.now() + timedelta(hours=3))  # past the staff step's time
    assert nothing_due(reminder_id)
    assert read(live, keys, reminder_id)["status"] == "delivered"
    assert len(sim.calls_to(PATIENT)) == 1 and sim.texts_to(PATIENT) == []


def test_an_app_step_says_the_clinics_own_app_wording(
    live: LiveServer, keys: Keys, sim: TwilioSimulator, clock: OffsetClock, receiver: Receiver
) -> None:
    zone = daytime_zone()
    policy = {"steps": [{"channel": "app", "wait_minutes": 30}]}
    app_wording = "Hola, {patient_name}. {clinic_name} le escribe en la app.\nSu cita es el {day}."
    with live.client() as http:
        add_clinic(
            http,
            keys.admin,
            timezone=zone,
            calling_hours={"start": "08:00", "end": "21:00"},
            escalation=policy,
        )
        saved = http.post(
            "/v1/clinics/riverside/wording/es/appointment_reminder/app",
            json={"text": app_wording},
            headers=keys.header(keys.staff),
        )
    assert saved.status_code == 201, saved.text
    sim.scenario_for(PATIENT, Scenario(answer="no-answer"))
    body = reminder_body(clinic={"id": "riverside"})
    body["patient"] = body["patient"] | {"timezone": zone, "app_recipient_id": "app-user-7"}
    answer = live.post("/v1/reminders", json=body, headers=keys.header(keys.admin))
    assert answer.status_code == 202, answer.text
    reminder_id = str(answer.json()["id"])

    called = until(live, keys, reminder_id, has_event("step 1 (app) after"))
    assert "le escribe en la app" not in called["message"]["text"]  # the call's own words
    skip_to(clock, next_step_at(reminder_id))
    until(live, keys, reminder_id, has_event("step 1 (app): sent, not yet heard"))
    (request,) = receiver.requests
    transcript = request.payload["data"]["transcript"]
    assert transcript.startswith(f"Hola, {PATIENT_NAME}. ")
    assert " le escribe en la app. Su cita es el " in transcript
    # The day is said as the call said it (the same date rules).
    day = transcript.split("Su cita es el ", 1)[1].removesuffix(".")
    assert f"Su cita es el {day}, " in called["message"]["text"]
    assert "Oprima" not in transcript


def app_step_waiting(live: LiveServer, keys: Keys, sim: TwilioSimulator) -> str:
    """A reminder whose call went unanswered, its app step due in 30 minutes (then the
    staff's an hour later)."""
    sim.scenario_for(PATIENT, Scenario(answer="no-answer"))
    policy = {
        "steps": [{"channel": "app", "wait_minutes": 30}, {"channel": "staff", "wait_minutes": 60}]
    }
    reminder_id = create(live, keys, policy, patient=app_patient())
    until(live, keys, reminder_id, has_event("step 1 (app) after"))
    return reminder_id


def test_an_app_step_whose_message_cannot_be_rendered_fails_and_the_loop_goes_on(
    live: LiveServer, keys: Keys, sim: TwilioSimulator, clock: OffsetClock, receiver: Receiver
) -> None:
    reminder_id = app_step_waiting(live, keys, sim)

    # The step runs on a worker whose voices speak no Spanish (nodes configured apart).
    english_only = Catalog.from_dict(
        {
            "format": 2,
            "rates_words_per_minute": {"normal": 150, "slow": 120},
            "languages": {
                "en": {
                    "name": "English",
                    "native_name": "English",
                    "sample": "Hello.",
                    "engine": "espeak",
                    "voice": "en-us",
                    "licence": "GPL-3.0-or-later",
                    "provenance": "espeak-ng",
                }
            },
        }
    )
    pipeline = jobs.pipeline()
    cache = pipeline.settings.data_dir / "english-only-cache"
    pipeline.renderer = Renderer(configured_speaker(cache, catalog=english_only))
    skip_to(clock, next_step_at(reminder_id))
    failed = until(live, keys, reminder_id, has_event("step 1 (app): app message not rendered"))
    assert failed["status"] == "dispatching"
    assert [(a["channel"], a["outcome"]) for a in failed["attempts"]] == [
        ("twilio", "no-answer"),
        ("app", "failed"),
    ]
    (event,) = [e for e in step_events(failed) if e[0] == 1]
    assert event[2].startswith("step 1 (app): app message not rendered: UnknownLanguage; step 2")
    assert receiver.requests == []  # nothing half-made reached the app
    with pipeline.db.session() as session:
        stored = session.get_one(Reminder, reminder_id)
        assert (stored.app_message_text, stored.app_audio_key) == (None, None)

    skip_to(clock, next_step_at(reminder_id))
    with_staff = until(live, keys, reminder_id, lambda r: r["status"] == "needs_staff")
    assert with_staff["events"][-1]["detail"] == "step 2 (staff): handed to the clinic's staff"


class HandledWhileSpeaking:
    """The real espeak-ng, during whose first phrase staff mark the reminder handled."""

    def __init__(self, inner: EspeakEngine, mark_handled: Callable[[], None]) -> None:
        self._inner = inner
        self._mark_handled: Callable[[], None] | None = mark_handled
        self.name, self.sentence_cache = inner.name, inner.sentence_cache

    def synthesize(self, text: str, language: str, voice: str, words_per_minute: int) -> bytes:
        if self._mark_handled is not None:
            mark, self._mark_handled = self._mark_handled, None
            mark()
        return self._inner.synthesize(text, language, voice, words_per_minute)


def test_a_reminder_handled_while_its_app_message_renders_gets_nothing_stored_or_sent(
    live: LiveServer, keys: Keys, sim: TwilioSimulator, clock: OffsetClock, receiver: Receiver
) -> None:
    reminder_id = app_step_waiting(live, keys, sim)

    def mark_handled() -> None:
        answer = live.post(f"/v1/reminders/{reminder_id}/handled", headers=keys.header(keys.staff))
        assert answer.status_code == 200, answer.text

    pipeline = jobs.pipeline()
    speaking = HandledWhileSpeaking(EspeakEngine(), mark_handled)
    cache = pipeline.settings.data_dir / "handled-while-speaking-cache"  # nothing cached yet
    pipeline.renderer = Renderer(Speaker(cache, engines={"espeak": speaking}))
    skip_to(clock, next_step_at(reminder_id))
    done = until(
        live,
        keys,
        reminder_id,
        lambda r: len(r["attempts"]) == 2 and r["attempts"][1]["outcome"] is not None,
    )

    assert done["status"] == "handled"
    assert [(a["channel"], a["outcome"]) for a in done["attempts"]] == [
        ("twilio", "no-answer"),
        ("app", "canceled"),  # given up before anything was sent
    ]
    assert receiver.requests == []  # the app was sent nothing
    with pipeline.db.session() as session:
        stored = session.get_one(Reminder, reminder_id)
        assert (stored.app_message_text, stored.app_audio_key) == (None, None)
    skip_to(clock, clock.now() + timedelta(hours=2))  # past the staff step's time
    assert nothing_due(reminder_id)
    assert read(live, keys, reminder_id)["status"] == "handled"


def test_erasing_the_patient_erases_the_app_message_of_a_call(
    live: LiveServer, keys: Keys, sim: TwilioSimulator, clock: OffsetClock, receiver: Receiver
) -> None:
    sim.scenario_for(PATIENT, Scenario(answer="no-answer"))
    policy = {"steps": [{"channel": "app", "wait_minutes": 30}]}
    reminder_id = create(live, keys, policy, patient=app_patient())
    until(live, keys, reminder_id, has_event("step 1 (app) after"))
    skip_to(clock, next_step_at(reminder_id))
    until(live, keys, reminder_id, has_event("step 1 (app): sent, not yet heard"))
    (request,) = receiver.requests
    data = request.payload["data"]
    with jobs.pipeline().db.session() as session:
        app_audio = session.get_one(Reminder, reminder_id).app_audio
        assert app_audio is not None
        app_file = Path(app_audio.path)
    assert app_file.exists() and live.get(data["audio"]["url"]).status_code == 200

    erased = live.delete("/v1/patients", json={"phone": PATIENT}, headers=keys.header(keys.admin))
    assert erased.status_code == 200, erased.text
    assert live.get(data["audio"]["url"]).status_code == 410
    assert live.get(data["listen_url"]).status_code == 410
    assert not app_file.exists()
    with jobs.pipeline().db.session() as session:
        stored = session.get_one(Reminder, reminder_id)
        assert (stored.app_message_text, stored.app_audio_key) == (None, None)


def test_stop_and_start_by_text_share_the_list_calls_use(
    live: LiveServer, keys: Keys, sim: TwilioSimulator, settings: Settings, clock: OffsetClock
) -> None:
    webhook = f"{settings.public_base_url}/v1/twilio/sms"
    assert sim.text_in(webhook, PATIENT, FROM_NUMBER, " stop ").status_code == 200
    sim.scenario_for(PATIENT, Scenario(answer="human", keys=["1"]))
    policy = {"steps": [{"channel": "sms", "wait_minutes": 10}]}
    blocked = create(live, keys, policy)
    # The call is not placed (the same list); the text step is not sent either.
    first = until(live, keys, blocked, has_event("step 1 (sms) after"))
    assert "opted out" in step_events(first)[0][2]
    skip_to(clock, next_step_at(blocked))
    ended = until(live, keys, blocked, lambda r: r["status"] == "failed")
    assert "opted out" in ended["events"][-1]["detail"]
    assert sim.calls_to(PATIENT) == [] and sim.texts_to(PATIENT) == []

    assert sim.text_in(webhook, PATIENT, FROM_NUMBER, "START").status_code == 200
    reached = create(live, keys, policy)
    until(live, keys, reached, lambda r: r["status"] == "confirmed")
    assert len(sim.calls_to(PATIENT)) == 1

    for keyword in ("STOPALL", "unsubscribe", "Cancel", "END", "QUIT", "revoke", "OptOut"):
        assert sim.text_in(webhook, PATIENT, FROM_NUMBER, keyword).status_code == 200
        with jobs.pipeline().db.session() as session:
            assert jobs.pipeline().never_call.blocks(session, PATIENT), keyword
        for back in ("YES", "UNSTOP", "start"):
            sim.text_in(webhook, PATIENT, FROM_NUMBER, back)
            with jobs.pipeline().db.session() as session:
                assert not jobs.pipeline().never_call.blocks(session, PATIENT), back
            sim.text_in(webhook, PATIENT, FROM_NUMBER, keyword)
        sim.text_in(webhook, PATIENT, FROM_NUMBER, "START")

    unsigned = live.post(webhook, data={"From": PATIENT, "Body": "STOP"})
    assert unsigned.status_code == 403
    with jobs.pipeline().db.session() as session:
        assert not jobs.pipeline().never_call.blocks(session, PATIENT)


def test_a_clinics_policy_calls_again_on_a_reminder_by_clinic_id(
    live: LiveServer, keys: Keys, sim: TwilioSimulator, clock: OffsetClock
) -> None:
    # The clinic's own policy, not one sent with the reminder: its phone step must call.
    zone = daytime_zone()
    policy = {"steps": [{"channel": "phone", "wait_minutes": 180}], "on_voicemail": "stop"}
    with live.client() as http:
        add_clinic(
            http,
            keys.admin,
            timezone=zone,
            calling_hours={"start": "08:00", "end": "21:00"},
            escalation=policy,
        )
    # The second call is answered by voice ("sí", Spanish): a spoken reply stops the loop
    # like its key.
    yes = Said("Sí, claro.", 0.93)
    sim.scenario_for(PATIENT, Scenario(answer="no-answer"), Scenario(answer="human", keys=[yes]))
    body = reminder_body(clinic={"id": "riverside"})
    body["patient"]["timezone"] = zone
    answer = live.post("/v1/reminders", json=body, headers=keys.header(keys.admin))
    assert answer.status_code == 202, answer.text
    reminder_id = str(answer.json()["id"])

    until(live, keys, reminder_id, has_event("step 1 (phone) after"))
    skip_to(clock, next_step_at(reminder_id))
    done = until(live, keys, reminder_id, lambda r: r["status"] == "confirmed")
    sim.wait_idle()
    assert len(sim.calls_to(PATIENT)) == 2 and sim.problems == []
    assert [a["outcome"] for a in done["attempts"]] == ["no-answer", "confirmed"]
    assert done["attempts"][1]["speech_result"] == "Sí, claro."
    assert done["attempts"][1]["digits"] is None
    assert (done["events"][-1]["step"], done["events"][-1]["status"]) == (1, "confirmed")
    skip_to(clock, clock.now() + timedelta(days=2))
    assert nothing_due(reminder_id) and len(sim.calls_to(PATIENT)) == 2


def test_a_text_that_never_arrives_lets_the_next_step_run_at_once(
    live: LiveServer, keys: Keys, sim: TwilioSimulator, clock: OffsetClock, settings: Settings
) -> None:
    sim.scenario_for(PATIENT, Scenario(answer="no-answer"))
    sim.text_outcome_for(PATIENT, "undelivered")
    policy = {
        "steps": [{"channel": "sms", "wait_minutes": 30}, {"channel": "staff", "wait_minutes": 240}]
    }
    reminder_id = create(live, keys, policy)
    until(live, keys, reminder_id, has_event("step 1 (sms) after"))
    skip_to(clock, next_step_at(reminder_id))

    failed = until(live, keys, reminder_id, has_event("step 1 (sms): text undelivered"))
    sim.wait_idle()
    (text,) = sim.texts_to(PATIENT)
    callback = text.param("StatusCallback")
    assert callback.startswith(f"{settings.public_base_url}/v1/twilio/sms/status?attempt=")
    assert "5550123" not in callback and sim.problems == []
    assert text.callbacks == [("sent", 204), ("undelivered", 204)]
    sms = failed["attempts"][1]
    assert sms["channel"] == "sms" and sms["outcome"] == "failed"
    assert (sms["provider_status"], sms["provider_error"]) == ("undelivered", "30003")
    # The staff step does not wait its four hours for an answer that cannot come: the
    # sweeper hands it over at once, with the test's clock standing where it was (well
    # within the minute it once waited for the sweeper's requeue guard).
    with_staff = until(live, keys, reminder_id, lambda r: r["status"] == "needs_staff", within_s=20)
    assert with_staff["events"][-1]["detail"] == "step 2 (staff): handed to the clinic's staff"

    # A late or repeated callback changes nothing; a forged one is refused.
    params = {"MessageSid": text.sid, "MessageStatus": "delivered", "AccountSid": sim.account_sid}
    signature = sim.validator.compute_signature(callback, params)
    late = live.post(callback, data=params, headers={"X-Twilio-Signature": signature})
    assert late.status_code == 204
    forged = live.post(callback, data=params | {"MessageStatus": "failed"})
    assert forged.status_code == 403
    final = read(live, keys, reminder_id)
    assert final["attempts"][1]["provider_status"] == "undelivered"
    assert final["status"] == "needs_staff"


def test_a_delivered_text_is_recorded_and_the_next_step_keeps_its_wait(
    live: LiveServer, keys: Keys, sim: TwilioSimulator, clock: OffsetClock
) -> None:
    sim.scenario_for(PATIENT, Scenario(answer="no-answer"))
    policy = {
        "steps": [{"channel": "sms", "wait_minutes": 30}, {"channel": "staff", "wait_minutes": 240}]
    }
    reminder_id = create(live, keys, policy)
    until(live, keys, reminder_id, has_event("step 1 (sms) after"))
    skip_to(clock, next_step_at(reminder_id))
    texted_at = clock.now()
    until(live, keys, reminder_id, has_event("step 2 (staff) after"))
    sim.wait_idle()
    delivered = until(
        live, keys, reminder_id, lambda r: r["attempts"][1]["provider_status"] == "delivered"
    )
    assert delivered["attempts"][1]["outcome"] == "delivered"
    assert next_step_at(reminder_id) - texted_at >= timedelta(minutes=240)


def test_a_follow_up_texted_after_a_missed_call_is_answered_on_its_page(
    live: LiveServer, keys: Keys, sim: TwilioSimulator, clock: OffsetClock
) -> None:
    """The text's link opened is the text delivered, whatever the carrier says (many
    never say): its page takes the answer while the loop waits for the staff step."""
    sim.scenario_for(PATIENT, Scenario(answer="no-answer"))
    policy = {
        "steps": [{"channel": "sms", "wait_minutes": 30}, {"channel": "staff", "wait_minutes": 240}]
    }
    body = reminder_body(kind="follow_up", escalation=policy, follow_up={"question": "resolved"})
    del body["appointment"]
    reminder_id = post(live, keys, body)
    until(live, keys, reminder_id, has_event("step 1 (sms) after"))
    skip_to(clock, next_step_at(reminder_id))
    until(live, keys, reminder_id, has_event("step 2 (staff) after"))
    (text,) = sim.texts_to(PATIENT)
    link = next(word for word in text.param("Body").split() if "/listen/" in word)

    page = live.get(link)
    assert page.status_code == 200
    assert read(live, keys, reminder_id)["status"] == "dispatching"  # no delivery report yet
    assert re.findall(r'name="key" value="(\d)"', page.text) == ["1", "2"]
    answered = live.post(f"{link}/answer", data={"key": "1"})
    assert answered.status_code == 303
    assert "Thank you. Your answer is saved." in live.get(link).text

    done = read(live, keys, reminder_id)
    assert done["status"] == "confirmed"
    assert done["follow_up"]["answer"] == "yes" and not done["follow_up"]["needs_staff"]
    assert [(e["status"], e["step"]) for e in done["events"][-2:]] == [
        ("delivered", 1),
        ("confirmed", 1),
    ]
    skip_to(clock, clock.now() + timedelta(hours=5))  # past the staff step's time
    assert nothing_due(reminder_id)
    assert len(sim.calls_to(PATIENT)) == 1 and len(sim.texts_to(PATIENT)) == 1
    assert read(live, keys, reminder_id)["status"] == "confirmed"
