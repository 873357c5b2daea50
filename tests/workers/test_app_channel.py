"""The app channel against a real webhook receiver on loopback: signed, retried, guarded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydub import AudioSegment

from service.app import create_app
from service.call_policy import NeverCallList
from service.config import Settings
from service.db import Database
from service.links import Links
from service.webhook_targets import TargetRefused, check_target
from tests.support.api import TIMESTAMP, Keys, reminder_body
from tests.support.clock import OffsetClock
from tests.support.waiting import wait_for
from tests.support.webhook_receiver import SECRET, Receiver
from workers.channels import channels_from_settings
from workers.webhooks import WebhookSender

AUDIO_LINK_TTL_S = 3600
SEND_TIMEOUT_S = 1.0


@pytest.fixture
def settings(make_settings: Callable[..., Settings], receiver: Receiver) -> Settings:
    return make_settings(
        app_webhook_url=receiver.url,
        app_webhook_secret=SECRET,
        webhook_allow_private_targets=True,
        webhook_timeout_s=SEND_TIMEOUT_S,
        audio_link_ttl_s=AUDIO_LINK_TTL_S,
    )


def app_reminder() -> dict[str, Any]:
    body = reminder_body(channel="app")
    body["patient"] = body["patient"] | {"phone": None, "app_recipient_id": "app-user-7"}
    return body


def post_and_wait(client: TestClient, keys: Keys, status: str = "delivered") -> dict[str, Any]:
    created = client.post("/v1/reminders", json=app_reminder(), headers=keys.header(keys.scheduler))
    assert created.status_code == 202, created.text
    url = f"/v1/reminders/{created.json()['id']}"
    return wait_for(
        lambda: (
            (r := client.get(url, headers=keys.header(keys.staff)).json())["status"] == status and r
        )
    )


def test_app_delivery_is_signed_and_its_audio_link_plays_then_expires(
    client: TestClient, keys: Keys, settings: Settings, receiver: Receiver, clock: OffsetClock
) -> None:
    reminder = post_and_wait(client, keys)
    (request,) = receiver.requests
    assert request.valid and request.answered == 204
    (attempt,) = reminder["attempts"]
    assert request.message_id == f"msg_{attempt['id']}"
    data = request.payload["data"]
    assert request.payload["type"] == "message.ready"
    for moment in (request.payload["timestamp"], data["audio"]["expires_at"]):
        assert TIMESTAMP.fullmatch(moment), moment
    assert data["reminder_id"] == reminder["id"] and data["recipient_id"] == "app-user-7"
    assert data["language"] == "es"
    assert data["transcript"] == reminder["message"]["text"] and "María" in data["transcript"]
    assert reminder["message"]["variant"] == "app"

    audio_path = data["audio"]["url"].removeprefix(settings.public_base_url)
    audio = client.get(audio_path)
    assert audio.status_code == 200 and audio.headers["content-type"] == data["audio"]["media_type"]
    fetched = settings.data_dir / "fetched-app-audio"
    fetched.write_bytes(audio.content)
    assert abs(AudioSegment.from_file(fetched).duration_seconds - data["audio"]["duration_s"]) < 0.5

    listen = client.get(data["listen_url"].removeprefix(settings.public_base_url))
    assert listen.status_code == 200 and 'lang="es"' in listen.text
    assert "cita" in listen.text.lower()

    clock.skip(AUDIO_LINK_TTL_S + 1)
    assert client.get(audio_path).status_code == 403
    expired_page = client.get(data["listen_url"].removeprefix(settings.public_base_url))
    assert expired_page.status_code == 403 and "expired" in expired_page.text


def test_a_timeout_and_a_500_are_retried_under_the_same_webhook_id(
    client: TestClient, keys: Keys, receiver: Receiver
) -> None:
    receiver.stall_next, receiver.stall_s = 1, SEND_TIMEOUT_S + 1.5
    receiver.fail_next = 1
    reminder = post_and_wait(client, keys)
    assert len(receiver.requests) == 3
    assert {r.message_id for r in receiver.requests} == {f"msg_{reminder['attempts'][0]['id']}"}
    assert all(r.valid for r in receiver.requests)
    assert len({r.timestamp for r in receiver.requests}) >= 2, "each try is signed afresh"
    assert len(receiver.accepted()) == 1 and len(reminder["attempts"]) == 1


def test_a_dispatch_retried_after_the_backend_was_down_resends_the_same_webhook_id(
    make_settings: Callable[..., Settings], keys: Keys, receiver: Receiver
) -> None:
    settings = make_settings(
        app_webhook_url=receiver.url,
        app_webhook_secret=SECRET,
        webhook_allow_private_targets=True,
        lease_s=2.0,
        requeue_after_s=1.0,
    )
    receiver.fail_next = 4  # every try of the first dispatch fails; the sweeper retries later
    with TestClient(create_app(settings)) as client:
        reminder = post_and_wait(client, keys)
    assert len(receiver.requests) >= 5
    (attempt,) = reminder["attempts"]
    assert {r.message_id for r in receiver.requests} == {f"msg_{attempt['id']}"}
    assert len(receiver.accepted()) == 1
    assert [e["status"] for e in reminder["events"]][-2:] == ["dispatching", "delivered"]


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:9/hooks",
        "http://localhost/hooks",
        "http://[::1]/hooks",
        "http://[::ffff:10.0.0.1]/hooks",
        "http://192.168.1.20/hooks",
        "http://100.64.0.1/hooks",
        "file:///etc/passwd",
        "ftp://93.184.216.34/hooks",
    ],
)
def test_private_and_non_http_targets_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused):
        check_target(url, allow_private=False)


def test_a_public_address_is_accepted_by_the_check() -> None:
    # Only checked, never contacted: no traffic leaves loopback in the tests.
    check_target("https://93.184.216.34/hooks", allow_private=False)


def test_a_refused_target_gets_no_traffic(receiver: Receiver) -> None:
    sender = WebhookSender(SECRET, SEND_TIMEOUT_S, allow_private=False)
    with pytest.raises(TargetRefused):
        sender.post(receiver.url, "msg_x", {"type": "test"})
    sender.close()
    assert receiver.requests == []


def test_an_app_backend_on_a_private_address_is_refused_at_start_up(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        app_webhook_url="http://169.254.169.254/hooks", app_webhook_secret=SECRET
    )
    db = Database(settings.sqlalchemy_url)
    with pytest.raises(TargetRefused):
        links = Links(settings.public_base_url, settings.signing_key(), settings.audio_link_ttl_s)
        channels_from_settings(settings, db, links, NeverCallList.from_settings(settings))
    db.dispose()
