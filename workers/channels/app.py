"""The app channel: the message goes to the patient's app backend as a signed webhook.

The body carries the reminder id, the app's recipient id, the language, the transcript, a
signed audio link that expires, and a link to the accessible listen page; never a name or
phone number beyond what the transcript says. The ``webhook-id`` is made from the attempt
id, so every retry of an attempt, including the one after a worker died mid-send, carries
the same id and the app backend shows the message once.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from service.clock import timestamp
from service.db import utcnow
from service.links import Links
from service.metrics import WEBHOOK_FAILURES
from service.models import Status
from service.webhook_targets import TargetRefused, TargetUnresolved, check_target
from workers.channels.base import Delivery, Outcome
from workers.errors import ChannelUnavailable, WebhookError
from workers.webhooks import WebhookSender

APP_SEND_TRIES = 4
"""Tries within one dispatch; after that the dispatch lapses and the sweeper retries it."""
APP_RETRY_BASE_S = 0.5
MESSAGE_TYPE = "message.ready"


def webhook_id(attempt_id: str) -> str:
    return f"msg_{attempt_id}"


class AppChannel:
    name = "app"

    def __init__(
        self,
        url: str,
        sender: WebhookSender,
        links: Links,
    ) -> None:
        # A misconfigured backend fails at start-up, not on the first patient; a name that
        # does not resolve yet may later (every send checks again).
        with contextlib.suppress(TargetUnresolved):
            check_target(url, allow_private=sender.allow_private, resolve=sender.resolve)
        self.url = url
        self.sender = sender
        self.links = links

    def payload(self, delivery: Delivery) -> dict[str, object]:
        now = utcnow()
        expires_at = now + timedelta(seconds=self.links.ttl_s)
        return {
            "type": MESSAGE_TYPE,
            "timestamp": timestamp(now),
            "data": {
                "reminder_id": delivery.reminder_id,
                "recipient_id": delivery.app_recipient_id,
                "language": delivery.language,
                "transcript": delivery.transcript,
                "audio": {
                    "url": self.links.audio(delivery.audio_key, delivery.audio_format),
                    "media_type": delivery.audio_media_type,
                    "duration_s": delivery.duration_s,
                    "expires_at": timestamp(expires_at),
                },
                "listen_url": self.links.listen(delivery.reminder_id),
            },
        }

    def send(self, delivery: Delivery) -> Outcome:
        message_id = webhook_id(delivery.attempt_id)
        try:
            self.sender.post_with_retries(
                self.url,
                message_id,
                self.payload(delivery),
                tries=APP_SEND_TRIES,
                base_s=APP_RETRY_BASE_S,
            )
        except (WebhookError, TargetRefused) as err:
            WEBHOOK_FAILURES.labels(self.name).inc()
            raise ChannelUnavailable(f"app backend: {err}") from err
        return Outcome(status=Status.DELIVERED, provider_ref=message_id)

    def reconcile(self, attempt_id: str) -> Outcome | None:
        # The backend cannot be asked; sending again under the same webhook-id is safe,
        # because the receiver drops a webhook-id it has seen.
        return None
