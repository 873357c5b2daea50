"""The shapes of requests and answers, as API.md describes them.

Unknown fields are refused (``extra="forbid"``): a misspelt ``apointment`` must not pass
silently and leave a patient without the facts. Checks that need more than one field, or
the running configuration, live in ``service.reminders``.

Answers are described as they are: every closed set is an enum, and every moment is a
``Timestamp`` (RFC 3339, UTC, whole seconds, ``Z``), so a generated client gets types, not
strings to guess at.
"""

from __future__ import annotations

import enum
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

import phonenumbers
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
)

from service.clock import timestamp
from service.models import Status


class Kind(enum.StrEnum):
    """What the message is about; ``service.reminders.check_message`` says which blocks each needs.

    - ``appointment_reminder``: ``appointment`` (a future ``start``).
    - ``appointment_changed``: ``appointment`` is the visit as it is *now* (a future ``start``),
      optionally with ``previous_start``, the time it had before, so the patient hears both.
    - ``appointment_cancelled``: ``appointment`` is the visit that was cancelled (its ``start``
      still in the future: telling someone about a cancelled visit that already passed is noise).
    - ``result_ready``: ``result`` (optional ``ordered_by``), never an ``appointment``.
    """

    APPOINTMENT_REMINDER = "appointment_reminder"
    RESULT_READY = "result_ready"
    APPOINTMENT_CHANGED = "appointment_changed"
    APPOINTMENT_CANCELLED = "appointment_cancelled"


APPOINTMENT_KINDS: frozenset[str] = frozenset(
    {Kind.APPOINTMENT_REMINDER, Kind.APPOINTMENT_CHANGED, Kind.APPOINTMENT_CANCELLED}
)


class ChannelName(enum.StrEnum):
    """How the patient is reached: a phone call, or audio in their app."""

    PHONE = "phone"
    APP = "app"


class Variant(enum.StrEnum):
    """Which wording: a live answer (with the keypad menu), a voicemail, or the app."""

    CALL = "call"
    VOICEMAIL = "voicemail"
    APP = "app"


class SpeechRate(enum.StrEnum):
    SLOW = "slow"
    NORMAL = "normal"


class DeliveryChannel(enum.StrEnum):
    """What carried an attempt: the ``name`` of a channel in ``workers.channels``."""

    TWILIO = "twilio"
    APP = "app"
    OUTBOX = "outbox"


class AttemptOutcome(enum.StrEnum):
    """How an attempt ended: the status it gave the reminder or, for a call to be tried
    again, Twilio's word for why (``busy``, ``no-answer``, ``failed``, ``canceled``)."""

    DELIVERED = "delivered"
    VOICEMAIL = "voicemail"
    CONFIRMED = "confirmed"
    CANCEL_REQUESTED = "cancel_requested"
    FAILED = "failed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    CANCELED = "canceled"


class EngineName(enum.StrEnum):
    """The speech engine that spoke: the engines in ``voices``."""

    ESPEAK = "espeak"
    PIPER = "piper"
    PYTTSX3 = "pyttsx3"
    GTTS = "gtts"


Timestamp = Annotated[
    datetime,
    PlainSerializer(timestamp, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 in UTC, whole seconds, with Z.",
            "examples": ["2026-12-03T20:30:00Z"],
        }
    ),
]
"""Every moment the API answers, in one format: ``2026-12-03T20:30:00Z``."""

