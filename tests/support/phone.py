"""Phone calls in tests: the Twilio simulator's account and the settings that call through it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devtools.ports import free_port
from devtools.twilio_sim import TwilioSimulator
from service.config import Settings

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "sim-auth-token"
FROM_NUMBER = "+13125550199"


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
