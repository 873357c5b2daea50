"""Delivery channels behind one protocol, chosen by configuration."""

from __future__ import annotations

from service.config import Settings
from service.security import AudioLinks, ListenLinks
from workers.channels.app import AppChannel
from workers.channels.base import Channel, ChannelError, ChannelUnavailable, Delivery, Outcome
from workers.channels.outbox import OutboxChannel
from workers.webhooks import WebhookSender

__all__ = [
    "AppChannel",
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
    if settings.channel != "outbox":
        raise UnknownChannel(f"unknown TELLWELL_CHANNEL {settings.channel!r}; known: outbox")
    outbox = OutboxChannel(settings.outbox_dir)
    channels: dict[str, Channel] = {"phone": outbox, "app": outbox}
    if settings.app_webhook_url:
        channels["app"] = app_channel(settings)
    return channels


def app_channel(settings: Settings) -> AppChannel:
    """The app backend named by ``TELLWELL_APP_WEBHOOK_URL``, with its own signing secret."""
    secret, ttl_s = settings.signing_key(), settings.audio_link_ttl_s
    sender = WebhookSender(
        settings.app_webhook_secret.get_secret_value(),
        settings.webhook_timeout_s,
        allow_private=settings.webhook_allow_private_targets,
    )
    return AppChannel(
        settings.app_webhook_url,
        sender,
        settings.public_base_url,
        AudioLinks(secret, ttl_s),
        ListenLinks(secret, ttl_s),
    )
