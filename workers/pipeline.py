"""The two steps of a reminder's life after it is accepted: render, then dispatch.

A render that finds its reminder due goes on to dispatch it in the same job, claimed in
the transaction that records it ready; the dispatch job is for what the sweeper finds
(a reminder rendered ahead falling due, a retry, an escalation step, a lapsed lease).

Each step first claims the reminder with a compare-and-set on its status and a lease, so
of two workers handed the same job only one does the work. A worker that dies leaves a
lapsed lease; the sweeper enqueues the job again and the next worker takes over. Before a
dispatch is retried, the channel is asked what became of the last attempt, so a patient
is never called twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload

from service.audio_store import AudioStore, audio_store_from_settings
from service.call_policy import CALL_MESSAGE_MAX_S, WEEK, CallPolicy, NeverCallList
from service.clinic_words import ClinicWords, clinic_id_of, words_for
from service.clock import SYSTEM_CLOCK, Clock
from service.config import Settings
from service.db import Database
from service.escalation import (
    APP,
    FIRST_CONTACT,
    PHONE,
    SMS,
    STAFF,
    TEXT_STATUSES,
    TEXT_UNDELIVERED,
    Policy,
    channel_of,
    plan_next,
    policy_of,
)
from service.links import Links
from service.metrics import (
    DELIVERY_OUTCOMES,
    DUE_TO_DISPATCH_SECONDS,
    REMINDERS_EXPIRED,
    RENDER_SECONDS,
)
from service.models import (
    IN_THE_LOOP,
    Attempt,
    AudioAsset,
    Reminder,
    ReminderEvent,
    Status,
    advance,
    step_event,
)
from service.schemas import AttemptOutcome
from templates import TemplateError, sms_text
from voices import SpokenAudio, VoiceError
from workers.channels import PENDING, Channel, Delivery, Outcome
from workers.errors import ChannelUnavailable, QueueUnavailable
from workers.queue import JobQueue
from workers.rendering import FORMAT_FOR_CHANNEL, VARIANT_FOR_CHANNEL, RenderedMessage, Renderer
from workers.webhooks import WebhookSender

log = logging.getLogger(__name__)

CALL_RESULT_WAIT_S = 15 * 60
"""How long a placed call may go without a callback before the sweeper asks Twilio."""
JOB_TRIES_MAX = 3
"""Unexpected job failures after which a reminder ends ``failed`` with the error's type."""
WORKING = frozenset({Status.RENDERING, Status.DISPATCHING})
JOB_LOAD = (lazyload(Reminder.events), lazyload(Reminder.attempts))
"""How a job loads a reminder: without the events and attempts the API loads with it
(``selectin``), which no step reads; two SELECTs less per load (issue 13)."""


def load_reminder(session: Session, reminder_id: str) -> Reminder | None:
    """The reminder as a job needs it (``JOB_LOAD``), or None if it is gone."""
    return session.get(Reminder, reminder_id, options=JOB_LOAD)


def fallback_detail(words: ClinicWords) -> str | None:
    """The READY event's note when the patient hears another language than was asked."""
    if not words.fell_back_from:
        return None
    return (
        f"spoken in {words.language}: the clinic speaks only reviewed wording and the "
        f"{words.fell_back_from} wording is not reviewed"
    )


def too_long(variant: str, duration_s: float, limit_s: float = CALL_MESSAGE_MAX_S) -> str:
    return (
        f"message too long: the {variant} message lasts {duration_s:.0f} s at the patient's "
        f"rate, over {limit_s:.0f} s"
    )


ANSWERED = frozenset({Status.CONFIRMED, Status.CANCEL_REQUESTED})
"""Attempt outcomes that are the patient's answer on the call."""
NOTHING_SENT = AttemptOutcome.CANCELED
"""The outcome of an attempt given up before its channel was given anything (the reminder
was handled or erased while its message rendered): the API's one word for an attempt
that never reached the patient (Twilio's for a call that never connected). "cancelled",
a reminder's status, is no outcome: the API could not show the reminder at all."""


@dataclass(frozen=True)
class AppVariantDue:
    """An app or text step of a reminder rendered for a call, the first to need the app
    variant: what it is rendered with. Until ``Pipeline._render_app_variant`` replaces it,
    the step's delivery carries the call's message, which is never sent."""

    kind: str
    facts: dict[str, Any]
    words: ClinicWords
    heard_on: datetime


