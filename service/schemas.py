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
import re
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

import phonenumbers
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    HttpUrl,
    PlainSerializer,
    PrivateAttr,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from service.call_policy import LEGAL_CLOSES, LEGAL_OPENS
from service.clock import timestamp
from service.errors import shape_tag
from service.models import AppointmentStatus, Status


class Kind(enum.StrEnum):
    """What the message is about; ``service.reminders.check_message`` says which blocks each needs.

    - ``appointment_reminder``: ``appointment`` (a future ``start``).
    - ``appointment_changed``: ``appointment`` is the visit as it is *now* (a future ``start``),
      optionally with ``previous_start``, the time it had before, so the patient hears both.
    - ``appointment_cancelled``: ``appointment`` is the visit that was cancelled (its ``start``
      still in the future: telling someone about a cancelled visit that already passed is noise).
    - ``result_ready``: ``result`` (optional ``ordered_by``), never an ``appointment``.
    - ``follow_up``: after a visit or a resolved request, one question answered by key;
      optional ``follow_up`` (the question; default: the clinic's), never an
      ``appointment`` or a ``result``.
    """

    APPOINTMENT_REMINDER = "appointment_reminder"
    RESULT_READY = "result_ready"
    APPOINTMENT_CHANGED = "appointment_changed"
    APPOINTMENT_CANCELLED = "appointment_cancelled"
    FOLLOW_UP = "follow_up"


class FollowUpQuestion(enum.StrEnum):
    """What a ``follow_up`` asks: ``visit_rating`` (keys 1-5, poor to very good) or
    ``resolved`` (key 1 yes, 2 no); ``templates.FOLLOW_UP_ANSWERS`` holds the keys."""

    VISIT_RATING = "visit_rating"
    RESOLVED = "resolved"


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


class SentencePause(enum.StrEnum):
    """The silence between sentences: ``normal`` (0.35 s) or ``long`` (1 s)."""

    NORMAL = "normal"
    LONG = "long"


SPEECH_RATE_HELP = "The accessibility profile: how fast the voice speaks."
SENTENCE_PAUSE_HELP = (
    "The accessibility profile: the silence between sentences, normal (0.35 s) or long (1 s)."
)
REPEAT_MESSAGE_HELP = (
    "The accessibility profile: a call says the whole message twice, the language's "
    '"Here is the message again." between.'
)
OFFER_REPEAT_TWICE_HELP = (
    "The accessibility profile: a call's keypad menu offers the repeat key (9) once more, last."
)


class DeliveryChannel(enum.StrEnum):
    """What carried an attempt: the ``name`` of a channel in ``workers.channels``."""

    TWILIO = "twilio"
    APP = "app"
    OUTBOX = "outbox"
    SMS = "sms"
    """A text message through Twilio Messages (an escalation step)."""


class StepChannel(enum.StrEnum):
    """What an escalation step does: call, send to the app, text a listen link, or hand
    the reminder to the clinic's staff."""

    PHONE = "phone"
    APP = "app"
    SMS = "sms"
    STAFF = "staff"


class OnVoicemail(enum.StrEnum):
    """A voicemail left is delivered but unconfirmed: stop there, or go on to the next step."""

    STOP = "stop"
    CONTINUE = "continue"


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


class TextStatus(enum.StrEnum):
    """A text's delivery as Twilio reported it (``service.escalation.TEXT_STATUSES``)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"


class EngineName(enum.StrEnum):
    """The speech engine that spoke: the engines in ``voices``."""

    ESPEAK = "espeak"
    PIPER = "piper"
    PYTTSX3 = "pyttsx3"
    GTTS = "gtts"
    HTTP = "http"
    PICO = "pico"
    RHVOICE = "rhvoice"


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

NAME_MAX_CHARS = 120
LOCATION_MAX_CHARS = 200
INSTRUCTIONS_MAX_CHARS = 300
"""Free text is spoken: these keep most calls near a minute; the render refuses any call over
``service.call_policy.CALL_MESSAGE_MAX_S`` at the patient's rate."""
EXTERNAL_ID_MAX_CHARS = 200
APP_RECIPIENT_ID_MAX_CHARS = 200
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
"""Any moment outside these years is a typo or a probe; the reminder rules bound it closer."""

