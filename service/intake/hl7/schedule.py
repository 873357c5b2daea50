"""What an HL7 v2 SIU message says, as plain frozen dataclasses: the seam to the store step.

``parse.parse_schedule_message`` fills these from the wire; the store step reads them and
never sees HL7 syntax. Values are as the sender wrote them (escape sequences undone),
empty strings where a component was empty; nothing here is normalised for our service
except where a type says so (``Timestamp``). Reading a phone number for a call and a
language for a voice is the store step's call, with the clinic's country
(``service.intake.hl7.phones``, ``service.intake.language``).

Exception tree (under ``service.errors.ServiceError``)::

    MessageRefused      the message cannot be taken: answered AE or AR with an ERR segment
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from service.errors import ServiceError


class Trigger(StrEnum):
    """The SIU trigger events we take (HL7 table 0003), and what each means for a visit."""

    NEW = "S12"
    RESCHEDULED = "S13"
    MODIFIED = "S14"
    CANCELLED = "S15"
    DELETED = "S17"
    NO_SHOW = "S26"


class AckCode(StrEnum):
    """HL7 table 0008, original acknowledgment mode."""

    ACCEPT = "AA"
    ERROR = "AE"
    REJECT = "AR"


class ErrorCode(StrEnum):
    """HL7 table 0357: why a message was not taken, as ERR names it (``ACCEPTED``: taken,
    with a warning)."""

    ACCEPTED = "0"
    SEGMENT_SEQUENCE = "100"
    REQUIRED_FIELD_MISSING = "101"
    DATA_TYPE = "102"
    UNSUPPORTED_MESSAGE_TYPE = "200"
    UNSUPPORTED_EVENT = "201"
    UNSUPPORTED_VERSION = "203"
    UNKNOWN_KEY = "204"
    INTERNAL_ERROR = "207"

    @property
    def text(self) -> str:
        return _ERROR_TEXTS[self]


_ERROR_TEXTS = {
    ErrorCode.ACCEPTED: "Message accepted",
    ErrorCode.SEGMENT_SEQUENCE: "Segment sequence error",
    ErrorCode.REQUIRED_FIELD_MISSING: "Required field missing",
    ErrorCode.DATA_TYPE: "Data type error",
    ErrorCode.UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    ErrorCode.UNSUPPORTED_EVENT: "Unsupported event code",
    ErrorCode.UNSUPPORTED_VERSION: "Unsupported version id",
    ErrorCode.UNKNOWN_KEY: "Unknown key identifier",
    ErrorCode.INTERNAL_ERROR: "Application internal error",
}


@dataclass(frozen=True)
class Location:
    """Where in a message: a segment, or one of its fields (``PID-13``), or a component.

    ``field`` None names the whole segment (a segment that is missing); ``sequence`` counts
    segments of the same id from 1.
    """

    segment: str
    field: int | None = None
    component: int | None = None
    sequence: int = 1

    def __str__(self) -> str:
        text = self.segment
        if self.field is not None:
            text += f"-{self.field}"
            if self.component is not None:
                text += f".{self.component}"
        return text


@dataclass(frozen=True)
class FieldProblem:
    """Something the message lacks or says badly that does not stop it being taken.

    ``reason`` is plain words about the field, never its value: problems are logged and
    shown to staff, and values are patient data.
    """

    location: Location
    reason: str


class MessageRefused(ServiceError):
    """The message cannot be taken as it is; the sender gets ``ack_code`` and an ERR.

    ``reason`` names the field's trouble in plain words, never its value (it goes in the
    ACK and the log).
    """

    def __init__(
        self, ack_code: AckCode, location: Location, error: ErrorCode, reason: str
    ) -> None:
        super().__init__(f"{location}: {reason}")
        self.ack_code = ack_code
        self.location = location
        self.error = error
        self.reason = reason


@dataclass(frozen=True)
class Timestamp:
    """An HL7 DTM/TS value: ``YYYY[MM[DD[HH[MM[SS[.S…]]]]]][+/-ZZZZ]``.

    ``value`` is timezone-aware when the sender wrote an offset; **naive when it did not:
    then it is the wall-clock time at the clinic** and must be placed with the clinic's
    time zone (HL7 says a time without offset is the sender's local time). ``precision``
    is the last unit the sender gave: "year", "month", "day", "hour", "minute", "second".
    """

    value: datetime
    precision: str

    @property
    def has_time_of_day(self) -> bool:
        return self.precision in ("hour", "minute", "second")


@dataclass(frozen=True)
class HierarchicDesignator:
    """An HD value (MSH-4 sending facility, an assigning authority): every component."""

    namespace_id: str
    universal_id: str = ""
    universal_id_type: str = ""

    @property
    def identifiers(self) -> tuple[str, ...]:
        """The ways a clinic record may name this (``Clinic.identifiers``), most specific
        first: ``namespace^universal id^type`` as written, the universal id, the namespace.
        """
        parts = (self.namespace_id, self.universal_id, self.universal_id_type)
        whole = "^".join(parts).rstrip("^")
        candidates = (whole, self.universal_id, self.namespace_id)
        return tuple(dict.fromkeys(c for c in candidates if c))


@dataclass(frozen=True)
class PatientId:
    """One PID-3 identifier (CX): the value, who assigned it and its type code (MR, …)."""

    value: str
    authority: str = ""
    type_code: str = ""


@dataclass(frozen=True)
class PersonName:
    """An XPN or XCN name; ``type_code`` is HL7 table 0200 (L legal, D display, …)."""

    family: str = ""
    given: str = ""
    middle: str = ""
    suffix: str = ""
    prefix: str = ""
    type_code: str = ""

    @property
    def display(self) -> str:
        """How to say the name: prefix, given, family, suffix (the middle name left out)."""
        return " ".join(p for p in (self.prefix, self.given, self.family, self.suffix) if p)


@dataclass(frozen=True)
class PhoneNumber:
    """One XTN repetition of PID-13 (home) or PID-14 (business), as written.

    ``number`` is the dialable part as the sender wrote it: XTN-12 (unformatted), else
    ``+country area local`` from XTN-5..7, else XTN-1 (all that 2.3 senders fill, e.g.
    "(555)555-1234"). ``use`` is table 0201 (PRN home, ORN other home, WPN work, NET
    e-mail, PRS personal, …), ``equipment`` table 0202 (PH phone, CP cell, FX fax,
    Internet, …); either may be empty. ``email`` is XTN-4.
    """

    source: Location
    number: str
    use: str = ""
    equipment: str = ""
    extension: str = ""
    email: str = ""


@dataclass(frozen=True)
class CodedValue:
    """A CE/CWE value: identifier, text, coding system, then the alternate triple."""

    identifier: str = ""
    text: str = ""
    system: str = ""
    alternate_identifier: str = ""
    alternate_text: str = ""
    alternate_system: str = ""

    @property
    def is_empty(self) -> bool:
        return not any(self.in_reading_order)

    @property
    def in_reading_order(self) -> tuple[str, str, str, str]:
        """Codes before words: identifier, alternate identifier, text, alternate text
        (what ``service.intake.language.read_language`` takes)."""
        return (self.identifier, self.alternate_identifier, self.text, self.alternate_text)


@dataclass(frozen=True)
class Patient:
    """PID: who the appointment is for.

    ``name`` is the legal name (XPN type L) when the sender marked one, else the first
    name given. ``language`` is PID-15 as written (HL7 table 0296 or ISO 639, in any of
    the shapes senders use); ``service.intake.language.read_language`` reads it.
    """

    ids: tuple[PatientId, ...]
    name: PersonName
    names: tuple[PersonName, ...]
    phones: tuple[PhoneNumber, ...]
    language: CodedValue


@dataclass(frozen=True)
class Provider:
    """An AIP personnel resource: XCN id and name, and the role (AIP-4)."""

    id: str
    name: PersonName
    role: CodedValue = CodedValue()


@dataclass(frozen=True)
class Place:
    """An AIL location resource (PL): point of care, room, facility, description."""

    point_of_care: str = ""
    room: str = ""
    facility: str = ""
    description: str = ""

    @property
    def display(self) -> str:
        """The most readable name the sender gave for the place."""
        where = " ".join(p for p in (self.point_of_care, self.room) if p)
        return self.description or where or self.facility


@dataclass(frozen=True)
class Note:
    """An NTE comment and the segment it follows (SCH, AIS, AIL, AIP, …): its subject."""

    about: str
    text: str


@dataclass(frozen=True)
class ScheduleMessage:
    """One SIU message as the store step needs it.

    Identity of the message: ``facility`` (MSH-4, every component) and ``control_id``
    (MSH-10): a re-sent message repeats both. ``sent_at`` (MSH-7) orders messages about
    the same appointment: an older one must not overwrite a newer state.

    Identity of the appointment: ``filler_id`` (SCH-2, the scheduling system's id) and
    ``placer_id`` (SCH-1); at least one is present.

    ``start`` comes from TQ1-7 (2.5+), else SCH-11.4 (the TQ start of 2.3-2.4, still sent
    by many 2.5 systems), else the first of AIS-4, AIL-6, AIP-6; ``start_source`` says
    which. A new or rescheduled appointment (S12, S13) always has one; a modification,
    cancellation or no-show may not. See ``Timestamp`` for naive (clinic-local) values.

    ``problems`` lists what is missing or unreadable but did not stop the message.
    """

    trigger: Trigger
    version: str
    control_id: str
    processing_id: str
    sending_application: HierarchicDesignator
    facility: HierarchicDesignator
    sent_at: Timestamp | None
    placer_id: str
    filler_id: str
    start: Timestamp | None
    start_source: Location | None
    duration: timedelta | None
    filler_status: str
    patient: Patient
    services: tuple[CodedValue, ...] = ()
    providers: tuple[Provider, ...] = ()
    places: tuple[Place, ...] = ()
    notes: tuple[Note, ...] = ()
    problems: tuple[FieldProblem, ...] = ()

    @property
    def appointment_id(self) -> str:
        """The id to key the appointment on: the filler's, else the placer's."""
        return self.filler_id or self.placer_id