@dataclass
class Pipeline:
    settings: Settings
    db: Database
    queue: JobQueue
    renderer: Renderer
    channels: dict[str, Channel]
    links: Links
    """Every public URL the channels hand out; the API process shares the same one."""
    never_call: NeverCallList
    """The opt-out list, keyed once per process; the API's opt-out routes share it."""
    webhooks: WebhookSender | None = None
    """Signs status webhooks to ``callback_url``; None until a client secret is configured."""
    clock: Clock = SYSTEM_CLOCK
    """Leases, retries and expiry are read from it."""

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.lease_s)

    @cached_property
    def call_policy(self) -> CallPolicy:
        return CallPolicy.from_settings(self.settings)

    @cached_property
    def audio_store(self) -> AudioStore:
        """Where rendered audio is put for serving (``TELLWELL_AUDIO_STORE``)."""
        return audio_store_from_settings(self.settings, self.db)

    def enqueue(self, job: str, *record_ids: str, replace_started: bool = False) -> list[str]:
        """Queue ``job`` for each record not already queued for it; returns those queued
        (none if the queue is down: the sweeper enqueues them later)."""
        try:
            return self.queue.enqueue(job, record_ids, replace_started=replace_started)
        except QueueUnavailable as err:
            log.warning("queue unavailable (%s); the sweeper will enqueue %d", err, len(record_ids))
            return []

    # -- render ----------------------------------------------------------------------

    def render(self, reminder_id: str) -> None:
        now = self.clock.now()
        with self.db.session() as session:
            if not self._claim(session, reminder_id, Status.SCHEDULED, Status.RENDERING, now):
                return
            reminder = load_reminder(session, reminder_id)
            assert reminder is not None, "a claimed reminder exists"
            if self._expire_if_late(session, reminder, now, by="render"):
                return
            kind, language, channel = reminder.kind, reminder.language, reminder.channel
            facts = reminder.facts
            # The clinic's words as they are now; the version used is recorded below.
            words = words_for(session, clinic_id_of(facts), language)
            language = words.language
            # Rendered ahead, the message is still heard at its send time (the year rule).
            send_at = reminder.send_at
            heard_on = max(now, send_at)
        try:
            rendered = self._render_for(channel, kind, facts, words, heard_on)
        except (TemplateError, VoiceError) as err:
            self._fail_render(reminder_id, f"render failed: {type(err).__name__}")
            return
        audio, limit_s = rendered.audio, rendered.profile.hearing_max_s
        if channel == "phone" and rendered.hearing_s > limit_s:
            detail = too_long(rendered.message.variant, rendered.hearing_s, limit_s)
            self._fail_render(reminder_id, detail)
            return
        try:
            voicemail = self._render_call_extras(kind, channel, facts, words, heard_on)
        except (TemplateError, VoiceError) as err:
            # The live message is ready; a call that reaches a machine just leaves none.
            log.warning("voicemail audio not rendered: %s", type(err).__name__)
            voicemail = None
        if voicemail is not None and voicemail.duration_s > limit_s:
            self._fail_render(reminder_id, too_long("voicemail", voicemail.duration_s, limit_s))
            return
        now = self.clock.now()
        due = send_at <= now
        with self.db.session() as session:
            store_audio(session, audio, self.audio_store)
            if voicemail is not None:
                store_audio(session, voicemail, self.audio_store)
            moved = advance(
                session,
                reminder_id,
                Status.READY,
                expect=Status.RENDERING,
                message_text=rendered.message.text,
                message_variant=rendered.message.variant,
                audio_key=audio.key,
                audio_format=audio.format.value,
                voicemail_audio_key=voicemail.key if voicemail is not None else None,
                wording_version_id=rendered.wording.id if rendered.wording else None,
                # A clinic that speaks only reviewed wording may have moved the message to
                # its default language: the call's keypad replies must follow it.
                language=language,
                detail=fallback_detail(words),
                lease_until=None,
                # Not due yet: the sweeper queues the dispatch the moment it is.
                queued_at=now if due else None,
            )
            # Due: dispatched by this job, claimed in this transaction (issue 13: a second
            # job and commit per reminder cost more than espeak-ng's speech).
            begun = self._begin_dispatch(session, reminder_id, now) if moved and due else None
        if begun is not None:
            self._deliver(*begun)

    def _fail_render(self, reminder_id: str, detail: str) -> None:
        with self.db.session() as session:
            advance(
                session,
                reminder_id,
                Status.FAILED,
                expect=Status.RENDERING,
                detail=detail,
                lease_until=None,
            )

    def count_job_failure(self, reminder_id: str, err: Exception) -> None:
        """A job of this reminder ended in an unexpected error (a bug, bad data the checks
        missed): it is retried when its lease lapses, but after ``JOB_TRIES_MAX`` such
        failures the reminder ends ``failed`` instead of being retried forever."""
        with self.db.session() as session:
            failures = session.scalar(
                update(Reminder)
                .where(Reminder.id == reminder_id)
                .values(job_failures=Reminder.job_failures + 1)
                .returning(Reminder.job_failures)
                .execution_options(synchronize_session=False)
            )
            if failures is not None and failures >= JOB_TRIES_MAX:
                advance(
                    session,
                    reminder_id,
                    Status.FAILED,
                    expect=WORKING,
                    detail=f"gave up after {failures} failed tries ({type(err).__name__})",
                    lease_until=None,
                )

    def _render_call_extras(
        self, kind: str, channel: str, facts: dict[str, Any], words: ClinicWords, now: datetime
    ) -> SpokenAudio | None:
        """For a call placed by a provider: the voicemail variant (``Renderer.call_extras``)."""
        if channel != "phone" or self.settings.channel != "twilio":
            return None
        return self.renderer.call_extras(kind, facts, words, language=words.language, today=now)

    # -- dispatch --------------------------------------------------------------------

    def dispatch(self, reminder_id: str) -> None:
        with self.db.session() as session:
            begun = self._begin_dispatch(session, reminder_id, self.clock.now())
        if begun is not None:
            self._deliver(*begun)

    def _begin_dispatch(
        self, session: Session, reminder_id: str, now: datetime
    ) -> tuple[Channel, Delivery, bool, AppVariantDue | None] | None:
        """Claim the reminder and open (or reopen) its attempt in ``session``: the channel,
        the delivery, whether the attempt was reopened and the app variant it still needs
        (``_deliver`` renders it first), or None when there is nothing to send (held for
        the window, taken by another worker, expired, handed to staff).
        The caller commits before ``_deliver`` calls the channel."""
        reminder = load_reminder(session, reminder_id)
        if reminder is None or self._hold_for_window(session, reminder, now):
            return None
        was_ready = reminder.status == Status.READY
        # Before the claim: a dispatching reminder may not expire (its call may be live).
        if was_ready and self._expire_if_late(session, reminder, now, by="dispatch"):
            return None
        if not self._claim(session, reminder_id, Status.READY, Status.DISPATCHING, now):
            return None
        if was_ready:
            late_s = (now - reminder.send_at).total_seconds()
            DUE_TO_DISPATCH_SECONDS.observe(max(late_s, 0.0))
        policy = policy_of(reminder.facts)
        step = reminder.escalation_step
        step_channel = channel_of(reminder.channel, policy, step)
        if step_channel == STAFF:
            advance(
                session,
                reminder_id,
                Status.NEEDS_STAFF,
                expect=Status.DISPATCHING,
                detail=f"step {step} (staff): handed to the clinic's staff",
                step=step,
                lease_until=None,
            )
            return None
        channel = self.channels[step_channel]
        unfinished = self._unfinished_attempt(session, reminder.id)
        if unfinished is not None:
            attempt, reopened = unfinished, True
        elif not was_ready and self._late_contact_held(session, reminder, step_channel, now):
            return None
        else:
            attempt, reopened = self._new_attempt(session, reminder, channel), False
        text, asset, app_due = reminder.message_text or "", reminder.audio, None
        if step_channel in (APP, SMS):
            # The app, and the listen page a text links to, give the app variant.
            app_message = reminder.app_message()
            if app_message is None:
                app_due = self._app_variant_due(session, reminder, now)
            else:
                text, asset = app_message
        assert asset is not None, "a ready reminder has its audio"
        text_message = None
        if step_channel == SMS:
            text_message = sms_text(
                reminder.language,
                reminder.kind,
                reminder.facts["clinic"]["name"],
                self.links.listen(reminder.id),
            )
        delivery = Delivery(
            attempt_id=attempt.id,
            reminder_id=reminder.id,
            channel=reminder.channel,
            language=reminder.language,
            transcript=text,
            audio_path=Path(asset.path),
            audio_media_type=asset.media_type,
            duration_s=asset.duration_s,
            audio_key=asset.key,
            audio_format=asset.format,
            to=reminder.facts["patient"].get("phone", ""),
            app_recipient_id=reminder.facts["patient"].get("app_recipient_id"),
            caller_id=reminder.facts["clinic"].get("caller_id"),
            text_message=text_message,
        )
        return channel, delivery, reopened, app_due

    def _deliver(
        self,
        channel: Channel,
        delivery: Delivery,
        reopened: bool,
        app_due: AppVariantDue | None = None,
    ) -> None:
        """Hand the committed attempt to its channel (asking first what became of a reopened
        one, so a patient is never called twice) and record the outcome; with ``app_due``,
        the app variant is rendered and stored first and is what the channel gets."""
        if app_due is not None:
            with_app = self._render_app_variant(delivery, app_due)
            if with_app is None:
                return
            delivery = with_app
        outcome = channel.reconcile(delivery.attempt_id) if reopened else None
        if outcome is None:
            if reopened and self._unplaced_attempt_held(delivery):
                return
            outcome = self._send(channel, delivery)
        if outcome is None:
            return
        with self.db.session() as session:
            self._close_attempt(session, delivery.reminder_id, delivery.attempt_id, outcome)

    def _app_variant_due(
        self, session: Session, reminder: Reminder, now: datetime
    ) -> AppVariantDue:
        """What the app variant of a call's reminder is rendered with, read in the claiming
        transaction: the clinic's words as they are now and the step's own day (the year
        rule), as the render step does."""
        words = words_for(session, clinic_id_of(reminder.facts), reminder.language)
        return AppVariantDue(reminder.kind, reminder.facts, words, max(now, reminder.send_at))

    def _render_for(
        self,
        channel: str,
        kind: str,
        facts: dict[str, Any],
        words: ClinicWords,
        heard_on: datetime,
    ) -> RenderedMessage:
        """The message ``channel`` plays, spoken (outside any transaction: speech takes
        long), its time observed by engine and language (``RENDER_SECONDS``). Raises
        ``TemplateError`` or ``VoiceError``."""
        started = time.perf_counter()
        rendered = self.renderer.render(
            kind,
            words.language,
            VARIANT_FOR_CHANNEL[channel],
            facts,
            FORMAT_FOR_CHANNEL[channel],
            words,
            today=heard_on,
        )
        RENDER_SECONDS.labels(rendered.audio.engine, words.language).observe(
            time.perf_counter() - started
        )
        return rendered

    def _render_app_variant(self, delivery: Delivery, due: AppVariantDue) -> Delivery | None:
        """Render the app variant outside any transaction (speech takes long; the Speaker
        caches it), then store its audio, text and key in one transaction and return the
        delivery carrying it. A render that fails stores nothing: the step ends ``failed``
        with the reason and the loop goes on to the next step (None). A reminder that left
        the loop meanwhile (erased, handled) gets nothing stored or sent, its attempt
        ``cancelled`` (None)."""
        try:
            rendered = self._render_for(APP, due.kind, due.facts, due.words, due.heard_on)
        except (TemplateError, VoiceError) as err:
            failed = Outcome(
                status=Status.FAILED, detail=f"app message not rendered: {type(err).__name__}"
            )
            with self.db.session() as session:
                self._close_attempt(session, delivery.reminder_id, delivery.attempt_id, failed)
            return None
        audio = rendered.audio
        with self.db.session() as session:
            status = session.scalar(
                select(Reminder.status).where(Reminder.id == delivery.reminder_id).with_for_update()
            )
            if status != Status.DISPATCHING:
                # Erased or handled while it was rendered: nothing is stored or sent.
                attempt = session.get_one(Attempt, delivery.attempt_id)
                attempt.outcome, attempt.ended_at = NOTHING_SENT, self.clock.now()
                return None
            store_audio(session, audio, self.audio_store)
            session.execute(
                update(Reminder)
                .where(Reminder.id == delivery.reminder_id)
                .values(
                    app_message_text=rendered.message.text,
                    app_audio_key=audio.key,
                    app_audio_format=audio.format.value,
                )
                .execution_options(synchronize_session=False)
            )
        return replace(
            delivery,
            language=due.words.language,
            transcript=rendered.message.text,
            audio_path=audio.path,
            audio_media_type=audio.media_type,
            duration_s=audio.duration_s,
            audio_key=audio.key,
            audio_format=audio.format.value,
        )

    def _send(self, channel: Channel, delivery: Delivery) -> Outcome | None:
        try:
            return channel.send(delivery)
        except ChannelUnavailable as err:
            # Nothing reached the patient: the lease lapses and the sweeper tries again.
            log.warning(
                "channel %s unavailable for attempt %s: %s",
                channel.name,
                delivery.attempt_id,
                type(err).__name__,
            )
            return None

    def _unfinished_attempt(self, session: Session, reminder_id: str) -> Attempt | None:
        """The attempt a dead worker left open, which is settled rather than made again."""
        return session.scalar(
            select(Attempt)
            .where(Attempt.reminder_id == reminder_id, Attempt.outcome.is_(None))
            .order_by(Attempt.started_at.desc())
        )

    def _unplaced_attempt_held(self, delivery: Delivery) -> bool:
        """An attempt a dead worker left open that the provider never placed is placed
        now only if a new contact could be (``_late_contact_held``)."""
        now = self.clock.now()
        with self.db.session() as session:
            reminder = load_reminder(session, delivery.reminder_id)
            if reminder is None or reminder.status != Status.DISPATCHING:
                return True
            step = channel_of(reminder.channel, policy_of(reminder.facts), reminder.escalation_step)
            return self._late_contact_held(
                session, reminder, step, now, unplaced=delivery.attempt_id
            )

    def _late_contact_held(
        self,
        session: Session,
        reminder: Reminder,
        step_channel: str,
        now: datetime,
        *,
        unplaced: str | None = None,
    ) -> bool:
        """A retry or an escalation step whose job runs late (the workers were down when
        it fell due) contacts no one after the visit has begun, and calls or texts only
        inside the calling hours: it ends the reminder failed when no allowed moment is
        left before the visit, or waits for the hours to open. True when it held back.
        ``unplaced``: an open attempt the provider never placed, which ends with it (or
        stays open, to be looked up again when the hours open)."""
        opens = self._calling_hours_open(reminder, now) if step_channel in (PHONE, SMS) else now
        # An escalation step's wait or end is a step event, told to the scheduler.
        step = reminder.escalation_step if policy_of(reminder.facts) is not None else None
        if reminder.expires_at is not None and opens >= reminder.expires_at:
            begun = reminder.expires_at <= now
            why = "the appointment has begun" if begun else "no calling hours left before the visit"
            detail = f"{why}; no more contact"
            if unplaced is None:
                self._give_up(session, reminder.id, detail, step=step)
            else:
                self.settle(session, unplaced, Outcome(Status.FAILED, detail=detail))
            return True
        if opens <= now:
            return False
        session.execute(  # the sweeper queues this job again when the hours open
            update(Reminder)
            .where(Reminder.id == reminder.id)
            .values(lease_until=opens, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        detail = f"outside the calling hours; waiting until {opens.isoformat()}"
        if step is not None:
            step_event(session, reminder, step, f"step {step} ({step_channel}): {detail}")
        else:
            session.add(
                ReminderEvent(
                    reminder_id=reminder.id, status=Status.DISPATCHING, at=now, detail=detail
                )
            )
        return True

    def _give_up(
        self, session: Session, reminder_id: str, detail: str, *, step: int | None = None
    ) -> None:
        """A dispatching reminder whose contact can go no further ends failed (``step``:
        the escalation step it ends at, if any)."""
        advance(
            session,
            reminder_id,
            Status.FAILED,
            expect=Status.DISPATCHING,
            detail=detail,
            step=step,
            lease_until=None,
        )

    def _new_attempt(self, session: Session, reminder: Reminder, channel: Channel) -> Attempt:
        attempt = Attempt(
            reminder_id=reminder.id,
            channel=channel.name,
            step=reminder.escalation_step,
            started_at=self.clock.now(),  # the call limits count from it
        )
        session.add(attempt)
        session.flush()
        return attempt

    def _close_attempt(
        self, session: Session, reminder_id: str, attempt_id: str, outcome: Outcome
    ) -> None:
        self.settle(session, attempt_id, outcome)

    def settle(self, session: Session, attempt_id: str, outcome: Outcome) -> None:
        """Record what became of an attempt and move the reminder on; safe to repeat.

        Called by the dispatcher and by provider callbacks, which may come twice or out of
        order: a closed attempt is not reopened, and the status only moves forward.
        """
        attempt = session.get_one(Attempt, attempt_id)
        recorded = attempt.outcome
        self._record_outcome(session, attempt, outcome)
        if attempt.outcome is not None and attempt.outcome != recorded:
            DELIVERY_OUTCOMES.labels(attempt.channel, attempt.outcome).inc()

    def _record_outcome(self, session: Session, attempt: Attempt, outcome: Outcome) -> None:
        now = self.clock.now()
        attempt.provider_ref = attempt.provider_ref or outcome.provider_ref
        attempt.answered_by = outcome.answered_by or attempt.answered_by
        if outcome.duration_s is not None:
            attempt.duration_s = outcome.duration_s
        if outcome.status == PENDING:
            if attempt.outcome is None:
                # The call is under way; if no callback ever comes, the sweeper reconciles.
                session.execute(
                    update(Reminder)
                    .where(
                        Reminder.id == attempt.reminder_id, Reminder.status == Status.DISPATCHING
                    )
                    .values(lease_until=now + timedelta(seconds=CALL_RESULT_WAIT_S))
                    .execution_options(synchronize_session=False)
                )
            return
        first_report = attempt.outcome is None
        if not first_report and attempt.outcome in ANSWERED and outcome.status == Status.DELIVERED:
            # The call's "completed" after the patient answered by key: the answer stands
            # (a follow-up's low answer is ``needs_staff``, which "delivered" may follow).
            return
        if first_report:
            attempt.outcome = outcome.detail if outcome.retryable else outcome.status
            attempt.ended_at = now
        if outcome.retryable and not first_report:
            return
        # Loaded once and passed on: an unmodified reminder leaves the session's identity
        # map as soon as nothing holds it, and each step's own get would SELECT it again.
        reminder = session.get_one(Reminder, attempt.reminder_id, options=JOB_LOAD)
        if first_report and self._escalate_unanswered(session, attempt, reminder, outcome, now):
            return
        if outcome.retryable:
            self._retry_or_fail(session, attempt, reminder, outcome, now)
            return
        moved = advance(
            session,
            attempt.reminder_id,
            Status(outcome.status),
            detail=outcome.detail,
            step=attempt.step if policy_of(reminder.facts) is not None else None,
            lease_until=None,
        )
        if moved:
            attempt.outcome = outcome.status  # e.g. delivered, then confirmed on the same call

    def _escalate_unanswered(
        self,
        session: Session,
        attempt: Attempt,
        reminder: Reminder,
        outcome: Outcome,
        now: datetime,
    ) -> bool:
        """With an escalation policy, a step that ended without an answer leads to the
        next step; True when it did (or ended the loop), False for an answer or a
        reminder without a policy (then the outcome is settled as it always was)."""
        policy = policy_of(reminder.facts)
        if policy is None or reminder.status != Status.DISPATCHING:
            return False
        step = reminder.escalation_step
        channel = channel_of(reminder.channel, policy, step)
        label = f"step {step} ({channel})"
        if outcome.retryable or outcome.status == Status.FAILED:
            reason, last = f"{label}: {outcome.detail or 'failed'}", Status.FAILED
        elif outcome.status == Status.VOICEMAIL and policy.continue_after_voicemail:
            reason, last = f"{label}: voicemail left, not confirmed", Status.VOICEMAIL
        elif outcome.status == Status.DELIVERED and attempt.provider_status in TEXT_UNDELIVERED:
            # Twilio's callback came before the worker recorded the text as sent.
            reason = f"{label}: text {attempt.provider_status}"
            attempt.outcome = Status.FAILED
            self._next_step(session, reminder, policy, reason, Status.FAILED, now, at_once=True)
            return True
        elif outcome.status == Status.DELIVERED and channel in (APP, SMS):
            reason, last = f"{label}: sent, not yet heard", Status.DELIVERED
        else:
            return False  # an answer: a person on the line, a key, or voicemail that stops
        self._next_step(session, reminder, policy, reason, last, now)
        return True

    def text_status(self, session: Session, attempt_id: str, status: str, error: str) -> None:
        """Record a text's delivery as Twilio reports it; callbacks may come twice or out
        of order, so it only moves forward. An undelivered or failed text that the loop
        is waiting on lets the next step run at once (``service.escalation``)."""
        attempt = session.get_one(Attempt, attempt_id)
        if TEXT_STATUSES.get(status, -1) <= TEXT_STATUSES.get(attempt.provider_status or "", -1):
            return
        attempt.provider_status = status
        if status not in TEXT_UNDELIVERED:
            return
        attempt.provider_error = error[:10] or None
        reminder = session.get_one(Reminder, attempt.reminder_id, options=JOB_LOAD)
        policy = policy_of(reminder.facts)
        later = session.scalar(
            select(Attempt.id)
            .where(Attempt.reminder_id == reminder.id, Attempt.step > attempt.step)
            .limit(1)
        )
        waiting = (
            reminder.status == Status.DISPATCHING
            and reminder.escalation_step > attempt.step
            and later is None
        )
        if attempt.outcome is None or policy is None:
            return  # not settled yet: ``_escalate_unanswered`` sees the status then
        attempt.outcome = Status.FAILED
        label = f"step {attempt.step} ({attempt.channel})"
        if not waiting:
            moved_on = f"{label}: text {status}; the loop had moved on"
            step_event(session, reminder, attempt.step, moved_on)
            return
        reminder.escalation_step = attempt.step  # re-plan what follows this text
        reason = f"{label}: text {status}"
        self._next_step(
            session, reminder, policy, reason, Status.FAILED, self.clock.now(), at_once=True
        )

    def _next_step(
        self,
        session: Session,
        reminder: Reminder,
        policy: Policy,
        reason: str,
        last: Status,
        now: datetime,
        *,
        at_once: bool = False,
    ) -> None:
        """Schedule the next step that can run (the sweeper runs it when its lease lapses
        at the step's time), or end the loop in ``last`` when none is left."""
        plan = plan_next(
            policy,
            reminder.escalation_step,
            now=now,
            reminder_channel=reminder.channel,
            patient=reminder.facts["patient"],
            dialled=self._dialled(session, reminder, now),
            expires_at=reminder.expires_at,
            hours=self.call_policy.calling_hours(reminder.facts),
            calls=self.call_policy,
            at_once=at_once,
        )
        for skipped, why in plan.skipped:
            step_event(session, reminder, skipped.number, f"{skipped.label()} skipped: {why}")
        if plan.step is None or plan.due is None:
            advance(
                session,
                reminder.id,
                last,
                expect=Status.DISPATCHING,
                detail=f"{reason}; no step left",
                step=reminder.escalation_step,
                lease_until=None,
            )
            return
        current = reminder.escalation_step
        reminder.escalation_step = plan.step.number
        reminder.lease_until = plan.due
        # The step's job is a new one: the sweeper takes it at its time, not first
        # ``requeue_after_s`` after this step's job was queued (a step due at once,
        # after a text that can never arrive, would otherwise wait a minute).
        reminder.queued_at = None
        step_event(
            session,
            reminder,
            current,
            f"{reason}; {plan.step.label()} after {plan.due.isoformat()}",
        )

    def answered(self, session: Session, reminder_id: str, detail: str) -> bool:
        """A real answer outside a call (the listen page played to the end): the loop
        stops and the reminder is ``delivered``; False if it had already left the loop."""
        reminder = load_reminder(session, reminder_id)
        if reminder is None:
            return False
        step = None
        if policy_of(reminder.facts) is not None:
            # The step whose link was heard: the last that reached the patient, not the
            # one waiting its turn.
            step = session.scalar(
                select(Attempt.step)
                .where(Attempt.reminder_id == reminder_id)
                .order_by(Attempt.started_at.desc())
                .limit(1)
            )
        return advance(
            session,
            reminder_id,
            Status.DELIVERED,
            expect=IN_THE_LOOP,
            detail=detail,
            step=step,
            lease_until=None,
        )

    def _retry_or_fail(
        self,
        session: Session,
        attempt: Attempt,
        reminder: Reminder,
        outcome: Outcome,
        now: datetime,
    ) -> None:
        """Busy or no answer: call again later inside the window and the limits, or give up."""
        if reminder.status != Status.DISPATCHING:
            return
        retry_at = self._next_call_at(session, reminder, now)
        if retry_at is None:
            self._give_up(session, reminder.id, f"{outcome.detail}; no more calls allowed")
            return
        # Stays dispatching; the sweeper picks it up once the lease lapses at retry_at.
        reminder.lease_until = retry_at
        session.add(
            ReminderEvent(
                reminder_id=reminder.id,
                status=Status.DISPATCHING,
                at=now,
                detail=f"{outcome.detail}; calling again after {retry_at.isoformat()}",
            )
        )

    def _dialled(self, session: Session, reminder: Reminder, now: datetime) -> list[datetime]:
        """When the calls of the last week were placed: the attempts of the steps that
        call (texts and app sends are not calls)."""
        policy = policy_of(reminder.facts)
        rows = session.execute(
            select(Attempt.started_at, Attempt.step).where(
                Attempt.reminder_id == reminder.id,
                Attempt.provider_ref.is_not(None),
                Attempt.started_at > now - WEEK,
            )
        ).all()
        return [
            started
            for started, step in rows
            if channel_of(reminder.channel, policy, step or FIRST_CONTACT) == PHONE
        ]

    def _next_call_at(self, session: Session, reminder: Reminder, now: datetime) -> datetime | None:
        """The earliest allowed moment for another call, or None if the limits are used up."""
        dialled = self._dialled(session, reminder, now)
        return self.call_policy.next_call_at(
            dialled,
            now,
            reminder.facts["patient"]["timezone"],
            reminder.expires_at,
            self.call_policy.calling_hours(reminder.facts),
        )

    # -- shared ----------------------------------------------------------------------

    def _claim(
        self, session: Session, reminder_id: str, waiting: Status, working: Status, now: datetime
    ) -> bool:
        """Take the reminder from ``waiting``, or from a worker whose lease lapsed."""
        if advance(session, reminder_id, working, expect=waiting, lease_until=now + self.lease):
            return True
        taken_over = session.execute(
            update(Reminder)
            .where(
                Reminder.id == reminder_id, Reminder.status == working, Reminder.lease_until < now
            )
            .values(lease_until=now + self.lease, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return taken_over.rowcount == 1  # type: ignore[attr-defined]

    def _expire_if_late(
        self, session: Session, reminder: Reminder, now: datetime, *, by: str
    ) -> bool:
        """True if the appointment has begun: then the job (``by``) stops, and the reminder
        (rendering, or ready to dispatch) is expired unless another worker moved it first."""
        if reminder.expires_at is None or reminder.expires_at > now:
            return False
        if advance(
            session,
            reminder.id,
            Status.EXPIRED,
            expect=frozenset({Status.RENDERING, Status.READY}),
            detail="the appointment has begun",
            lease_until=None,
        ):
            REMINDERS_EXPIRED.labels(by).inc()
        return True

    def _hold_for_window(self, session: Session, reminder: Reminder, now: datetime) -> bool:
        """Keep a ready phone reminder waiting if its calling hours (its clinic's, else the
        window) have closed meanwhile."""
        if reminder.channel != "phone" or reminder.status != Status.READY:
            return False
        allowed = self._calling_hours_open(reminder, now)
        if allowed <= now:
            return False
        reminder.send_at = allowed
        return True

    def _calling_hours_open(self, reminder: Reminder, now: datetime) -> datetime:
        """``now`` inside the reminder's calling hours (its clinic's, else the window), or
        when they next open, in the patient's time zone."""
        hours = self.call_policy.calling_hours(reminder.facts)
        return hours.next_allowed(now, reminder.facts["patient"]["timezone"])


def store_audio(session: Session, audio: SpokenAudio, store: AudioStore) -> None:
    """Put a rendered file into the audio store and record it once; the same content key
    is shared by every reminder. The store is written first (the database store in this
    session), so a recorded audio is one every machine can serve; a put of stored audio
    renews its time of use."""
    store.put(session, audio.key, audio.format.value, audio.path)
    known = session.get(AudioAsset, (audio.key, audio.format.value))
    if known is not None:
        if known.purged_at is not None:  # purged, then needed and spoken again
            known.purged_at, known.path = None, str(audio.path)
        return
    try:
        with session.begin_nested():
            session.add(
                AudioAsset(
                    key=audio.key,
                    format=audio.format.value,
                    media_type=audio.media_type,
                    path=str(audio.path),
                    duration_s=audio.duration_s,
                    engine=audio.engine,
                    voice=audio.voice,
                )
            )
    except IntegrityError:
        pass  # another worker rendered the same words at the same moment: same file