CONTROL_CHARACTERS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb]"
)
"""C0/C1 controls (tab, line feed and carriage return stay), line and paragraph separators,
bidirectional embeddings, overrides and isolates (U+202E turns text around on screen), the
byte-order mark and interlinear annotations: none belongs in a name or an instruction, and
each can hide or reorder what staff read. Zero-width joiners stay (Persian and Indic names
need them)."""


def _no_control_characters(value: str) -> str:
    if found := CONTROL_CHARACTERS.search(value):
        raise ValueError(f"contains the control character U+{ord(found.group()):04X}")
    return value


Text = Annotated[str, AfterValidator(_no_control_characters)]
"""Text from outside that is stored, shown or spoken."""


def _in_range(moment: datetime) -> datetime:
    try:
        year = moment.astimezone(UTC).year
    except OverflowError:
        year = 0
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise ValueError(f"must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return moment


Moment = Annotated[AwareDatetime, AfterValidator(_in_range)]
"""A moment from outside: with its offset, and in a range a clinic's calendar can hold."""
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
    name: Text = Field(min_length=1, max_length=NAME_MAX_CHARS)
    phone: str | None = None
    timezone: str | None = Field(
        default=None,
        description="An IANA time zone. Required with an inline clinic; with a clinic by id, "
        "the clinic's time zone when left out.",
    )
    app_recipient_id: Text | None = Field(
        default=None, min_length=1, max_length=APP_RECIPIENT_ID_MAX_CHARS
    )
    speech_rate: SpeechRate = Field(default=SpeechRate.NORMAL, description=SPEECH_RATE_HELP)
    sentence_pause: SentencePause = Field(
        default=SentencePause.NORMAL, description=SENTENCE_PAUSE_HELP
    )
    repeat_message: bool = Field(default=False, strict=True, description=REPEAT_MESSAGE_HELP)
    offer_repeat_twice: bool = Field(
        default=False, strict=True, description=OFFER_REPEAT_TWICE_HELP
    )

    _phone = field_validator("phone")(_e164)

    @field_validator("timezone")
    @classmethod
    def _iana_zone(cls, value: str | None) -> str | None:
        return None if value is None else _iana_zone(value)


def _iana_zone(value: str) -> str:
    if value not in _zone_names():
        raise ValueError("must be an IANA time zone such as America/Chicago")
    return value


class Clinic(Strict):
    """A clinic given inline, with every fact its messages need."""

    name: Text = Field(min_length=1, max_length=NAME_MAX_CHARS)
    callback_phone: str

    _phone = field_validator("callback_phone")(_e164)


CLINIC_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
ClinicId = Annotated[
    str,
    Field(
        pattern=CLINIC_ID_PATTERN,
        description="A slug the clinic chose: lower-case letters, digits and hyphens.",
        examples=["riverside"],
    ),
]


class ClinicRef(Strict):
    """A clinic configured with ``POST /v1/clinics``, named by its id: its record fills the
    name (the spoken name), call-back phone, caller ID, calling hours and time zone."""

    id: ClinicId


def _clinic_shape(value: Any) -> str:
    """Which of the two clinic shapes a request sent: one with an ``id`` is a reference."""
    by_id = isinstance(value, ClinicRef) or (isinstance(value, dict) and "id" in value)
    return CLINIC_BY_ID if by_id else CLINIC_INLINE


CLINIC_INLINE, CLINIC_BY_ID = shape_tag("inline clinic"), shape_tag("clinic by id")
ClinicChoice = Annotated[
    Annotated[Clinic, Tag(CLINIC_INLINE)] | Annotated[ClinicRef, Tag(CLINIC_BY_ID)],
    Discriminator(_clinic_shape),
    Field(description='The clinic inline (name, callback_phone) or by id: {"id": "riverside"}.'),
]
"""Chosen by the presence of ``id``, so a mistake is reported against the shape that was
meant (``clinic.callback_phone``), not against both."""


class Appointment(Strict):
    """A visit. ``previous_start`` is only for ``appointment_changed``: when it was before."""

    start: Moment
    previous_start: Moment | None = None
    provider: Text | None = Field(default=None, max_length=NAME_MAX_CHARS)
    location: Text | None = Field(default=None, max_length=LOCATION_MAX_CHARS)
    instructions: Text | None = Field(default=None, max_length=INSTRUCTIONS_MAX_CHARS)


class Result(Strict):
    ordered_by: Text | None = Field(default=None, max_length=NAME_MAX_CHARS)


class FollowUp(Strict):
    """A ``follow_up``'s question, over the clinic's ``follow_up_question``."""

    question: FollowUpQuestion


class MessageRequest(Strict):
    """What a message is made of: shared by reminders and previews."""

    kind: Kind
    channel: ChannelName = ChannelName.PHONE
    language: Text = Field(min_length=2, max_length=16)
    patient: Patient
    clinic: ClinicChoice
    appointment: Appointment | None = None
    result: Result | None = None
    follow_up: FollowUp | None = Field(
        default=None,
        description="Only for kind follow_up: the question to ask; default: the clinic's "
        "follow_up_question (visit_rating for an inline clinic).",
    )
    _clinic_facts: dict[str, Any] | None = PrivateAttr(default=None)
    _clinic_timezone: str | None = PrivateAttr(default=None)

    def use_clinic(self, facts: dict[str, Any], timezone: str) -> None:
        """Take the facts of the clinic named by id (``service.clinics.resolve_clinic``)."""
        self._clinic_facts, self._clinic_timezone = facts, timezone

    @property
    def clinic_id(self) -> str | None:
        """The clinic record the message is from; None for an inline clinic."""
        return self.clinic.id if isinstance(self.clinic, ClinicRef) else None

    @property
    def patient_timezone(self) -> str | None:
        """The patient's own time zone, else their clinic's (a clinic by id only)."""
        return self.patient.timezone or self._clinic_timezone

    def facts(self) -> dict[str, Any]:
        """The blocks the templates need, as stored JSON: a clinic by id as its record said
        then (so a clinic edited later does not change a message already planned)."""
        facts = self.model_dump(mode="json", include={"patient", "clinic", "appointment", "result"})
        facts["patient"]["timezone"] = self.patient_timezone
        if self._clinic_facts is not None:
            facts["clinic"] = self._clinic_facts
        if self.kind == Kind.FOLLOW_UP:
            facts["follow_up"] = {"question": self.follow_up_question}
        return facts

    @property
    def follow_up_question(self) -> FollowUpQuestion:
        """The question a follow_up asks: its own, else its clinic's, else the default."""
        if self.follow_up is not None:
            return self.follow_up.question
        clinic = self._clinic_facts or {}
        return FollowUpQuestion(clinic.get("follow_up_question", FollowUpQuestion.VISIT_RATING))


STEP_WAIT_MAX_MINUTES = 7 * 24 * 60
ESCALATION_STEPS_MAX = 8
"""More steps than this is nagging, not reaching."""


class EscalationStep(Strict):
    """One step after the first contact: its channel, and how long to wait after the step
    before it ended without an answer."""

    channel: StepChannel
    wait_minutes: int = Field(ge=0, le=STEP_WAIT_MAX_MINUTES)


class EscalationPolicy(Strict):
    """What follows a first contact without an answer, in order (``service.escalation``).
    No steps: the first contact only, as without a policy."""

    steps: list[EscalationStep] = Field(default_factory=list, max_length=ESCALATION_STEPS_MAX)
    on_voicemail: OnVoicemail = OnVoicemail.STOP

    @field_validator("steps")
    @classmethod
    def _staff_last(cls, steps: list[EscalationStep]) -> list[EscalationStep]:
        if any(step.channel == StepChannel.STAFF for step in steps[:-1]):
            raise ValueError("a staff step can only be the last: nothing follows a person")
        return steps

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class ReminderRequest(MessageRequest):
    escalation: EscalationPolicy | None = Field(
        default=None,
        description="Overrides the clinic's escalation policy for this reminder; "
        '{"steps": []} turns it off.',
    )
    send_at: Moment | None = None
    external_id: Text | None = Field(default=None, min_length=1, max_length=EXTERNAL_ID_MAX_CHARS)
    callback_url: HttpUrl | None = None

    def facts(self) -> dict[str, Any]:
        """As a message's, plus the reminder's own escalation policy when it sets one
        (it wins over the clinic's, ``service.escalation.policy_of``)."""
        facts = super().facts()
        if self.escalation is not None:
            facts["escalation"] = self.escalation.stored()
        return facts


class PreviewRequest(MessageRequest):
    variant: Variant | None = None
    wording_version: int | None = Field(
        default=None,
        ge=1,
        description="Preview this version of the clinic's wording (needs clinic.id); "
        "default: the version in use.",
    )


# -- clinics ---------------------------------------------------------------------------

HOUR_MINUTE_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
HourMinute = Annotated[
    str, Field(pattern=HOUR_MINUTE_PATTERN, description="Local time, HH:MM.", examples=["10:00"])
]
DAYS_BEFORE_MAX = 60
HOURS_BEFORE_MAX = 72
SCHEDULE_OFFSETS_MAX = 10
"""More reminders than this for one visit is nagging, not reminding."""
IDENTIFIERS_MAX = 20
IDENTIFIER_MAX_CHARS = 200
DEFAULT_CALLING_HOURS = {
    "start": LEGAL_OPENS.strftime("%H:%M"),
    "end": LEGAL_CLOSES.strftime("%H:%M"),
}
"""The widest hours the law allows, and the hours of a clinic that sets none."""
DEFAULT_SCHEDULE: dict[str, list[dict[str, Any]]] = {
    "appointment_reminder": [{"days_before": 3, "at": "10:00"}, {"hours_before": 2}]
}


def _is_none(value: object) -> bool:
    return value is None


class CallingHoursSpec(Strict):
    """When a clinic's patients may be called, local time: [start, end) inside 08:00-21:00."""

    start: HourMinute = DEFAULT_CALLING_HOURS["start"]
    end: HourMinute = DEFAULT_CALLING_HOURS["end"]

    @model_validator(mode="after")
    def _inside_legal_hours(self) -> CallingHoursSpec:
        legal = f"{DEFAULT_CALLING_HOURS['start']}-{DEFAULT_CALLING_HOURS['end']}"
        # HH:MM strings compare as the times they name.
        if not DEFAULT_CALLING_HOURS["start"] <= self.start < DEFAULT_CALLING_HOURS["end"]:
            raise ValueError(f"start must be inside the legal calling hours {legal}")
        if not DEFAULT_CALLING_HOURS["start"] < self.end <= DEFAULT_CALLING_HOURS["end"]:
            raise ValueError(f"end must be inside the legal calling hours {legal}")
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class ReminderOffset(Strict):
    """When to remind, before the visit: ``{"days_before": N, "at": "HH:MM"}`` (N days
    before, at that local time) or ``{"hours_before": N}``; never both."""

    # Each offset is written in its own shape only, without the other's empty fields.
    days_before: int | None = Field(default=None, ge=1, le=DAYS_BEFORE_MAX, exclude_if=_is_none)
    at: HourMinute | None = Field(default=None, exclude_if=_is_none)
    hours_before: int | None = Field(default=None, ge=1, le=HOURS_BEFORE_MAX, exclude_if=_is_none)

    @model_validator(mode="after")
    def _one_shape(self) -> ReminderOffset:
        if self.hours_before is not None:
            if self.days_before is not None or self.at is not None:
                raise ValueError("takes either hours_before, or days_before with at; not both")
        elif self.days_before is None or self.at is None:
            raise ValueError("needs days_before with at, or hours_before")
        return self


class ReminderSchedule(Strict):
    """Per kind, the offsets before a visit at which to remind, in order."""

    appointment_reminder: list[ReminderOffset] = Field(
        default_factory=lambda: [
            ReminderOffset(**offset) for offset in DEFAULT_SCHEDULE["appointment_reminder"]
        ],
        max_length=SCHEDULE_OFFSETS_MAX,
    )

    @field_validator("appointment_reminder")
    @classmethod
    def _no_duplicates(cls, offsets: list[ReminderOffset]) -> list[ReminderOffset]:
        seen = [offset.model_dump() for offset in offsets]
        if any(seen.index(offset) != i for i, offset in enumerate(seen)):
            raise ValueError("lists the same offset twice")
        return offsets

    def stored(self) -> dict[str, Any]:
        """The JSON ``Clinic.schedule`` keeps: each offset in its own shape only."""
        return self.model_dump(mode="json")


def _iso_country(value: str) -> str:
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("must be an ISO 3166 alpha-2 country code such as US")
    return value


class ClinicSettings(Strict):
    """Everything about a clinic but its id: what ``PATCH`` may change."""

    display_name: Text = Field(min_length=1, max_length=NAME_MAX_CHARS)
    spoken_name: Text | None = Field(
        default=None,
        min_length=1,
        max_length=NAME_MAX_CHARS,
        description="How the voice says the name, when it differs from display_name.",
    )
    callback_phone: str = Field(description="E.164: the number patients call back.")
    caller_id: str | None = Field(
        default=None,
        description="E.164: the From number of this clinic's calls; none: the service's own.",
    )
    timezone: str = Field(description="IANA time zone, such as America/Chicago.")
    country: str = Field(description="ISO 3166 alpha-2: how local phone numbers are read.")
    calling_hours: CallingHoursSpec = Field(default_factory=CallingHoursSpec)
    default_language: str = Field(default="en", min_length=2, max_length=16)
    default_speech_rate: SpeechRate = SpeechRate.NORMAL
    channels: list[ChannelName] = Field(
        default_factory=lambda: [ChannelName.PHONE],
        min_length=1,
        description="The channels the clinic reaches patients by, in order of preference.",
    )
    identifiers: list[Annotated[Text, Field(min_length=1, max_length=IDENTIFIER_MAX_CHARS)]] = (
        Field(
            default_factory=list,
            max_length=IDENTIFIERS_MAX,
            description="Other names of the clinic in scheduling systems (HL7 MSH-4, FHIR).",
        )
    )
    require_reviewed_wording: bool = False
    hl7_notes_as_instructions: bool = Field(
        default=False,
        description="HL7 NTE comments become the visit's spoken instructions (docs/hl7.md).",
    )
    refuse_other_language_text: bool = Field(
        default=False,
        description="Refuse (422) a reminder whose appointment.location or "
        "appointment.instructions reads as another language than the message; "
        "off: accept it with a warning.",
    )
    schedule: ReminderSchedule = Field(default_factory=ReminderSchedule)
    escalation: EscalationPolicy | None = Field(
        default=None,
        description="What follows a first contact without an answer; none: nothing.",
    )
    follow_up_question: FollowUpQuestion = Field(
        default=FollowUpQuestion.VISIT_RATING,
        description="What this clinic's follow_up reminders ask unless a reminder says "
        "otherwise: visit_rating (1-5) or resolved (yes/no).",
    )

    _phones = field_validator("callback_phone", "caller_id")(_e164)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _iana_zone(value)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        return _iso_country(value)

    @field_validator("channels")
    @classmethod
    def _distinct_channels(cls, channels: list[ChannelName]) -> list[ChannelName]:
        if len(set(channels)) != len(channels):
            raise ValueError("lists a channel twice")
        return channels


class ClinicCreate(ClinicSettings):
    id: ClinicId


class ClinicPatch(Strict):
    """Only the fields sent change (JSON merge): a field set to null is cleared, which only
    ``spoken_name`` and ``caller_id`` may be. The result is checked as a whole clinic."""

    display_name: str | None = None
    spoken_name: str | None = None
    callback_phone: str | None = None
    caller_id: str | None = None
    timezone: str | None = None
    country: str | None = None
    calling_hours: CallingHoursSpec | None = None
    default_language: str | None = None
    default_speech_rate: SpeechRate | None = None
    channels: list[ChannelName] | None = None
    identifiers: list[str] | None = None
    require_reviewed_wording: bool | None = None
    hl7_notes_as_instructions: bool | None = None
    refuse_other_language_text: bool | None = None
    schedule: ReminderSchedule | None = None
    escalation: EscalationPolicy | None = None
    follow_up_question: FollowUpQuestion | None = None


class OptOutRequest(Strict):
    phone: str

    _phone = field_validator("phone")(_e164)


class OptOutRemoval(OptOutRequest):
    reason: Text | None = Field(default=None, max_length=OPT_OUT_REASON_MAX_CHARS)
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
    warnings: list[str] = []
    """What staff should fix though the reminder was accepted: free text in another
    language than the message."""


class EventOut(BaseModel):
    status: Status
    at: Timestamp
    detail: str | None
    step: int | None = Field(
        default=None,
        description="The escalation step the event is about (0: the first contact); "
        "null for a reminder without an escalation policy.",
    )


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
    speech_result: str | None = Field(
        default=None,
        description="What Twilio heard the patient say on a call (spoken replies), last answer.",
    )
    speech_confidence: float | None = Field(
        default=None, description="Twilio's confidence in speech_result, 0 to 1."
    )
    provider_status: TextStatus | None = Field(
        default=None, description="A text's delivery as Twilio reported it."
    )
    provider_error: str | None = Field(
        default=None, description="Twilio's error code for an undelivered or failed text."
    )


class MessageOut(BaseModel):
    text: str
    variant: Variant
    duration_s: float
    engine: EngineName
    voice: str
    audio_url: str


class FollowUpOut(BaseModel):
    """A follow_up's question and the patient's answer, once there is one."""

    question: FollowUpQuestion
    answer: str | None = Field(
        description="The answer given: 1-5 for visit_rating, yes or no for resolved; "
        "null until the patient answers."
    )
    answered_at: Timestamp | None
    needs_staff: bool = Field(
        description="A low score (1 or 2 of 5) or a no: the reminder went to needs_staff."
    )


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
    escalation_step: int = Field(
        default=0, description="The escalation step under way or last run (0: the first contact)."
    )
    follow_up: FollowUpOut | None = Field(
        default=None, description="Only for kind follow_up: the question and its answer."
    )
    links: Links


class ReminderPage(BaseModel):
    items: list[ReminderOut]
    next_cursor: str | None


class AccessProfileOut(BaseModel):
    """The patient's accessibility profile as the preview applied it."""

    speech_rate: SpeechRate
    sentence_pause: SentencePause
    repeat_message: bool
    offer_repeat_twice: bool


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
    wording_version: int | None = None
    """The clinic wording version it said; None: the shipped text."""
    profile: AccessProfileOut = Field(
        description="The patient's accessibility profile, as the preview applied it."
    )
    hearing_s: float = Field(
        description="One hearing of the message: duration_s is twice this plus the lead-in "
        "when the profile repeats the message on a call."
    )


class ReviewOut(BaseModel):
    """Who signed which version of a language's wording, and when."""

    reviewer: str
    reviewed_at: Timestamp
    version: str = Field(description="The wording's content hash (SHA-256, hex).")
    clinic_id: str | None = Field(description="None: the shipped wording.")


class LanguageOut(BaseModel):
    code: str
    name: str
    native_name: str
    engine: EngineName | None = Field(
        description="The engine that speaks it; null when unavailable."
    )
    voice: str | None = Field(description="The engine's voice; null when unavailable.")
    reviewed: bool
    kinds: list[Kind] = Field(description="The kinds it can say here; empty when unavailable.")
    version: str = Field(description="The shipped wording's content hash (SHA-256, hex).")
    review: ReviewOut | None = Field(
        default=None, description="The review of this version of the shipped wording, if any."
    )
    available: bool = Field(
        default=True, description="False: written but not spoken here; see unavailable_reason."
    )
    unavailable_reason: str | None = Field(
        default=None, description="Why it cannot be spoken here (no voice, or its engine is off)."
    )


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
    appointments: int = 0
    """Appointments whose patient was erased by this request (0 on a repeat)."""


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


class ClinicOut(ClinicCreate):
    created_at: Timestamp
    updated_at: Timestamp
    links: Links


class ClinicList(BaseModel):
    items: list[ClinicOut]


# -- appointments -------------------------------------------------------------------------

APPOINTMENT_EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:~-]{0,199}$"
"""A scheduling system's appointment id as it appears in a URL: letters, digits and
``. _ : ~ -``, up to 200 characters (nothing a path or a log would misread)."""


