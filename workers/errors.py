"""Every exception the workers raise on purpose, under one root.

Exception tree::

    WorkerError                 root: catch this to catch any of them
    ├── JobFailed               a job raised; carries only the exception's type name, so
    │                           what RQ logs and keeps in Redis quotes no patient data
    ├── QueueUnavailable        a job could not be queued; the sweeper queues it later
    ├── UnknownChannel          the configuration names a channel that does not exist
    ├── ChannelError            a channel could not say what happened to a delivery
    │   └── ChannelUnavailable  the provider refused or could not be reached; nothing
    │                           reached the patient, so it is safe to try again
    └── WebhookError            a webhook could not be signed (a bad secret)
        └── DeliveryFailed      the receiver answered non-2xx, timed out or could not be
                                reached; safe to try again under the same webhook-id

A webhook target refused before any traffic is ``service.webhook_targets.TargetRefused``:
the rule belongs to the records, since the API applies it too.
"""

from __future__ import annotations


class WorkerError(Exception):
    """Root of the workers' exceptions."""


class JobFailed(WorkerError):
    """A job raised ``type_name``; the original is logged (type and frames) and dropped."""

    def __init__(self, type_name: str) -> None:
        super().__init__(type_name)
        self.type_name = type_name


class QueueUnavailable(WorkerError):
    """The job could not be queued; the sweeper will try again."""


class UnknownChannel(WorkerError):
    """The configured channel name matches no channel."""


class ChannelError(WorkerError):
    """Root of the channels' exceptions: the channel could not say what happened."""


class ChannelUnavailable(ChannelError):
    """The provider could not take the delivery now; nothing reached the patient."""


class WebhookError(WorkerError):
    """A webhook could not be sent."""


class DeliveryFailed(WebhookError):
    """The request was made (or tried) and did not succeed; safe to try again."""
