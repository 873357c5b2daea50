"""Status webhooks to a scheduler's callback_url, received by a real server on loopback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.app import create_app
from service.config import Settings
from service.db import Database
from service.models import WebhookDelivery
from tests.support.api import TIMESTAMP, Keys, reminder_body
from tests.support.waiting import wait_for
from tests.support.webhook_receiver import SECRET, Receiver

DELIVERED_PATH = ["rendering", "ready", "dispatching", "delivered"]


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        client_webhook_secret=SECRET,
        webhook_allow_private_targets=True,
        webhook_retry_base_s=0.1,
        webhook_timeout_s=1.0,
    )


def post(client: TestClient, keys: Keys, receiver: Receiver, **changes: Any) -> str:
    body = reminder_body(callback_url=receiver.url, **changes)
    created = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
    assert created.status_code == 202, created.text
    return str(created.json()["id"])


def statuses(receiver: Receiver, count: int) -> list[str]:
    accepted = wait_for(lambda: len(got := receiver.accepted()) >= count and got)
    return [r.payload["data"]["status"] for r in accepted]


def stored(settings: Settings) -> list[WebhookDelivery]:
    db = Database.from_settings(settings)
    with db.session() as session:
        rows = list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
        session.expunge_all()
    db.dispose()
    return rows


def all_done(rows: list[WebhookDelivery], count: int = 1) -> list[WebhookDelivery] | None:
    return rows if len(rows) >= count and all(r.done_at for r in rows) else None


def test_every_status_change_arrives_signed_and_in_order(
    client: TestClient, keys: Keys, receiver: Receiver
) -> None:
    reminder_id = post(client, keys, receiver)
    assert statuses(receiver, 4) == DELIVERED_PATH
    for request in receiver.accepted():
        assert request.valid
        assert request.payload["type"] == f"reminder.{request.payload['data']['status']}"
        assert request.payload["data"]["id"] == reminder_id
        assert request.payload["data"]["external_id"] == "appt-88123"
        for moment in (request.payload["timestamp"], request.payload["data"]["at"]):
            assert TIMESTAMP.fullmatch(moment), moment
        assert "María" not in str(request.payload) and "+1312" not in str(request.payload)
    reminder = client.get(f"/v1/reminders/{reminder_id}", headers=keys.header(keys.staff)).json()
    assert [e["status"] for e in reminder["events"]][1:] == DELIVERED_PATH


def test_failed_webhooks_are_retried_with_the_same_id_and_keep_their_order(
    client: TestClient, keys: Keys, receiver: Receiver, settings: Settings
) -> None:
    receiver.fail_next = 3
    receiver.stall_next, receiver.stall_s = 1, 2.0
    post(client, keys, receiver)
    assert statuses(receiver, 4) == DELIVERED_PATH
    first_id = receiver.requests[0].message_id
    assert [r.message_id for r in receiver.requests[:5]] == [first_id] * 5
    assert all(r.valid for r in receiver.requests)
    rows = wait_for(lambda: all_done(stored(settings)))
    assert [r.outcome for r in rows] == ["delivered"] * 4
    assert rows[0].attempts == 5 and rows[0].last_error is None


def test_a_webhook_that_keeps_failing_is_given_up_and_the_next_ones_still_go(
    make_settings: Callable[..., Settings], keys: Keys, receiver: Receiver
) -> None:
    settings = make_settings(
        client_webhook_secret=SECRET,
        webhook_allow_private_targets=True,
        webhook_retry_base_s=0.05,
        webhook_max_attempts=2,
    )
    receiver.fail_next = 2
    with TestClient(create_app(settings)) as client:
        post(client, keys, receiver)
        assert statuses(receiver, 3) == DELIVERED_PATH[1:]
    rows = stored(settings)
    assert rows[0].outcome == "abandoned" and rows[0].attempts == 2
    assert rows[0].last_error == "HTTP 500"


def test_a_cancelled_reminder_reports_its_cancellation(
    client: TestClient, keys: Keys, receiver: Receiver
) -> None:
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    reminder_id = post(client, keys, receiver, send_at=later)
    deleted = client.delete(f"/v1/reminders/{reminder_id}", headers=keys.header(keys.scheduler))
    assert deleted.status_code == 200
    assert statuses(receiver, 1) == ["cancelled"]


def test_webhooks_wait_in_the_database_until_a_process_can_send_them(
    make_settings: Callable[..., Settings], keys: Keys, receiver: Receiver
) -> None:
    # First process: no signing secret yet, so nothing can be sent; the changes are kept.
    unsigned = make_settings(webhook_allow_private_targets=True)
    with TestClient(create_app(unsigned)) as client:
        reminder_id = post(client, keys, receiver)
        wait_for(lambda: len(stored(unsigned)) == 4)
    assert receiver.requests == []
    # A later process that can sign delivers all of them, in order.
    signing = make_settings(client_webhook_secret=SECRET, webhook_allow_private_targets=True)
    with TestClient(create_app(signing)):
        assert statuses(receiver, 4) == DELIVERED_PATH
    assert {r.payload["data"]["id"] for r in receiver.accepted()} == {reminder_id}


def test_a_callback_to_a_private_address_is_refused_at_creation(
    make_settings: Callable[..., Settings], keys: Keys, receiver: Receiver
) -> None:
    settings = make_settings(client_webhook_secret=SECRET)  # private targets not allowed
    with TestClient(create_app(settings)) as client:
        body = reminder_body(callback_url=receiver.url)
        refused = client.post("/v1/reminders", json=body, headers=keys.header(keys.scheduler))
        # A name that does not resolve here is accepted: the scheduler's DNS may differ.
        elsewhere = reminder_body(callback_url="https://scheduler.example.invalid/hooks")
        accepted = client.post("/v1/reminders", json=elsewhere, headers=keys.header(keys.scheduler))
    assert refused.status_code == 422
    (error,) = refused.json()["errors"]
    assert error["field"] == "callback_url" and "non-public address" in error["message"]
    assert accepted.status_code == 202
    assert receiver.requests == []


def test_a_callback_that_turns_private_later_is_refused_without_traffic(
    make_settings: Callable[..., Settings], keys: Keys, receiver: Receiver
) -> None:
    accepting = make_settings(webhook_allow_private_targets=True)  # no secret: nothing sent
    with TestClient(create_app(accepting)) as client:
        post(client, keys, receiver)
        wait_for(lambda: len(stored(accepting)) == 4)
    # The process that sends checks the target again, as for a name now pointing inward.
    settings = make_settings(client_webhook_secret=SECRET)
    with TestClient(create_app(settings)):
        rows = wait_for(lambda: all_done(stored(settings), count=4))
    assert {r.outcome for r in rows} == {"abandoned"}
    assert all(r.last_error and r.last_error.startswith("refused") for r in rows)
    assert receiver.requests == []