class AppointmentPatient(Strict):
    """Who the visit is for; what is left out comes from the clinic's defaults."""

    name: Text = Field(min_length=1, max_length=NAME_MAX_CHARS)
    phone: str | None = None
    language: Text | None = Field(default=None, min_length=2, max_length=16)
    timezone: str | None = None
    speech_rate: SpeechRate | None = Field(
        default=None, description=SPEECH_RATE_HELP + " Default: the clinic's."
    )
    sentence_pause: SentencePause = Field(
        default=SentencePause.NORMAL, description=SENTENCE_PAUSE_HELP
    )
    repeat_message: bool = Field(default=False, strict=True, description=REPEAT_MESSAGE_HELP)
    offer_repeat_twice: bool = Field(
        default=False, strict=True, description=OFFER_REPEAT_TWICE_HELP
    )
    app_recipient_id: Text | None = Field(
        default=None, min_length=1, max_length=APP_RECIPIENT_ID_MAX_CHARS
    )

    def access_facts(self) -> dict[str, Any]:
        """The profile's choices beyond speech rate that differ from the standard: stored
        only then, so a visit stored before profiles existed, sent again, is "unchanged"."""
        chosen = {
            "sentence_pause": self.sentence_pause.value,
            "repeat_message": self.repeat_message,
            "offer_repeat_twice": self.offer_repeat_twice,
        }
        standard = {"sentence_pause": SentencePause.NORMAL.value}
        return {
            name: value for name, value in chosen.items() if value and value != standard.get(name)
        }

    _phone = field_validator("phone")(_e164)

    @field_validator("timezone")
    @classmethod
    def _iana_zone(cls, value: str | None) -> str | None:
        if value is not None and value not in _zone_names():
            raise ValueError("must be an IANA time zone such as America/Chicago")
        return value


