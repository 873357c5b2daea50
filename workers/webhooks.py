"""Webhooks we send: signed the Standard Webhooks way, only to targets we have checked.

The app channel and the status webhooks to a scheduler's ``callback_url`` both go through
``WebhookSender``. Every try of one message carries the same ``webhook-id`` (the receiver
drops repeats by it) and a fresh ``webhook-timestamp`` and signature.

A target must resolve to public addresses only (``service.webhook_targets``), checked
before each request, unless private targets are allowed by configuration; the request
then goes to exactly the addresses checked (``workers.pinned_http``), never to a second
resolution of the name. Redirects are not followed, and no proxy from the environment is
used, for the same reason.
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from service.webhook_targets import Resolver, check_target, system_resolver
from workers.errors import DeliveryFailed, WebhookError
from workers.pinned_http import PinnedTransport, pinned

WEBHOOK_RETRY_CAP_S = 3600.0
"""No wait between two tries of one webhook is longer than this."""
JITTER_FRACTION = 0.25
"""Each wait is stretched or shrunk by up to this much, so retries do not arrive in step."""
USER_AGENT = "Tellwell-Webhooks/1"


def backoff_s(failed_tries: int, base_s: float, cap_s: float = WEBHOOK_RETRY_CAP_S) -> float:
    """How long to wait after ``failed_tries`` failures: doubling from ``base_s``, jittered."""
    delay = min(cap_s, base_s * 2 ** max(0, failed_tries - 1))
    return delay * random.uniform(1 - JITTER_FRACTION, 1 + JITTER_FRACTION)  # noqa: S311


def encode(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


class WebhookSender:
    """Signs and POSTs webhook messages with one secret, over one pooled HTTP client."""

    def __init__(
        self,
        secret: str,
        timeout_s: float,
        *,
        allow_private: bool,
        resolve: Resolver = system_resolver,
    ) -> None:
        try:
            self._signer = Webhook(secret)
        except Exception as err:  # binascii.Error, EmptyWebhookSecretError
            raise WebhookError("the webhook secret must be 'whsec_' + base64") from err
        self.allow_private = allow_private
        self.resolve = resolve
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            trust_env=False,
            transport=PinnedTransport(),
        )

    def headers(self, message_id: str, body: str) -> dict[str, str]:
        now = datetime.now(UTC)
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signer.sign(message_id, now, body),
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }

    def post(self, url: str, message_id: str, payload: dict[str, Any]) -> None:
        """One signed POST to the addresses just checked.

        TargetRefused (TargetUnresolved among them) before any traffic; DeliveryFailed if
        the answer is not 2xx.
        """
        target = check_target(url, allow_private=self.allow_private, resolve=self.resolve)
        body = encode(payload)
        try:
            with pinned(target.addresses):
                response = self._client.post(
                    url, content=body.encode(), headers=self.headers(message_id, body)
                )
        except httpx.HTTPError as err:
            raise DeliveryFailed(type(err).__name__) from err
        if not response.is_success:
            raise DeliveryFailed(f"HTTP {response.status_code}")

    def post_with_retries(
        self,
        url: str,
        message_id: str,
        payload: dict[str, Any],
        *,
        tries: int,
        base_s: float,
    ) -> None:
        """Try up to ``tries`` times with backoff; the last failure is raised."""
        for attempt in range(1, tries + 1):
            try:
                self.post(url, message_id, payload)
                return
            except DeliveryFailed:
                if attempt == tries:
                    raise
                time.sleep(backoff_s(attempt, base_s))

    def close(self) -> None:
        self._client.close()
