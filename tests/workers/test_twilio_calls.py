"""Phone calls end to end: a real RQ worker, the app on uvicorn, the Twilio simulator.

The simulator checks every request against Twilio's API description, fetches our TwiML
and audio, presses keys and sends signed callbacks; these tests assert what the clinic
would see on the reminder and what the patient's phone went through.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update
from twilio.request_validator import RequestValidator

from devtools.twilio_sim import Scenario, SimCall, TwilioSimulator
from service.app import create_app
from service.call_policy import NeverCallList, legacy_phone_hash
from service.config import Settings
from service.db import Database, utcnow
from service.models import Attempt, OptOut, Reminder, Status
from tests.support.api import Keys, LiveServer, reminder_body
from tests.support.phone import (
    FROM_NUMBER,
    create,
    phone_env,
    phone_settings,
    reminder,
    run_phone_worker,
    settled,
)
from tests.support.proxy import PrefixStrippingProxy
from tests.support.serving import serving
from tests.support.waiting import wait_for
from tests.support.workers import run_burst_worker

pytestmark = [pytest.mark.redis]

PATIENT = "+13125550123"
RETRY_BACKOFF_S = 3600.0
"""Long, as in service: the tests skip the wait (``skip_waits``) instead of sleeping it."""


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings], redis_url: str, sim: TwilioSimulator
) -> Settings:
    return phone_settings(
        make_settings,
        redis_url,
        sim,
        calls_per_day=3,
        call_retry_backoff_s=RETRY_BACKOFF_S,
        lease_s=2,
        requeue_after_s=0,
    )


def test_person_confirms(
    live_server: LiveServer, keys: Keys, settings: Settings, sim: TwilioSimulator
) -> None:
    sim.scenario_for(PATIENT, Scenario(answer="human", keys=["9", "1"]))
    reminder_id = create(live_server, keys)
    run_phone_worker(settings)
    done = settled(live_server, keys, reminder_id, "confirmed")
    sim.wait_idle()
    assert sim.problems == []
    (call,) = sim.calls_to(PATIENT)
    assert call.param("MachineDetection") == "DetectMessageEnd"
    assert call.param("From") == FROM_NUMBER
    for url in (call.param("Url"), call.param("StatusCallback")):
        assert "5550123" not in url and "María" not in url
    assert call.pressed == ["9", "1"]
    # message + menu end, "again" + message + menu end, then the confirmation phrase
    assert len(call.played) == 6
    signed_audio = [url.rsplit(".", 2)[0] for url in call.played]  # without time and MAC
    assert signed_audio[1] == signed_audio[4] and signed_audio[0] != signed_audio[1]
    statuses = [e["status"] for e in done["events"]]
    assert statuses[-2:] == ["delivered", "confirmed"]
    (attempt,) = done["attempts"]
    assert attempt["answered_by"] == "human" and attempt["digits"] == "91"
    wait_for(lambda: reminder(live_server, keys, reminder_id)["attempts"][0]["duration_s"])


def test_a_call_rendered_on_another_node_plays_from_the_database_store(
    make_settings: Callable[..., Settings],
    redis_url: str,
    sim: TwilioSimulator,
    keys: Keys,
    tmp_path: Path,
) -> None:
    """The worker has its own data directory: Twilio hears the message and the keypad
    replies (spoken by the API while the callback's changes are still uncommitted) only
    through the audio store."""
    settings = phone_settings(make_settings, redis_url, sim, audio_store="database")
    worker = settings.model_copy(update={"data_dir": tmp_path / "worker-node"})
    sim.scenario_for(PATIENT, Scenario(answer="human", keys=["9", "1"]))
    port = int(settings.public_base_url.rsplit(":", 1)[1])
    with serving(create_app(settings), port) as live:
        reminder_id = create(live, keys)
        run_burst_worker(worker, phone_env(worker) | {"TELLWELL_AUDIO_STORE": "database"})
        settled(live, keys, reminder_id, "confirmed")
        sim.wait_idle()
    assert sim.problems == []  # every <Play> fetched answered audio
    (call,) = sim.calls_to(PATIENT)
    assert len(call.played) == 6


def test_a_path_prefixed_public_url_keeps_its_prefix_through_the_whole_call(
    keys: Keys, settings: Settings, sim: TwilioSimulator
) -> None:
    """Behind a proxy that serves us under /tw and strips it, every URL Twilio is given
    (TwiML, status callback, audio, the keypad's Gather action) keeps the prefix, and every
    callback's signature, made by Twilio's own scheme over the URL it called, checks out."""
    behind_proxy = settings.model_copy(update={"public_base_url": settings.public_base_url + "/tw"})
    port = int(settings.public_base_url.rsplit(":", 1)[1])
    sim.scenario_for(PATIENT, Scenario(answer="human", keys=["1"]))
    proxy = PrefixStrippingProxy(create_app(behind_proxy), "/tw")
    with serving(proxy, port) as server:
        public = LiveServer(url=behind_proxy.public_base_url)
        reminder_id = create(public, keys)
        run_phone_worker(behind_proxy)
        done = settled(public, keys, reminder_id, "confirmed")
        sim.wait_idle()
    assert server.url + "/tw" == behind_proxy.public_base_url
    (call,) = sim.calls_to(PATIENT)
    assert sim.problems == [] and call.pressed == ["1"]
    given = [call.param("Url"), call.param("StatusCallback"), *call.played]
    assert given and all(url.startswith(behind_proxy.public_base_url + "/v1/") for url in given)
    assert done["attempts"][0]["digits"] == "1"


def test_cancel_request_and_duplicate_out_of_order_callbacks(
    live_server: LiveServer, keys: Keys, settings: Settings, sim: TwilioSimulator
) -> None:
    sim.scenario_for(PATIENT, Scenario(keys=["2"], duplicate_callbacks=True))
    reminder_id = create(live_server, keys)
    run_phone_worker(settings)
    settled(live_server, keys, reminder_id, "cancel_requested")
    sim.wait_idle()
    assert sim.problems == []
    (call,) = sim.calls_to(PATIENT)
    assert [c for c in call.callbacks if c[1] != 204] == []
    assert call.callbacks[-3:] == [("completed", 204), ("completed", 204), ("ringing", 204)]
    final = reminder(live_server, keys, reminder_id)
    assert final["status"] == "cancel_requested"
    statuses = [e["status"] for e in final["events"]]
    assert statuses.count("cancel_requested") == 1 and statuses.count("delivered") == 1


def test_machine_gets_voicemail_variant(
    live_server: LiveServer, keys: Keys, settings: Settings, sim: TwilioSimulator
) -> None:
    sim.scenario_for(PATIENT, Scenario(answer="machine"))
    reminder_id = create(live_server, keys)
    run_phone_worker(settings)
    done = settled(live_server, keys, reminder_id)
    sim.wait_idle()
    assert done["status"] == "voicemail" and sim.problems == []
    (call,) = sim.calls_to(PATIENT)
    assert len(call.played) == 1 and call.pressed == []
    assert done["attempts"][0]["answered_by"] == "machine_end_beep"


def test_no_answer_then_busy_then_person_within_limits(
    live_server: LiveServer, keys: Keys, settings: Settings, sim: TwilioSimulator
) -> None:
    sim.scenario_for(
        PATIENT, Scenario(answer="no-answer"), Scenario(answer="busy"), Scenario(keys=["1"])
    )
    reminder_id = create(live_server, keys)
    run_phone_worker(settings)
    for tries in (1, 2, 3):
        wait_for(
            lambda n=tries: len(sim.calls_to(PATIENT)) == n and sim.calls_to(PATIENT)[-1].callbacks
        )  # type: ignore[misc]
        sim.wait_idle()
        if tries < 3:
            (wait,) = skip_waits(settings)
            assert RETRY_BACKOFF_S - 60 < wait.total_seconds() <= RETRY_BACKOFF_S
            run_phone_worker(settings)
    done = settled(live_server, keys, reminder_id, "confirmed")
    outcomes = [a["outcome"] for a in done["attempts"]]
    assert outcomes == ["no-answer", "busy", "confirmed"]
    assert sim.problems == []


def test_busy_every_time_ends_failed_at_the_weekly_limit(
    live_server: LiveServer, keys: Keys, settings: Settings, sim: TwilioSimulator
) -> None:
    sim.scenario_for(PATIENT, Scenario(answer="busy"))
    reminder_id = create(live_server, keys)
    for _ in range(settings.calls_per_week + 1):
        run_phone_worker(settings)
        wait_for(lambda: all(c.callbacks for c in sim.calls_to(PATIENT)))
        sim.wait_idle()
        skip_waits(settings)
    done = settled(live_server, keys, reminder_id, "failed")
    assert len(sim.calls_to(PATIENT)) == settings.calls_per_week == 3
    assert [a["outcome"] for a in done["attempts"]] == ["busy"] * 3
    assert "no more calls allowed" in done["events"][-1]["detail"]


def test_429_storm_is_waited_out(
    live_server: LiveServer, keys: Keys, settings: Settings, sim: TwilioSimulator
) -> None:
    sim.scenario_for(PATIENT, Scenario(keys=["1"]))
    sim.throttle_next, sim.retry_after_s = 3, 1
    started = time.monotonic()
    reminder_id = create(live_server, keys)
    run_phone_worker(settings)
    settled(live_server, keys, reminder_id, "confirmed")
    assert time.monotonic() - started >= 3  # three Retry-After: 1 honoured
    assert len(sim.calls_to(PATIENT)) == 1 and sim.problems == []


def test_forged_callback_is_refused_and_changes_nothing(
    live_server: LiveServer, keys: Keys, settings: Settings, sim: TwilioSimulator
) -> None:
    sim.place_calls = False
    reminder_id = create(live_server, keys)
    run_phone_worker(settings)
    (call,) = wait_for(lambda: sim.calls_to(PATIENT))
    before = reminder(live_server, keys, reminder_id)
    url = call.param("StatusCallback")
    params = {"CallSid": call.sid, "CallStatus": "completed", "AnsweredBy": "human"}
    forged = RequestValidator("not-the-token").compute_signature(url, params)
    for headers in ({"X-Twilio-Signature": forged}, {}):
        answer = live_server.post(url, data=params, headers=headers)
        assert answer.status_code == 403
    gather = call.param("Url").replace("/voice", "/gather")
    assert live_server.post(gather, data={"Digits": "1"}).status_code == 403
    after = reminder(live_server, keys, reminder_id)
    assert after["status"] == before["status"] == "dispatching"
    assert after["events"] == before["events"] and after["attempts"] == before["attempts"]


def test_opt_out_by_keypad_is_lifted_only_by_an_admin_with_a_reason(
    live_server: LiveServer, keys: Keys, settings: Settings, sim: TwilioSimulator
) -> None:
    sim.scenario_for(PATIENT, Scenario(keys=["8"]))
    first = create(live_server, keys)
    run_phone_worker(settings)
    settled(live_server, keys, first, "delivered")
    sim.wait_idle()
    second = create(live_server, keys, external_id="appt-2")
    run_phone_worker(settings)
    done = settled(live_server, keys, second, "failed")
    assert "opted out" in done["events"][-1]["detail"]
    assert len(sim.calls_to(PATIENT)) == 1

    def lift(key: str, **body: str) -> httpx.Response:
        return live_server.delete(
            "/v1/opt-outs",
            json={"phone": PATIENT, **body},
            headers=keys.header(key),
        )

    # The patient's own wish: the scheduler that sends the reminders cannot undo it.
    refused = lift(keys.scheduler, reason="front desk asked")
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    no_reason = lift(keys.admin)
    assert no_reason.status_code == 422
    assert [e["field"] for e in no_reason.json()["errors"]] == ["reason"]
    assert lift(keys.admin, reason="Patient called the clinic to resume calls").status_code == 204
    third = create(live_server, keys, external_id="appt-3")
    run_phone_worker(settings)
    wait_for(lambda: len(sim.calls_to(PATIENT)) == 2)
    sim.wait_idle()
    stop = live_server.post(
        "/v1/opt-outs", json={"phone": "555"}, headers=keys.header(keys.scheduler)
    )
    assert stop.status_code == 422 and "phone" in stop.text
    assert third


def test_an_opt_out_stored_under_the_old_plain_hash_still_blocks_the_call(
    live_server: LiveServer, keys: Keys, settings: Settings, sim: TwilioSimulator
) -> None:
    db = Database(settings.sqlalchemy_url)
    with db.session() as session:  # as a release before the keyed hash wrote it
        session.add(OptOut(phone_hash=legacy_phone_hash(PATIENT), source="keypad"))
    reminder_id = create(live_server, keys)
    run_phone_worker(settings)
    done = settled(live_server, keys, reminder_id, "failed")
    assert "opted out" in done["events"][-1]["detail"]
    assert sim.calls_to(PATIENT) == []
    with db.session() as session:
        stored = session.scalars(select(OptOut.phone_hash)).all()
    db.dispose()
    keyed = NeverCallList.from_settings(settings).phone_hash(PATIENT)
    assert stored == [keyed], "the old row is rewritten to the keyed hash on first match"


KILL_TRIALS = int(os.environ.get("TELLWELL_KILL_TRIALS", "2"))
"""bench/calls.py runs this test with 50 trials for the figure."""
KILL_WAIT_S = 60
"""A worker starts, renders and dials in seconds; this much means it is stuck."""


def test_worker_killed_mid_dial_never_redials(
    live_server: LiveServer, keys: Keys, settings: Settings, sim: TwilioSimulator
) -> None:
    calls = [
        kill_mid_dial_trial(live_server, keys, settings, sim, f"+1312555{2000 + trial:04d}")
        for trial in range(KILL_TRIALS)
    ]
    duplicates = sum(n - 1 for n in calls)
    print(
        f"kill-mid-dial trials={KILL_TRIALS} calls={sum(calls)} duplicates={duplicates} "
        f"(reminders by calls received: {dict(sorted(Counter(calls).items()))})"
    )
    assert calls == [1] * KILL_TRIALS


def skip_waits(settings: Settings) -> list[timedelta]:
    """Bring every dispatching reminder's lease to the past, as if its wait (a retry's
    backoff, a dead worker's lease) had gone by; returns how long each had left."""
    db = Database.from_settings(settings)
    now = utcnow()
    try:
        with db.session() as session:
            leases = session.execute(
                select(Reminder.id, Reminder.lease_until).where(
                    Reminder.status == Status.DISPATCHING
                )
            ).all()
            session.execute(
                update(Reminder)
                .where(Reminder.id.in_([row.id for row in leases]))
                .values(lease_until=now - timedelta(seconds=1))
            )
    finally:
        db.dispose()
    return [row.lease_until - now for row in leases]


def call_id_recorded(settings: Settings, attempt_id: str) -> str | None:
    db = Database.from_settings(settings)
    try:
        with db.session() as session:
            return session.get_one(Attempt, attempt_id).provider_ref
    finally:
        db.dispose()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, read from /proc (children before their own children)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found.extend(below)
        todo.extend(below)
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL a worker and everything it started, as a machine losing power would.

    Everything, not just the process group: a forking RQ worker puts each work-horse, the
    process placing the call, in a process group of its own.
    """
    for victim in [*descendants(pid), pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


def kill_mid_dial_trial(
    live: LiveServer, keys: Keys, settings: Settings, sim: TwilioSimulator, number: str
) -> int:
    """Kill the worker after Twilio placed the call, before it saved it; count the calls.

    The call stays queued at Twilio until the next worker has recovered, so no callback can
    tell us the call's id first: the recovery must find the call by looking it up.
    """
    queued = threading.Event()
    sim.scenario_for(number, Scenario(keys=["1"], hold=queued))
    worker = subprocess.Popen(
        [sys.executable, "-m", "service", "worker"],
        env=phone_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    killed: list[str] = []

    def kill(call: SimCall) -> None:
        # Runs inside the create request: the worker is still waiting for Twilio's answer.
        kill_tree(worker.pid)
        killed.append(call.sid)

    sim.on_create = kill
    try:
        reminder_id = create(live, keys, patient=reminder_body()["patient"] | {"phone": number})
        worker.wait(timeout=KILL_WAIT_S)
    finally:
        sim.on_create = None
        kill_tree(worker.pid)  # never leave a worker behind, even when the trial fails
        worker.wait()
    assert killed and worker.returncode == -signal.SIGKILL
    try:
        skip_waits(settings)  # the killed worker's lease
        run_phone_worker(settings)
        (attempt,) = reminder(live, keys, reminder_id)["attempts"]
        assert call_id_recorded(settings, attempt["id"]) == killed[0]
    finally:
        queued.set()
    settled(live, keys, reminder_id, "confirmed")
    sim.wait_idle()
    return len(sim.calls_to(number))