class AppointmentRequest(Strict):
    """``PUT /v1/appointments/{clinic_id}/{external_id}``: the visit as the source has it now.

    ``version`` or ``updated_at`` orders the source's updates: an older one is refused.
    """

    patient: AppointmentPatient
    start: Moment
    status: AppointmentStatus = AppointmentStatus.BOOKED
    provider: Text | None = Field(default=None, max_length=NAME_MAX_CHARS)
    location: Text | None = Field(default=None, max_length=LOCATION_MAX_CHARS)
    instructions: Text | None = Field(default=None, max_length=INSTRUCTIONS_MAX_CHARS)
    version: int | None = Field(default=None, ge=0, le=2**62)
    updated_at: Moment | None = None


class AppointmentPatientOut(BaseModel):
    """The visit's patient; once erased, only language, time zone and speech rate remain."""

    name: str | None = Field(default=None, description="null once the patient's data was erased.")
    phone: str | None = None
    language: str
    timezone: str
    speech_rate: SpeechRate
    sentence_pause: SentencePause = SentencePause.NORMAL
    repeat_message: bool = False
    offer_repeat_twice: bool = False
    app_recipient_id: str | None = None
    erased_at: Timestamp | None = Field(
        default=None, description="When the patient's data was erased (DELETE /v1/patients)."
    )


