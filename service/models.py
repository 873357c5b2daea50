"""The records: reminders, their events and delivery attempts, appointments, audio, keys
and audit.

A reminder's status moves forward only. ``advance`` is the one way to move it: a
compare-and-set UPDATE plus an event row (and, for a reminder with a ``callback_url``, a
pending status webhook), so two workers racing for the same reminder cannot both win, and
every change is on the record and reaches the scheduler.
"""

from __future__ import annotations

import enum
import re
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from service.clock import timestamp
from service.db import Base, UTCDateTime, utcnow


def new_id() -> str:
    return uuid.uuid4().hex


RECORD_ID = re.compile(r"[0-9a-f]{32}")


def is_record_id(value: str) -> bool:
    """Whether ``value`` could be an id ``new_id`` made (checked before any lookup by it)."""
    return RECORD_ID.fullmatch(value) is not None


class Role(enum.StrEnum):
    SCHEDULER = "scheduler"
    STAFF = "staff"
    REVIEWER = "reviewer"
    """Staff who may also mark a language's wording reviewed."""
    ADMIN = "admin"


class Status(enum.StrEnum):
    SCHEDULED = "scheduled"
    RENDERING = "rendering"
    READY = "ready"
    DISPATCHING = "dispatching"
    DELIVERED = "delivered"
    VOICEMAIL = "voicemail"
    CONFIRMED = "confirmed"
    CANCEL_REQUESTED = "cancel_requested"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    NEEDS_STAFF = "needs_staff"
    """Every step of the escalation policy ran without an answer: a person must act."""
    HANDLED = "handled"
    """A staff member marked the reminder handled (``POST /v1/reminders/{id}/handled``)."""


S = Status
NEXT_STATUSES: dict[Status, frozenset[Status]] = {
    S.SCHEDULED: frozenset({S.RENDERING, S.CANCELLED, S.EXPIRED, S.FAILED}),
    S.RENDERING: frozenset({S.READY, S.CANCELLED, S.EXPIRED, S.FAILED}),
    S.READY: frozenset({S.DISPATCHING, S.CANCELLED, S.EXPIRED, S.FAILED}),
    S.DISPATCHING: frozenset(
        {
            S.DELIVERED,
            S.VOICEMAIL,
            S.CONFIRMED,
            S.CANCEL_REQUESTED,
            S.FAILED,
            S.NEEDS_STAFF,
            S.HANDLED,
        }
    ),
    S.DELIVERED: frozenset({S.CONFIRMED, S.CANCEL_REQUESTED, S.NEEDS_STAFF}),
    S.NEEDS_STAFF: frozenset({S.HANDLED, S.DELIVERED, S.CONFIRMED, S.CANCEL_REQUESTED}),
}
"""Allowed moves; a status missing here is final."""
CANCELLABLE = frozenset({S.SCHEDULED, S.RENDERING, S.READY})
IN_THE_LOOP = frozenset({S.DISPATCHING, S.NEEDS_STAFF})
"""A reminder still in its loop: being delivered, waiting for a step, or with the staff.
Staff may mark it handled, and the patient's answer outside a call delivers it."""


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clinic_ids: Mapped[list[str] | None] = mapped_column(JSON)
    """A scheduler key limited to these clinics; None: any clinic (and inline clinics)."""