NAME_MAX_CHARS = 200
TEXT_MAX_CHARS = 500
EXTERNAL_ID_MAX_CHARS = 200
OPT_OUT_REASON_MAX_CHARS = 500


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _e164(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as err:
        raise ValueError("must be an E.164 phone number such as +13125550123") from err
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if formatted != value or not phonenumbers.is_valid_number(number):
        raise ValueError("must be a valid E.164 phone number such as +13125550123")
    return formatted


class Patient(Strict):
    name: str = Field(min_length=1, max_length=NAME_MAX_CHARS)
    phone: str | None = None
    timezone: str
    app_recipient_id: str | None = Field(default=None, min_length=1, max_length=200)
    speech_rate: SpeechRate = SpeechRate.NORMAL

    _phone = field_validator("phone")(_e164)

    @field_validator("timezone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        if value not in _zone_names():
            raise ValueError("must be an IANA time zone such as America/Chicago")
        return value


class Clinic(Strict):
    name: str = Field(min_length=1, max_length=NAME_MAX_CHARS)
    callback_phone: str

    _phone = field_validator("callback_phone")(_e164)


class Appointment(Strict):
    """A visit. ``previous_start`` is only for ``appointment_changed``: when it was before."""

    start: AwareDatetime
    previous_start: AwareDatetime | None = None
    provider: str | None = Field(default=None, max_length=NAME_MAX_CHARS)
    location: str | None = Field(default=None, max_length=TEXT_MAX_CHARS)
    instructions: str | None = Field(default=None, max_length=TEXT_MAX_CHARS)


class Result(Strict):
    ordered_by: str | None = Field(default=None, max_length=NAME_MAX_CHARS)


class MessageRequest(Strict):
    """What a message is made of: shared by reminders and previews."""

    kind: Kind
    channel: ChannelName = ChannelName.PHONE
    language: str = Field(min_length=2, max_length=16)
    patient: Patient
    clinic: Clinic
    appointment: Appointment | None = None
    result: Result | None = None

    def facts(self) -> dict[str, Any]:
        """The blocks the templates need, as stored JSON."""
        return self.model_dump(mode="json", include={"patient", "clinic", "appointment", "result"})


class ReminderRequest(MessageRequest):
    send_at: AwareDatetime | None = None
    external_id: str | None = Field(default=None, min_length=1, max_length=EXTERNAL_ID_MAX_CHARS)
    callback_url: HttpUrl | None = None


class PreviewRequest(MessageRequest):
    variant: Variant | None = None


class OptOutRequest(Strict):
    phone: str

    _phone = field_validator("phone")(_e164)


class OptOutRemoval(OptOutRequest):
    reason: str | None = Field(default=None, max_length=OPT_OUT_REASON_MAX_CHARS)
    """Why the number may be called again; required to lift a patient's own opt-out."""

    @field_validator("reason")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return (value or "").strip() or None


class Links(BaseModel):
    self: str


class Accepted(BaseModel):
    id: str
    status: Status
    send_at: Timestamp
    links: Links


class EventOut(BaseModel):
    status: Status
    at: Timestamp
    detail: str | None


class AttemptOut(BaseModel):
    id: str
    channel: DeliveryChannel
    started_at: Timestamp
    ended_at: Timestamp | None
    outcome: AttemptOutcome | None
    answered_by: str | None = Field(
        description="Who or what answered a call, in Twilio's words (human, machine_start, fax…)."
    )
    digits: str | None
    duration_s: float | None = None


class MessageOut(BaseModel):
    text: str
    variant: Variant
    duration_s: float
    engine: EngineName
    voice: str
    audio_url: str


class ReminderOut(BaseModel):
    id: str
    kind: Kind
    channel: ChannelName
    language: str
    status: Status
    send_at: Timestamp
    external_id: str | None
    created_at: Timestamp
    events: list[EventOut]
    attempts: list[AttemptOut]
    message: MessageOut | None = None
    links: Links


class ReminderPage(BaseModel):
    items: list[ReminderOut]
    next_cursor: str | None


class PreviewOut(BaseModel):
    text: str
    variant: Variant
    language: str
    engine: EngineName
    voice: str
    duration_s: float
    reading_grade: float | None
    reviewed: bool
    audio_url: str
    warnings: list[str] = []
    """What to fix before a patient hears it: too long, too hard, says too much."""


class LanguageOut(BaseModel):
    code: str
    name: str
    native_name: str
    engine: EngineName
    voice: str
    reviewed: bool
    kinds: list[Kind]


class Health(BaseModel):
    status: Literal["ok"]


class ReadinessChecks(BaseModel):
    database: str = Field(description="ok, or unreachable (the error's type)")
    queue: str = Field(description="ok, or unreachable (the error's type)")


class Readiness(BaseModel):
    """``/readyz``: 200 with status ok, or 503 with status unavailable and what failed."""

    status: Literal["ok", "unavailable"]
    checks: ReadinessChecks


@cache
def _zone_names() -> frozenset[str]:
    """IANA names only: ZoneInfo alone would also accept file paths under the zone dir."""
    return frozenset(available_timezones())