class AppointmentReminderOut(BaseModel):
    """One message planned or sent for the visit."""

    id: str
    kind: Kind
    channel: ChannelName
    status: Status
    send_at: Timestamp
    plan_slot: int | None = Field(
        description="Which offset of the clinic's schedule (0 = first); null for a notice."
    )
    links: Links


class AppointmentOut(BaseModel):
    id: str
    clinic_id: str
    external_id: str
    status: AppointmentStatus
    start: Timestamp
    provider: str | None
    location: str | None
    instructions: str | None
    patient: AppointmentPatientOut
    needs_attention: str | None = Field(
        default=None,
        description="Why the patient cannot be reached (no reminder is planned); null: reachable.",
    )
    version: int | None
    updated_at: Timestamp | None = Field(description="The source's updated_at, as last sent.")
    created_at: Timestamp
    recorded_at: Timestamp = Field(description="When the service last stored a change.")
    reminders: list[AppointmentReminderOut]
    links: Links


class AppointmentWritten(AppointmentOut):
    change: Literal["created", "updated", "unchanged"]
    warnings: list[str] = Field(
        default=[],
        description="What staff should fix though the visit was stored: its location or "
        "instructions read as another language than the patient's, which the voice would "
        "read with the wrong sounds. Not stored; said on every write of such text.",
    )


