"""The Channel protocol: how a rendered message reaches a patient.

The dispatcher writes an attempt row before it calls ``send``; if the worker dies in
between, ``reconcile`` asks the provider what became of that attempt before anything is
sent again, so a patient is never called twice by mistake.

A channel raises ``ChannelUnavailable`` (``workers.errors``) when nothing was delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Delivery:
    """Everything a channel needs to deliver one attempt; built from the records."""

    attempt_id: str
    reminder_id: str
    channel: str
    language: str
    transcript: str
    audio_path: Path
    audio_media_type: str
    duration_s: float
    audio_key: str
    audio_format: str
    """Name the audio for a signed link (``service.security.AudioLinks``)."""
    to: str = ""
    """The patient's phone number, for channels that call; kept out of logs and URLs."""
    app_recipient_id: str | None = None
    caller_id: str | None = None
    """The clinic's own ``From`` number for calls; None: the service's."""
    text_message: str | None = None
    """For a text: its words (``templates.sms_text``), the listen link in them."""


PENDING = "pending"
"""An outcome status: the provider took the delivery and will report the result later."""


@dataclass(frozen=True)
class Outcome:
    """What the provider reports for an attempt.

    ``status`` is a final reminder status, or ``PENDING`` while a call is under way.
    ``retryable`` marks a failure worth another try later (busy, no answer).
    """

    status: str
    provider_ref: str | None = None
    answered_by: str | None = None
    detail: str | None = None
    retryable: bool = False
    duration_s: float | None = None


class Channel(Protocol):
    name: str

    def send(self, delivery: Delivery) -> Outcome:
        """Deliver once; raise ChannelUnavailable when nothing was delivered."""
        ...

    def reconcile(self, attempt_id: str) -> Outcome | None:
        """What became of an attempt whose result was never recorded; None if never sent."""
        ...
