"""Job entry points, importable by path for RQ and the in-process executor alike.

A job gets a reminder id (or a webhook delivery id) and nothing else. The collaborators
(database, queue, speaker, channels) belong to the process: the API's lifespan or
``tellwell worker`` installs them with ``install``; any other process builds its own on
first use.

Whatever a job raises is logged here (type and frames, never the message: see
``service.logs``) and replaced by ``JobFailed`` naming only its type, raised ``from None``:
RQ keeps a failed job's traceback in Redis for days, and SQLAlchemy's messages quote the
statement's parameters (a name, the transcript).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from service.call_policy import NeverCallList
from service.clock import SYSTEM_CLOCK, Clock
from service.config import Settings, get_settings
from service.db import DATABASE_UNREACHABLE, Database
from service.links import Links
from voices import Speaker
from voices.engines import configured_speaker
from workers.channels import channels_from_settings
from workers.errors import JobFailed
from workers.outages import Backoff, Outage, wait_until_reachable
from workers.pipeline import Pipeline
from workers.queue import JOB_TIMEOUT_S, queue_from_settings
from workers.rendering import Renderer
from workers.status_webhooks import send_status_webhook as send_one_status_webhook
from workers.webhooks import WebhookSender

log = logging.getLogger(__name__)
_installed: Pipeline | None = None
_lock = threading.Lock()
_database_outage = Outage("database", "job")

AUDIO_CACHE_PURPOSE = "audio cache"
"""Keys the audio cache's file names (``Settings.derived_secret``)."""
DATABASE_WAIT_MAX_S = JOB_TIMEOUT_S / 2
"""Longest a job waits for an unreachable database: well inside the job's own timeout."""


def speaker_from_settings(settings: Settings) -> Speaker:
    """The Speaker with the engines the settings enable.

    The audio cache is keyed with a secret derived from the signing key (not the key
    itself), so a listing of the cache folder cannot confirm a guessed message.
    """
    cache_secret = settings.derived_secret(AUDIO_CACHE_PURPOSE)
    return configured_speaker(
        settings.audio_dir,
        piper_enabled=settings.piper_enabled,
        piper_voices_dir=settings.voices_dir,
        piper_threads=settings.piper_threads,
        gtts_enabled=settings.gtts_enabled,
        gtts_timeout_s=settings.gtts_timeout_s,
        pyttsx3_enabled=settings.pyttsx3_enabled,
        http_voices=settings.http_tts,
        pico_enabled=settings.pico_enabled,
        rhvoice_enabled=settings.rhvoice_enabled,
        cache_secret=cache_secret,
    )


def build_pipeline(
    settings: Settings, db: Database | None = None, clock: Clock = SYSTEM_CLOCK
) -> Pipeline:
    """Everything a job needs, made from the settings."""
    queue = queue_from_settings(settings)
    db = db or Database.from_settings(settings)
    links = Links(
        settings.public_base_url, settings.signing_key(), settings.audio_link_ttl_s, clock.time
    )
    never_call = NeverCallList.from_settings(settings)
    return Pipeline(
        settings=settings,
        db=db,
        queue=queue,
        renderer=Renderer(speaker_from_settings(settings)),
        channels=channels_from_settings(settings, db, links, never_call),
        links=links,
        never_call=never_call,
        webhooks=status_webhook_sender(settings),
        clock=clock,
    )


def status_webhook_sender(settings: Settings) -> WebhookSender | None:
    secret = settings.client_webhook_secret.get_secret_value()
    if not secret:
        return None
    return WebhookSender(
        secret, settings.webhook_timeout_s, allow_private=settings.webhook_allow_private_targets
    )


def install(pipeline: Pipeline | None) -> None:
    global _installed
    with _lock:
        _installed = pipeline


def pipeline() -> Pipeline:
    global _installed
    with _lock:
        if _installed is None:
            _installed = build_pipeline(get_settings())
        return _installed


@contextmanager
def _reported(job: Callable[[str], None], record_id: str) -> Iterator[None]:
    """Log a failure by type and frames, and let only its type name travel on."""
    try:
        yield
    except Exception as err:
        log.error("job %s failed for %s", job.__name__, record_id, exc_info=True)
        raise JobFailed(type(err).__name__) from None


def render_reminder(reminder_id: str) -> None:
    with _reported(render_reminder, reminder_id):
        _reminder_step(reminder_id, Pipeline.render)


def render_reminder_ahead(reminder_id: str) -> None:
    """The same render, from the lowest-priority queue: the reminder is not due yet."""
    with _reported(render_reminder_ahead, reminder_id):
        _reminder_step(reminder_id, Pipeline.render)


def dispatch_reminder(reminder_id: str) -> None:
    with _reported(dispatch_reminder, reminder_id):
        _reminder_step(reminder_id, Pipeline.dispatch)


def send_status_webhook(delivery_id: str) -> None:
    with _reported(send_status_webhook, delivery_id):
        _riding_out_database_outages(
            lambda current: send_one_status_webhook(current, int(delivery_id))
        )


def _reminder_step(reminder_id: str, step: Callable[[Pipeline, str], None]) -> None:
    """Run one step of a reminder; an unexpected error is counted on the reminder, which
    ends ``failed`` after a few (``Pipeline.count_job_failure``), then raised on."""

    def run(current: Pipeline) -> None:
        try:
            step(current, reminder_id)
        except DATABASE_UNREACHABLE:
            raise
        except Exception as err:
            current.count_job_failure(reminder_id, err)
            raise

    _riding_out_database_outages(run)


def _riding_out_database_outages(step: Callable[[Pipeline], None]) -> None:
    """Run a job's step; if the database is unreachable, wait for it instead of failing.

    A failing job would log a traceback each, and the worker would empty the queue in
    seconds. Waiting holds the worker on this job until the database answers (one log
    line for the whole outage), then the job ends: whatever the step left undone is in
    the database with a lease that lapses or a ``queued_at`` that ages, and the sweeper
    enqueues it again.
    """
    current = pipeline()
    try:
        step(current)
    except DATABASE_UNREACHABLE as err:
        _database_outage.down(err)
        wait_until_reachable(
            current.db.ping,
            _database_outage,
            Backoff(current.settings.outage_retry_max_s),
            DATABASE_UNREACHABLE,
            deadline_s=DATABASE_WAIT_MAX_S,
        )
    else:
        _database_outage.up()