class AppointmentPage(BaseModel):
    items: list[AppointmentOut]
    next_cursor: str | None


WRITTEN_MAX_CHARS = 100
SPOKEN_MAX_CHARS = 200
WORDING_MAX_CHARS = 2000
"""A minute of speech is about 150 words; the length gate decides, this only bounds input."""
REVIEWER_MAX_CHARS = 200


class LexiconEntryIn(Strict):
    """How the voice should say ``written``: applied to spoken text only."""

    written: Text = Field(min_length=1, max_length=WRITTEN_MAX_CHARS)
    spoken: Text = Field(min_length=1, max_length=SPOKEN_MAX_CHARS)
    match_case: bool = False


class LexiconEntryOut(BaseModel):
    id: str
    written: str
    spoken: str
    match_case: bool
    updated_at: Timestamp


class LexiconOut(BaseModel):
    clinic_id: str
    language: str
    entries: list[LexiconEntryOut]


class AuditionIn(Strict):
    """A word and how to say it, to hear both before saving."""

    written: Text = Field(min_length=1, max_length=WRITTEN_MAX_CHARS)
    spoken: Text = Field(min_length=1, max_length=SPOKEN_MAX_CHARS)


class Sound(BaseModel):
    audio_url: str
    duration_s: float
    engine: EngineName
    voice: str


