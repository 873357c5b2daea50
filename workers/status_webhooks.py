"""Status webhooks to a scheduler's ``callback_url``: claimed by the sweeper, sent by a job.

``service.models.advance`` records a pending ``WebhookDelivery`` with every status change,
in the same transaction, so a change is never lost to a crash. Here the sweeper claims the
deliveries that are due (a lease on ``next_attempt_at``, as reminders have) and queues one
job each; the job makes one signed POST and records what happened. A failure is retried
with doubling, jittered waits until ``webhook_max_attempts``; a worker that dies mid-send
leaves a lapsed lease and the delivery is sent again under the same ``webhook-id``.

Only the oldest undone delivery of each reminder is ever claimed, so a scheduler hears a
reminder's changes in the order they happened, even across retries.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import exists, update
from sqlalchemy.orm import aliased

from service.metrics import WEBHOOK_FAILURES
from service.models import WebhookDelivery
from service.webhook_targets import TargetRefused
from workers.errors import DeliveryFailed
from workers.queue import WEBHOOK_JOB
from workers.webhooks import backoff_s

if TYPE_CHECKING:
    from workers.pipeline import Pipeline

log = logging.getLogger(__name__)

DELIVERED = "delivered"
ABANDONED = "abandoned"
ERROR_MAX_CHARS = 200
STATUS_WEBHOOK = "status"
"""The ``webhook`` label of these webhooks' failures (``tellwell_webhook_failures_total``)."""


def queue_due_webhooks(pipeline: Pipeline, now: datetime | None = None) -> list[str]:
    """Claim each reminder's oldest due webhook and queue a job for it unless one is still
    live; returns the ids queued."""
    if pipeline.webhooks is None:
        return []
    now = now or pipeline.clock.now()
    earlier = aliased(WebhookDelivery)
    is_oldest_undone = ~exists().where(
        earlier.reminder_id == WebhookDelivery.reminder_id,
        earlier.done_at.is_(None),
        earlier.id < WebhookDelivery.id,
    )
    with pipeline.db.session() as session:
        claimed = session.scalars(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.done_at.is_(None),
                WebhookDelivery.next_attempt_at <= now,
                is_oldest_undone,
            )
            .values(next_attempt_at=now + pipeline.lease)
            .returning(WebhookDelivery.id)
            .execution_options(synchronize_session=False)
        ).all()
    ids = [str(delivery_id) for delivery_id in claimed]
    return pipeline.enqueue(WEBHOOK_JOB, *ids) if ids else []


def send_status_webhook(pipeline: Pipeline, delivery_id: int) -> None:
    """One try at one delivery; the outcome is recorded before the next one is queued."""
    sender = pipeline.webhooks
    if sender is None:
        return
    with pipeline.db.session() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.done_at is not None:
            return
        url, message_id, payload = delivery.url, delivery.message_id, delivery.payload
        tries = delivery.attempts + 1
    outcome: str | None = DELIVERED
    error: str | None = None
    try:
        sender.post(url, message_id, payload)
    except TargetRefused as err:
        outcome, error = ABANDONED, f"refused: {err}"
    except DeliveryFailed as err:
        error = str(err)
        outcome = ABANDONED if tries >= pipeline.settings.webhook_max_attempts else None
    if error is not None:
        WEBHOOK_FAILURES.labels(STATUS_WEBHOOK).inc()
    now = pipeline.clock.now()
    retry_at = now + timedelta(seconds=backoff_s(tries, pipeline.settings.webhook_retry_base_s))
    with pipeline.db.session() as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.done_at.is_(None))
            .values(
                attempts=tries,
                last_error=error[:ERROR_MAX_CHARS] if error else None,
                outcome=outcome,
                done_at=now if outcome else None,
                next_attempt_at=now if outcome else retry_at,
            )
            .execution_options(synchronize_session=False)
        )
    if outcome == ABANDONED:
        # The message id and the error kind are not PHI; the URL and payload stay out.
        log.warning("status webhook %s abandoned after %d tries: %s", message_id, tries, error)
    if outcome:
        # The reminder's next webhook may go now, without waiting for the next sweep.
        queue_due_webhooks(pipeline, now)
