"""Phone calls in tests: the Twilio simulator's account, the settings and worker that call
through it, and reminders posted and read back over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devtools.ports import free_port
from devtools.twilio_sim import TwilioSimulator
from service.config import Settings
from tests.support.api import Keys, LiveServer, reminder_body
from tests.support.waiting import wait_for
from tests.support.workers import run_burst_worker, worker_env

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "sim-auth-token"
FROM_NUMBER = "+13125550199"
FINAL = {"delivered", "voicemail", "confirmed", "cancel_requested", "failed"}


def phone_settings(
    make_settings: Callable[..., Settings], redis_url: str, sim: TwilioSimulator, **more: Any
) -> Settings:
    """Settings that place calls through ``sim``, with callbacks to a loopback port."""
    return make_settings(
        redis_url=redis_url,
        public_base_url=f"http://127.0.0.1:{free_port()}",
        channel="twilio",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from_number=FROM_NUMBER,
        twilio_api_base=sim.url,
        twilio_calls_per_second=0,
        **more,
    )


def phone_env(settings: Settings) -> dict[str, str]:
    """What a ``tellwell worker`` needs to call through the simulator."""
    return worker_env(settings) | {
        "TELLWELL_CHANNEL": "twilio",
        "TELLWELL_TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
        "TELLWELL_TWILIO_AUTH_TOKEN": settings.twilio_auth_token.get_secret_value(),
        "TELLWELL_TWILIO_FROM_NUMBER": settings.twilio_from_number,
        "TELLWELL_TWILIO_API_BASE": settings.twilio_api_base,
        "TELLWELL_TWILIO_CALLS_PER_SECOND": str(settings.twilio_calls_per_second),
        "TELLWELL_CALLS_PER_DAY": str(settings.calls_per_day),
        "TELLWELL_CALL_RETRY_BACKOFF_S": str(settings.call_retry_backoff_s),
        "TELLWELL_LEASE_S": str(settings.lease_s),
        "TELLWELL_REQUEUE_AFTER_S": str(settings.requeue_after_s),
    }


def run_phone_worker(settings: Settings) -> None:
    run_burst_worker(settings, phone_env(settings))


def create(live: LiveServer, keys: Keys, **changes: Any) -> str:
    answer = live.post(
        "/v1/reminders",
        json=reminder_body(**changes),
        headers=keys.header(keys.scheduler),
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def reminder(live: LiveServer, keys: Keys, reminder_id: str) -> dict[str, Any]:
    answer = live.get(
        f"/v1/reminders/{reminder_id}",
        headers=keys.header(keys.staff),
    )
    return dict(answer.json())


def settled(live: LiveServer, keys: Keys, reminder_id: str, *statuses: str) -> dict[str, Any]:
    wanted = set(statuses) or FINAL
    return dict(
        wait_for(lambda: (r := reminder(live, keys, reminder_id))["status"] in wanted and r)
    )