class AuditionOut(BaseModel):
    written: Sound = Field(description="The word as the engine says it on its own.")
    spoken: Sound = Field(description="The spoken form, as the entry would make it say it.")


class WordingIn(Strict):
    text: Text = Field(min_length=1, max_length=WORDING_MAX_CHARS)


class WordingVersionOut(BaseModel):
    id: str
    clinic_id: str
    kind: Kind
    language: str
    variant: Variant
    number: int
    text: str
    created_at: Timestamp


class WordingVersionList(BaseModel):
    items: list[WordingVersionOut]


class ClinicWordingOut(BaseModel):
    """A clinic's wording of one language as patients hear it now, and its review."""

    clinic_id: str
    language: str
    version: str = Field(description="Content hash of the wording in use (SHA-256, hex).")
    reviewed: bool
    review: ReviewOut | None
    messages: list[WordingVersionOut] = Field(
        description="The clinic's version in use per kind and variant; others are shipped."
    )


class ReviewIn(Strict):
    reviewer: Text = Field(min_length=1, max_length=REVIEWER_MAX_CHARS)
    version: str = Field(pattern=r"^[0-9a-f]{64}$", description="The content hash read.")


# -- follow-up answers ---------------------------------------------------------------------

FOLLOW_UP_WEEKS_MAX = 53


class FollowUpWeek(BaseModel):
    """One ISO week of a clinic's follow_up reminders for one question (by send time in
    the clinic's time zone): counts only, never a patient."""

    week: str = Field(description="ISO 8601 week, such as 2026-W49.", examples=["2026-W49"])
    question: FollowUpQuestion
    sent: int = Field(description="follow_up reminders due to be sent that week.")
    answered: int
    answers: dict[str, int] = Field(
        description="How many gave each answer: 1-5 for visit_rating, yes/no for resolved."
    )
    average: float | None = Field(
        description="visit_rating: the mean score, 2 decimals; null for resolved or no answer."
    )
    needs_staff: int = Field(description="Answers that sent the reminder to staff.")


class FollowUpReport(BaseModel):
    clinic_id: str
    weeks: list[FollowUpWeek] = Field(description="Newest week first; weeks with none left out.")
