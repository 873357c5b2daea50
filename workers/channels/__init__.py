"""Delivery channels behind one protocol, chosen by configuration."""

from __future__ import annotations

import redis

from service.call_policy import NeverCallList
from service.config import Settings
from service.db import Database
from service.links import Links
from workers.channels.app import AppChannel
from workers.channels.base import PENDING, Channel, Delivery, Outcome
from workers.channels.outbox import OutboxChannel
from workers.errors import UnknownChannel
from workers.pacing import Pacer
from workers.webhooks import WebhookSender

PACE_KEY = "tellwell:twilio:pace"

__all__ = [
    "PENDING",
    "AppChannel",
    "Channel",
    "Delivery",
    "OutboxChannel",
    "Outcome",
    "channels_from_settings",
]


def channels_from_settings(
    settings: Settings, db: Database, links: Links, never_call: NeverCallList
) -> dict[str, Channel]:
    """The channel serving each reminder channel (``phone``, ``app``) and escalation step
    (``sms``)."""
    outbox = OutboxChannel(settings.outbox_dir)
    channels: dict[str, Channel] = {
        "phone": outbox,
        "app": outbox,
        "sms": OutboxChannel(settings.outbox_dir, name="sms"),
    }
    if settings.channel == "twilio":
        from workers.channels.twilio import TwilioChannel
        from workers.channels.twilio_sms import TwilioSmsChannel

        connection = redis.Redis.from_url(settings.redis_url) if settings.redis_url else None
        pacer = Pacer(settings.twilio_calls_per_second, connection, PACE_KEY)
        channels["phone"] = TwilioChannel(settings, db, pacer, links, never_call)
        channels["sms"] = TwilioSmsChannel(settings, db, links, never_call)
    elif settings.channel != "outbox":
        raise UnknownChannel(
            f"unknown TELLWELL_CHANNEL {settings.channel!r}; known: outbox, twilio"
        )
    if settings.app_webhook_url:
        channels["app"] = app_channel(settings, links)
    return channels


def app_channel(settings: Settings, links: Links) -> AppChannel:
    """The app backend named by ``TELLWELL_APP_WEBHOOK_URL``, with its own signing secret."""
    sender = WebhookSender(
        settings.app_webhook_secret.get_secret_value(),
        settings.webhook_timeout_s,
        allow_private=settings.webhook_allow_private_targets,
    )
    return AppChannel(settings.app_webhook_url, sender, links)
