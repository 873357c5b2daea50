"""Delivery channels behind one protocol, chosen by configuration."""

from __future__ import annotations

import redis

from service.config import Settings
from service.db import Database
from workers.channels.base import (
    PENDING,
    Channel,
    ChannelError,
    ChannelUnavailable,
    Delivery,
    Outcome,
)
from workers.channels.outbox import OutboxChannel
from workers.pacing import Pacer

PACE_KEY = "tellwell:twilio:pace"

__all__ = [
    "PENDING",
    "Channel",
    "ChannelError",
    "ChannelUnavailable",
    "Delivery",
    "OutboxChannel",
    "Outcome",
    "channels_from_settings",
]


class UnknownChannel(ValueError):
    """The configured channel name matches no channel."""


def channels_from_settings(settings: Settings, db: Database) -> dict[str, Channel]:
    """The channel serving each reminder channel (``phone``, ``app``)."""
    outbox = OutboxChannel(settings.outbox_dir)
    if settings.channel == "outbox":
        return {"phone": outbox, "app": outbox}
    if settings.channel == "twilio":
        from workers.channels.twilio import TwilioChannel

        connection = redis.Redis.from_url(settings.redis_url) if settings.redis_url else None
        pacer = Pacer(settings.twilio_calls_per_second, connection, PACE_KEY)
        return {"phone": TwilioChannel(settings, db, pacer), "app": outbox}
    raise UnknownChannel(f"unknown TELLWELL_CHANNEL {settings.channel!r}; known: outbox, twilio")
