"""Delivery channels behind one protocol, chosen by configuration."""

from __future__ import annotations

from service.config import Settings
from workers.channels.base import Channel, ChannelError, ChannelUnavailable, Delivery, Outcome
from workers.channels.outbox import OutboxChannel

__all__ = [
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


def channels_from_settings(settings: Settings) -> dict[str, Channel]:
    """The channel serving each reminder channel (``phone``, ``app``)."""
    if settings.channel == "outbox":
        outbox = OutboxChannel(settings.outbox_dir)
        return {"phone": outbox, "app": outbox}
    raise UnknownChannel(f"unknown TELLWELL_CHANNEL {settings.channel!r}; known: outbox")
