"""The shapes of requests and answers, as API.md describes them.

Unknown fields are refused (``extra="forbid"``): a misspelt ``apointment`` must not pass
silently and leave a patient without the facts. Checks that need more than one field, or
the running configuration, live in ``service.reminders``.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, Literal
from zoneinfo import available_timezones

import phonenumbers
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, field_validator

Kind = Literal[
    "appointment_reminder", "result_ready", "appointment_changed", "appointment_cancelled"
]
"""What the message is about; ``service.reminders.check_message`` says which blocks each needs.

- ``appointment_reminder``: ``appointment`` (a future ``start``).
- ``appointment_changed``: ``appointment`` is the visit as it is *now* (a future ``start``),
  optionally with ``previous_start``, the time it had before, so the patient hears both.
- ``appointment_cancelled``: ``appointment`` is the visit that was cancelled (its ``start``
  still in the future: telling someone about a cancelled visit that already passed is noise).
- ``result_ready``: ``result`` (optional ``ordered_by``), never an ``appointment``.
"""
APPOINTMENT_KINDS: frozenset[str] = frozenset(
    {"appointment_reminder", "appointment_changed", "appointment_cancelled"}
)
ChannelName = Literal["phone", "app"]
Variant = Literal["call", "voicemail", "app"]
SpeechRate = Literal["slow", "normal"]

NAME_MAX_CHARS = 200
TEXT_MAX_CHARS = 500
EXTERNAL_ID_MAX_CHARS = 200


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
    speech_rate: SpeechRate = "normal"

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
    channel: ChannelName = "phone"
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


class Links(BaseModel):
    self: str


class Accepted(BaseModel):
    id: str
    status: str
    send_at: datetime
    links: Links


class EventOut(BaseModel):
    status: str
    at: datetime
    detail: str | None


class AttemptOut(BaseModel):
    id: str
    channel: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    answered_by: str | None
    digits: str | None
    duration_s: float | None = None


class MessageOut(BaseModel):
    text: str
    variant: str
    duration_s: float
    engine: str
    voice: str
    audio_url: str


class ReminderOut(BaseModel):
    id: str
    kind: str
    channel: str
    language: str
    status: str
    send_at: datetime
    external_id: str | None
    created_at: datetime
    events: list[EventOut]
    attempts: list[AttemptOut]
    message: MessageOut | None = None
    links: Links


class ReminderPage(BaseModel):
    items: list[ReminderOut]
    next_cursor: str | None


class PreviewOut(BaseModel):
    text: str
    variant: str
    language: str
    engine: str
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
    engine: str
    voice: str
    reviewed: bool
    kinds: list[str]


@cache
def _zone_names() -> frozenset[str]:
    """IANA names only: ZoneInfo alone would also accept file paths under the zone dir."""
    return frozenset(available_timezones())


class PatientErasureRequest(Strict):
    """Whose data to erase: one phone number or one external id, in the body (never the URL)."""

    phone: str | None = None
    external_id: str | None = Field(default=None, min_length=1, max_length=EXTERNAL_ID_MAX_CHARS)

    _phone = field_validator("phone")(_e164)


class ErasureOut(BaseModel):
    reminders: int
    """Reminders erased by this request (0 when nothing matched, or on a repeat)."""
    stopped: int
    """Of those, reminders still on their way that were cancelled or stopped first."""
    audio_files: int
    attempts: int


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor_key_id: str | None
    actor_name: str | None
    action: str
    subject_type: str
    subject_id: str | None
    detail: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None