class Clinic(Base):
    """A clinic's settings, configured once: who calls, when, in which words and voice.

    ``id`` is a slug the caller chooses (``riverside``), used in URLs and on reminders
    and appointments. A deleted clinic keeps its row (``deleted_at``), so the reminders
    and appointments that name it still say whose they were.
    """

    __tablename__ = "clinics"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    spoken_name: Mapped[str | None] = mapped_column(String(200))
    """How the voice says the name, when it differs from how it is written."""
    callback_phone: Mapped[str] = mapped_column(String(20))
    caller_id: Mapped[str | None] = mapped_column(String(20))
    """The ``From`` number of this clinic's calls; None: the service's own number."""
    timezone: Mapped[str] = mapped_column(String(64))
    country: Mapped[str] = mapped_column(String(2))
    """ISO 3166 alpha-2: how a local phone number from this clinic is read."""
    calling_hours_start: Mapped[str] = mapped_column(String(5))
    calling_hours_end: Mapped[str] = mapped_column(String(5))
    """``HH:MM`` local time, inside the legal 08:00-21:00."""
    default_language: Mapped[str] = mapped_column(String(16))
    default_speech_rate: Mapped[str] = mapped_column(String(10))
    channels: Mapped[list[str]] = mapped_column(JSON)
    schedule: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Per kind, the offsets before a visit at which to remind (``schemas.ReminderOffset``)."""
    identifiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Other names the clinic goes by in scheduling systems (HL7 MSH-4, a FHIR identifier)."""
    require_reviewed_wording: Mapped[bool] = mapped_column(Boolean, default=False)
    """Speak only reviewed wording; other languages fall back to ``default_language``."""
    hl7_notes_as_instructions: Mapped[bool] = mapped_column(Boolean, default=False)
    """HL7 NTE comments become the visit's spoken instructions (off: they are free text the
    clinic has not written for patients)."""
    refuse_other_language_text: Mapped[bool] = mapped_column(Boolean, default=False)
    """Refuse a reminder whose location or instructions read as another language than the
    message (``templates.text_language``); off: accept it with a warning."""
    escalation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """What follows a first contact without an answer (``schemas.EscalationPolicy``);
    None: today's behaviour, the first channel only."""
    follow_up_question: Mapped[str] = mapped_column(
        String(20), default="visit_rating", server_default="visit_rating"
    )
    """What this clinic's ``follow_up`` reminders ask (``schemas.FollowUpQuestion``)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AppointmentStatus(enum.StrEnum):
    """Where a visit stands, as the scheduling system says."""

    BOOKED = "booked"
    CANCELLED = "cancelled"
    NOSHOW = "noshow"
    FULFILLED = "fulfilled"


class Appointment(Base):
    """A visit as the clinic's scheduling system last described it; the service plans its
    reminders (``service.planning``) and re-plans them on every change.

    ``revision`` is ours: each stored change adds one, and a change is written only where
    the revision is still the one it was computed from, so of two racing updates one
    re-plans and the other reads the result. ``source_version`` and ``source_updated_at``
    are the source's, and an older one never overwrites a newer one.
    """

    __tablename__ = "appointments"
    __table_args__ = (
        UniqueConstraint("clinic_id", "external_id", name="uq_appointments_clinic_external"),
        Index("ix_appointments_start_id", "start", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"))
    external_id: Mapped[str] = mapped_column(String(200))
    owner_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    provider: Mapped[str | None] = mapped_column(String(120))
    location: Mapped[str | None] = mapped_column(String(200))
    instructions: Mapped[str | None] = mapped_column(Text)
    patient: Mapped[dict[str, Any]] = mapped_column(JSON)
    """PHI, kept only here and in the reminders' facts: name, phone, language, timezone,
    speech_rate, app_recipient_id (defaults already filled in from the clinic)."""
    source_version: Mapped[int | None] = mapped_column(Integer)
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    needs_attention: Mapped[str | None] = mapped_column(String(200))
    """Why the patient cannot be reached (no usable phone, …), in words without PHI; while
    set, nothing is planned. None: reachable."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Hl7Message(Base):
    """An HL7 message already taken, by sending facility and control id (MSH-4, MSH-10):
    a re-sent one gets the same ACK and changes nothing. Holds the outcome, never the
    message's text."""

    __tablename__ = "hl7_messages"
    __table_args__ = (
        UniqueConstraint("facility", "control_id", name="uq_hl7_messages_facility_control"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    facility: Mapped[str] = mapped_column(String(200))
    control_id: Mapped[str] = mapped_column(String(200))
    ack_code: Mapped[str] = mapped_column(String(2))
    outcome: Mapped[str] = mapped_column(String(20))
    """A ``sink.Outcome`` value: stored, needs_attention or out_of_date."""
    appointment_id: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClinicLexiconEntry(Base):
    """How a clinic wants one word said in one language, over the shipped lexicon.

    Applied to the spoken text only (``templates.lexicon.layered``); the transcript keeps
    the written form.
    """

    __tablename__ = "clinic_lexicon_entries"
    __table_args__ = (
        UniqueConstraint("clinic_id", "language", "written", name="uq_clinic_lexicon_written"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"))
    language: Mapped[str] = mapped_column(String(16))
    written: Mapped[str] = mapped_column(String(100))
    spoken: Mapped[str] = mapped_column(String(200))
    match_case: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WordingVersion(Base):
    """One saved version of a clinic's own text for a kind, language and variant.

    Versions are never changed: saving makes the next ``number``, and the newest is the
    one used. A reminder records the version it was rendered with.
    """

    __tablename__ = "wording_versions"
    __table_args__ = (
        UniqueConstraint(
            "clinic_id", "kind", "language", "variant", "number", name="uq_wording_version"
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"))
    kind: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(16))
    variant: Mapped[str] = mapped_column(String(20))
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    created_by_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WordingReview(Base):
    """A reviewer's sign-off on one version of a language's wording, shipped or a clinic's.

    ``wording_hash`` names what was read: the shipped files' hash (``clinic_id`` None), or
    for a clinic the hash of its effective wording of the language (shipped text with the
    clinic's newest versions over it). Any change makes a new hash, so a review never
    carries over to text nobody read.
    """

    __tablename__ = "wording_reviews"
    __table_args__ = (Index("ix_wording_reviews_subject", "language", "clinic_id", "wording_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    language: Mapped[str] = mapped_column(String(16))
    clinic_id: Mapped[str | None] = mapped_column(ForeignKey("clinics.id"))
    wording_hash: Mapped[str] = mapped_column(String(64))
    reviewer: Mapped[str] = mapped_column(String(200))
    """The reviewer's name as they gave it: a native speaker signs for the words."""
    reviewer_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AudioAsset(Base):
    """A rendered audio file, named by the hash of everything that shaped it."""

    __tablename__ = "audio_assets"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    format: Mapped[str] = mapped_column(String(16), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(40))
    path: Mapped[str] = mapped_column(Text)
    duration_s: Mapped[float] = mapped_column(Float)
    engine: Mapped[str] = mapped_column(String(40))
    voice: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AudioBlob(Base):
    """A rendered file's bytes, for ``TELLWELL_AUDIO_STORE=database``: every machine
    sharing the database can serve it (``service/audio_store.py``).

    ``used_at`` is renewed whenever the audio is stored again (a render or a cache hit), so
    retention purges what went unused, as it does by a local file's time.
    """

    __tablename__ = "audio_blobs"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    format: Mapped[str] = mapped_column(String(16), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Reminder(Base):
    __tablename__ = "reminders"
    __table_args__ = (
        Index("ix_reminders_status_send_at", "status", "send_at"),
        Index("ix_reminders_owner_created", "owner_key_id", "created_at"),
        Index("ix_reminders_follow_up", "clinic_id", "follow_up_question", "send_at"),
        ForeignKeyConstraint(
            ["audio_key", "audio_format"], ["audio_assets.key", "audio_assets.format"]
        ),
        ForeignKeyConstraint(
            ["app_audio_key", "app_audio_format"], ["audio_assets.key", "audio_assets.format"]
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20), default=Status.SCHEDULED)
    send_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """After this a reminder is pointless (the appointment has begun)."""
    external_id: Mapped[str | None] = mapped_column(String(200), index=True)
    callback_url: Mapped[str | None] = mapped_column(Text)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The request's patient, clinic and appointment/result blocks: PHI, kept only here."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set while a worker renders or dispatches; a lapsed lease means the worker died."""
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When a job was last enqueued, so the sweeper re-enqueues only lost work."""
    job_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Jobs of this reminder that ended in an unexpected error; a few and it is ``failed``."""
    message_text: Mapped[str | None] = mapped_column(Text)
    message_variant: Mapped[str | None] = mapped_column(String(20))
    audio_key: Mapped[str | None] = mapped_column(String(64))
    audio_format: Mapped[str | None] = mapped_column(String(16))
    voicemail_audio_key: Mapped[str | None] = mapped_column(String(64))
    """Phone reminders: the ``voicemail`` variant, same format as ``audio_format``."""
    wording_version_id: Mapped[str | None] = mapped_column(ForeignKey("wording_versions.id"))
    """The clinic wording its message was rendered with (set at render); None: shipped text."""
    appointment_id: Mapped[str | None] = mapped_column(ForeignKey("appointments.id"), index=True)
    """Set when the service planned this reminder for an appointment."""
    clinic_id: Mapped[str | None] = mapped_column(String(64))
    plan_slot: Mapped[int | None] = mapped_column(Integer)
    """Which offset of the clinic's schedule this reminder is (0 = the first); None for a
    change or cancellation notice."""
    escalation_step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """The escalation step under way: 0 the first contact on ``channel``, n the policy's
    n-th step (``service.escalation``)."""
    follow_up_question: Mapped[str | None] = mapped_column(String(20))
    """``follow_up`` reminders: the question asked (also in ``facts``, here to be counted)."""
    follow_up_answer: Mapped[str | None] = mapped_column(String(10))
    """The patient's answer (``service.follow_ups.answer_for``); None: not answered."""
    follow_up_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    follow_up_needs_staff: Mapped[bool | None] = mapped_column(Boolean)
    """The answer was low or a no: the reminder went to ``needs_staff`` (kept once handled)."""
    app_message_text: Mapped[str | None] = mapped_column(Text)
    """A reminder rendered for a call whose escalation reached the app or a text's listen
    link: the ``app`` variant said there, rendered when that step ran; None until then."""
    app_audio_key: Mapped[str | None] = mapped_column(String(64))
    app_audio_format: Mapped[str | None] = mapped_column(String(16))

    events: Mapped[list[ReminderEvent]] = relationship(
        order_by="ReminderEvent.id", lazy="selectin", cascade="all, delete-orphan"
    )
    audio: Mapped[AudioAsset | None] = relationship(
        lazy="joined", viewonly=True, foreign_keys=[audio_key, audio_format]
    )
    app_audio: Mapped[AudioAsset | None] = relationship(
        viewonly=True, foreign_keys=[app_audio_key, app_audio_format]
    )
    """Loaded when read: only the app and the listen page of a call's reminder need it."""
    attempts: Mapped[list[Attempt]] = relationship(
        order_by="Attempt.started_at", lazy="selectin", cascade="all, delete-orphan"
    )

    def app_message(self) -> tuple[str, AudioAsset] | None:
        """What the app and the listen page give the patient: the ``app`` variant, which
        is the message itself on an app reminder, else the one rendered for its app or
        text step; None while there is none."""
        if self.channel == "app":
            text, asset = self.message_text, self.audio
        else:
            text, asset = self.app_message_text, self.app_audio
        return (text, asset) if text is not None and asset is not None else None


REMINDER_AUDIO = (
    (Reminder.audio_key, Reminder.audio_format),
    (Reminder.voicemail_audio_key, Reminder.audio_format),
    (Reminder.app_audio_key, Reminder.app_audio_format),
)
"""Every place a reminder keeps audio, as (key, format) columns: its message, its
voicemail (in the message's format) and a call's app variant. Retention and erasure ask
this, so a new kind of audio is kept and released everywhere at once."""


class ReminderEvent(Base):
    __tablename__ = "reminder_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reminder_id: Mapped[str] = mapped_column(ForeignKey("reminders.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    detail: Mapped[str | None] = mapped_column(Text)
    step: Mapped[int | None] = mapped_column(Integer)
    """The escalation step this event is about; None for a reminder without a policy."""


class Attempt(Base):
    """One try at delivery, written before the channel is called so a crash leaves a trace."""

    __tablename__ = "attempts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    reminder_id: Mapped[str] = mapped_column(ForeignKey("reminders.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(30))
    answered_by: Mapped[str | None] = mapped_column(String(30))
    digits: Mapped[str | None] = mapped_column(String(40))
    provider_ref: Mapped[str | None] = mapped_column(String(80))
    duration_s: Mapped[float | None] = mapped_column(Float)
    step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """The reminder's escalation step this attempt ran (0: the first contact)."""
    clinic_dial: Mapped[str | None] = mapped_column(String(20))
    """How the patient's call to the clinic (key 0, ``<Dial>``) ended: Twilio's
    ``DialCallStatus`` (``completed``, ``no-answer``, ``busy``, ``failed``...)."""
    speech_result: Mapped[str | None] = mapped_column(String(200))
    """What Twilio heard the patient say on the call (its ``SpeechResult``), last answer."""
    speech_confidence: Mapped[float | None] = mapped_column(Float)
    """Twilio's confidence in ``speech_result``, 0 to 1."""
    provider_status: Mapped[str | None] = mapped_column(String(20))
    """A text's delivery as Twilio last reported it: queued, sent, delivered, undelivered,
    failed (``MessageStatus``)."""
    provider_error: Mapped[str | None] = mapped_column(String(10))
    """Twilio's ``ErrorCode`` for an undelivered or failed text."""


class OptOut(Base):
    """A phone number that must never be called again, kept only as a keyed hash.

    Who set it decides who may lift it (``service.call_policy.NeverCallList.lift``).
    """

    __tablename__ = "opt_outs"

    phone_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    """``keypad`` (the patient pressed 8: their own wish) or ``api``."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    set_by_key_id: Mapped[str | None] = mapped_column(String(32))
    """The API key that set an ``api`` opt-out; None for the patient's own (and older rows)."""


class StaffSession(Base):
    """A signed-in console session, kept on the server so it can be ended there.

    The cookie holds only a random token; the row is found by the token's SHA-256, so a
    copy of this table cannot be replayed as a cookie. Sign-out, the idle and absolute
    limits and a revoked key all end a session here, whatever cookie a browser kept.
    """

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of the session token the cookie carries."""
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(20))
    """``sign_out``, ``idle``, ``max_age`` or ``key_revoked``."""


class WebhookDelivery(Base):
    """A status webhook owed to a reminder's ``callback_url``, kept until it is delivered.

    Written in the same transaction as the status change, so a change is never lost to a
    crash; sent later by a job the sweeper queues. ``message_id`` is the ``webhook-id``
    of every try, so a receiver drops a repeat. One reminder's webhooks go out in ``id``
    order: the next waits until the one before it is delivered or given up.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_pending", "done_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    reminder_id: Mapped[str] = mapped_column(ForeignKey("reminders.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    """When to try next; a claimed delivery is pushed out by a lease, like a reminder."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(20))
    """``delivered``, or ``abandoned`` after the last retry or for a refused target."""


class IdempotencyRecord(Base):
    """A claimed ``Idempotency-Key``: the unique pair makes concurrent duplicates lose."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("api_key_id", "key", name="uq_idempotency_owner_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    api_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AuditEntry(Base):
    """Who read or rendered what. Append-only: the migration forbids UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at_id", "at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_key_id: Mapped[str | None] = mapped_column(String(32), index=True)
    action: Mapped[str] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """What the action did or why, in counts, names and reasons; never PHI (a patient or a
    number appears only as a keyed hash)."""


class StaffAction(Base):
    """What a staff member did about a worklist item's subject (a reminder, an appointment,
    a clinic's language): an item older than the subject's newest action leaves the list
    (``service.worklist``). The ``note`` is the staff member's own words and may name the
    patient: it stays here, shown to staff, never in the audit log."""

    __tablename__ = "staff_actions"
    __table_args__ = (Index("ix_staff_actions_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(20))
    """``handled``, ``resent``."""
    note: Mapped[str | None] = mapped_column(Text)
    actor_key_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DailyRun(Base):
    """A daily task claimed for one UTC day: the primary key lets only one sweeper win it.

    Several sweepers on several machines share the database; each tries to insert the
    day's row, and the one whose insert succeeds runs the task.
    """

    __tablename__ = "daily_runs"

    task: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)


def advance(
    session: Session,
    reminder_id: str,
    to: Status,
    *,
    expect: Status | frozenset[Status] | None = None,
    detail: str | None = None,
    step: int | None = None,
    webhook_data: dict[str, Any] | None = None,
    **values: Any,
) -> bool:
    """Move a reminder to ``to`` if it is in an allowed (and expected) status.

    ``step``: the escalation step the change is about (``service.escalation``), kept on
    the event and in the webhook; ``webhook_data``: more fields for the webhook's ``data``
    (a follow-up's answer). Returns False when another worker or request moved it
    first; nothing is written then.
    """
    sources = [s for s, nexts in NEXT_STATUSES.items() if to in nexts]
    if expect is not None:
        wanted = {expect} if isinstance(expect, Status) else set(expect)
        sources = [s for s in sources if s in wanted]
    now = utcnow()
    moved = session.execute(
        update(Reminder)
        .where(Reminder.id == reminder_id, Reminder.status.in_(sources))
        .values(status=to, updated_at=now, **values)
        .returning(Reminder.callback_url, Reminder.external_id)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if moved is None:
        return False
    session.add(ReminderEvent(reminder_id=reminder_id, status=to, at=now, detail=detail, step=step))
    callback_url, external_id = moved
    if callback_url:
        delivery = status_webhook(reminder_id, external_id, callback_url, to, now, detail, step)
        delivery.payload["data"].update(webhook_data or {})
        session.add(delivery)
    return True


ESCALATED = "escalated"
"""The webhook type (``reminder.escalated``) of an escalation step that ran, waits or was
skipped without changing the status."""


def step_event(session: Session, reminder: Reminder, step: int, detail: str) -> None:
    """Record an escalation step that ran, waits or was skipped, in the current status,
    and tell the scheduler (``reminder.escalated``) when the reminder has a callback."""
    now = utcnow()
    status = Status(reminder.status)
    session.add(
        ReminderEvent(reminder_id=reminder.id, status=status, at=now, detail=detail, step=step)
    )
    if reminder.callback_url:
        session.add(
            status_webhook(
                reminder.id,
                reminder.external_id,
                reminder.callback_url,
                status,
                now,
                detail,
                step,
                event_type=ESCALATED,
            )
        )


def status_webhook(
    reminder_id: str,
    external_id: str | None,
    url: str,
    status: Status,
    at: datetime,
    detail: str | None,
    step: int | None = None,
    event_type: str | None = None,
) -> WebhookDelivery:
    """The Standard Webhooks message telling the scheduler a reminder changed status (or,
    with ``event_type``, something else happened to it). ``data.step`` is there only for
    a reminder with an escalation policy, so other payloads are exactly as before."""
    message_id = f"msg_{new_id()}"
    payload: dict[str, Any] = {
        "type": f"reminder.{event_type or status.value}",
        "timestamp": timestamp(at),
        "data": {
            "id": reminder_id,
            "external_id": external_id,
            "status": status.value,
            "at": timestamp(at),
            "detail": detail,
        },
    }
    if step is not None:
        payload["data"]["step"] = step
    return WebhookDelivery(
        message_id=message_id, reminder_id=reminder_id, url=url, payload=payload, next_attempt_at=at
    )


def audit(
    session: Session,
    actor_key_id: str | None,
    action: str,
    subject_type: str,
    subject_id: str,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            actor_key_id=actor_key_id,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            detail=detail,
        )
    )


class FhirResource(Base):
    """A FHIR resource as its sender last stored it (``service.intake.fhir``).

    ``body`` is PHI (names, telecom) and is returned as stored. An Appointment is also an
    ``appointments`` row (``appointment_id``), which is what plans reminders; this row keeps
    the FHIR shape for ``GET`` and search. ``source_version``/``source_updated_at`` come
    from ``meta.versionId``/``meta.lastUpdated`` and order the sender's updates.
    """

    __tablename__ = "fhir_resources"

    resource_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    appointment_id: Mapped[str | None] = mapped_column(ForeignKey("appointments.id"), index=True)
    patient_id: Mapped[str | None] = mapped_column(String(64), index=True)
    """An Appointment's Patient (its resource id)."""
    source_version: Mapped[int | None] = mapped_column(Integer)
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FhirIdentifier(Base):
    """One ``identifier`` of a stored FHIR resource, for ``?identifier=system|value``."""

    __tablename__ = "fhir_identifiers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["resource_type", "resource_id"],
            ["fhir_resources.resource_type", "fhir_resources.resource_id"],
            ondelete="CASCADE",
        ),
        Index("ix_fhir_identifiers_value", "resource_type", "value"),
    )

    resource_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    system: Mapped[str] = mapped_column(String(255), primary_key=True)
    """"" when the identifier names no system."""
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
