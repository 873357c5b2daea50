"""Parse an HL7 v2 SIU message (versions 2.3 to 2.8) into a ``ScheduleMessage``.

The ``hl7`` library splits the message with the sender's own delimiters (MSH-1, MSH-2)
and undoes escape sequences; ``_Segment`` reads its tree, whose shape differs between a
plain value and one with components, as one shape: repetitions of components of
subcomponents. Segment separators are read as HL7 has them (CR) and as files and some
engines write them (LF, CRLF).

What stops a message is raised as ``MessageRefused`` naming the segment and field: not
HL7 at all, no MSH-10, a type or trigger we do not take (AR), a version outside 2.3-2.8
(AR), no SCH or PID segment, no appointment id, and a new or rescheduled appointment
without a readable start. What is missing or unreadable but leaves the message usable is
listed in ``ScheduleMessage.problems``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import hl7
import hl7.containers
import hl7.util
from hl7.exceptions import HL7Exception

from service.intake.hl7.schedule import (
    AckCode,
    CodedValue,
    ErrorCode,
    FieldProblem,
    HierarchicDesignator,
    Location,
    MessageRefused,
    Note,
    Patient,
    PatientId,
    PersonName,
    PhoneNumber,
    Place,
    Provider,
    ScheduleMessage,
    Timestamp,
    Trigger,
)
from service.intake.hl7.values import read_duration, read_timestamp

# The library logs the value it could not unescape (a name, a note: patient data), on
# loggers named by its files' paths; nothing of it may reach a log. A level above every
# record, not only ``disabled``: uvicorn's dictConfig re-enables loggers it finds disabled.
for _module in (hl7.util, hl7.containers):
    _library_log = logging.getLogger(_module.__file__)
    _library_log.setLevel(logging.CRITICAL + 1)
    _library_log.disabled = True

MESSAGE_TYPE = "SIU"
OLDEST_VERSION, NEWEST_VERSION = (2, 3), (2, 8)
LEGAL_NAME = "L"
TIMED_TRIGGERS = frozenset({Trigger.NEW, Trigger.RESCHEDULED})
"""Triggers that book a time: without a readable start they cannot be taken."""
RESOURCE_STARTS = (("AIS", 4), ("AIL", 6), ("AIP", 6))
"""Where resources carry the start of their part of the visit, read in this order."""
RESOURCE_DURATIONS = (("AIS", 7, 8), ("AIL", 9, 10), ("AIP", 9, 10))
"""(segment, duration field, units field) of each resource."""
_TQ_DURATION = re.compile(r"([SMHD])?(\d+)", re.IGNORECASE)
"""TQ-3 (2.3-2.4): "M15" is fifteen minutes, "15" too (minutes by default)."""
_TQ_UNITS = {"S": "s", "M": "min", "H": "h", "D": "d"}

NOTE_NEUTRAL = ("TQ1",)
"""Segments of the SCH group: an NTE after them is about the schedule (SCH)."""

Repetition = tuple[tuple[str, ...], ...]
"""Components of one repetition, each a tuple of its subcomponents."""


def parse_schedule_message(text: str) -> ScheduleMessage:
    """Read an SIU message; MessageRefused when it cannot be taken (see the module)."""
    message = _parse_hl7(text)
    try:
        return _read(_segments(message))
    except (IndexError, KeyError, TypeError, ValueError, AttributeError, ArithmeticError):
        # The library's tree has shapes a mangled message makes that no rule here expects.
        raise _error(
            Location("MSH"), ErrorCode.DATA_TYPE, "the message could not be read"
        ) from None


def _read(segments: list[_Segment]) -> ScheduleMessage:
    msh = segments[0]
    control_id = msh.value(10)
    if not control_id:
        raise _error(Location("MSH", 10), ErrorCode.REQUIRED_FIELD_MISSING, "no message control id")
    version = msh.value(12)
    trigger = _trigger(msh)
    _check_version(version)
    sch = _required(segments, "SCH")
    pid = _required(segments, "PID")
    placer_id, filler_id = sch.value(1), sch.value(2)
    if not (placer_id or filler_id):
        raise _error(
            Location("SCH", 2),
            ErrorCode.REQUIRED_FIELD_MISSING,
            "no placer or filler appointment id",
        )
    problems: list[FieldProblem] = []
    start, start_source = _start(segments, trigger, problems)
    return ScheduleMessage(
        trigger=trigger,
        version=version,
        control_id=control_id,
        processing_id=msh.value(11),
        sending_application=_designator(msh, 3),
        facility=_designator(msh, 4),
        sent_at=_timestamp(msh, 7, problems),
        placer_id=placer_id,
        filler_id=filler_id,
        start=start,
        start_source=start_source,
        duration=_duration(segments, start, problems),
        filler_status=sch.value(25) or sch.value(25, 2),
        patient=_patient(pid, problems),
        services=tuple(_coded(s, 3) for s in segments if s.id == "AIS" and s.has(3)),
        providers=tuple(_provider(s) for s in segments if s.id == "AIP" and _has_xcn(s, 3)),
        places=tuple(_place(s) for s in segments if s.id == "AIL" and s.has(3)),
        notes=_notes(segments),
        problems=tuple(problems),
    )


def _parse_hl7(text: str) -> Any:
    text = text.replace("\r\n", "\r").replace("\n", "\r").strip()
    if not text.startswith("MSH") or len(text) < 8:
        raise _error(
            Location("MSH"), ErrorCode.SEGMENT_SEQUENCE, "the message does not begin with MSH"
        )
    try:
        return hl7.parse(text)
    except (HL7Exception, ValueError, IndexError, KeyError, AssertionError):
        raise _error(Location("MSH"), ErrorCode.DATA_TYPE, "the message is not HL7 v2") from None


def _error(location: Location, code: ErrorCode, reason: str) -> MessageRefused:
    return MessageRefused(AckCode.ERROR, location, code, reason)


def _trigger(msh: _Segment) -> Trigger:
    kind, event = msh.value(9, 1), msh.value(9, 2)
    if kind != MESSAGE_TYPE:
        raise MessageRefused(
            AckCode.REJECT,
            Location("MSH", 9),
            ErrorCode.UNSUPPORTED_MESSAGE_TYPE,
            "only SIU messages are taken",
        )
    try:
        return Trigger(event)
    except ValueError:
        triggers = ", ".join(t.value for t in Trigger)
        raise MessageRefused(
            AckCode.REJECT,
            Location("MSH", 9, 2),
            ErrorCode.UNSUPPORTED_EVENT,
            f"only SIU {triggers} are taken",
        ) from None


def _check_version(version: str) -> None:
    numbers = re.match(r"(\d+)\.(\d+)", version)
    if numbers is None or not (
        OLDEST_VERSION <= (int(numbers[1]), int(numbers[2])) <= NEWEST_VERSION
    ):
        raise MessageRefused(
            AckCode.REJECT,
            Location("MSH", 12),
            ErrorCode.UNSUPPORTED_VERSION,
            "versions 2.3 to 2.8 are taken",
        )


class _Segment:
    """One segment of a parsed message, read as repetitions of components of subcomponents.

    Fields, repetitions, components and subcomponents count from 1, as HL7 numbers them;
    anything absent reads as "".
    """

    def __init__(self, message: Any, segment: Any, segment_id: str, sequence: int) -> None:
        self._message = message
        self._segment = segment
        self.id = segment_id
        self.sequence = sequence
        self._read: dict[int, list[Repetition]] = {}

    def repetitions(self, field: int) -> list[Repetition]:
        """Field ``field``'s repetitions (read once: fields are asked for repeatedly)."""
        if field not in self._read:
            # The library keeps MSH-1 (the field separator) as a field: n is n everywhere.
            inside = 1 <= field < len(self._segment)
            self._read[field] = (
                [self._repetition(rep) for rep in self._segment[field]] if inside else []
            )
        return self._read[field]

    def _repetition(self, rep: Any) -> Repetition:
        if isinstance(rep, str):
            return ((self._text(rep),),)
        return tuple(
            (self._text(c),) if isinstance(c, str) else tuple(self._text(s) for s in c) for c in rep
        )

    def _text(self, raw: str) -> str:
        return str(self._message.unescape(raw)).strip() if raw else ""

    def value(self, field: int, component: int = 1, repetition: int = 1) -> str:
        reps = self.repetitions(field)
        if len(reps) < repetition:
            return ""
        return _component(reps[repetition - 1], component)

    def has(self, field: int) -> bool:
        return any(any(any(s for s in c) for c in rep) for rep in self.repetitions(field))

    def location(self, field: int, component: int | None = None) -> Location:
        return Location(self.id, field, component, self.sequence)


def _component(rep: Repetition, component: int, subcomponent: int = 1) -> str:
    if len(rep) < component or len(rep[component - 1]) < subcomponent:
        return ""
    return rep[component - 1][subcomponent - 1]


def _segments(message: Any) -> list[_Segment]:
    seen: dict[str, int] = {}
    segments = []
    for segment in message:
        segment_id = str(segment[0]).strip() if len(segment) else ""
        seen[segment_id] = seen.get(segment_id, 0) + 1
        segments.append(_Segment(message, segment, segment_id, seen[segment_id]))
    return segments


def _required(segments: Sequence[_Segment], segment_id: str) -> _Segment:
    for segment in segments:
        if segment.id == segment_id:
            return segment
    raise _error(Location(segment_id), ErrorCode.SEGMENT_SEQUENCE, f"no {segment_id} segment")


def _first(segments: Sequence[_Segment], segment_id: str) -> _Segment | None:
    return next((s for s in segments if s.id == segment_id), None)


def _designator(segment: _Segment, field: int) -> HierarchicDesignator:
    return HierarchicDesignator(
        segment.value(field, 1), segment.value(field, 2), segment.value(field, 3)
    )


def _timestamp(segment: _Segment, field: int, problems: list[FieldProblem]) -> Timestamp | None:
    text = segment.value(field)
    if not text:
        return None
    try:
        return read_timestamp(text)
    except ValueError as err:
        problems.append(FieldProblem(segment.location(field), str(err)))
        return None


def _start_candidates(segments: Sequence[_Segment]) -> list[tuple[Location, str]]:
    """(where, text) of every place a start may be written, in the order to trust them."""
    candidates = []
    tq1, sch = _first(segments, "TQ1"), _first(segments, "SCH")
    if tq1 is not None:
        candidates.append((tq1.location(7), tq1.value(7)))
    if sch is not None and sch.repetitions(11):
        # TQ-4 is a TS, whose first subcomponent is the time.
        candidates.append((sch.location(11, 4), _component(sch.repetitions(11)[0], 4)))
    for segment_id, field in RESOURCE_STARTS:
        resource = _first(segments, segment_id)
        if resource is not None:
            candidates.append((resource.location(field), resource.value(field)))
    return [(where, text) for where, text in candidates if text]


def _start(
    segments: Sequence[_Segment], trigger: Trigger, problems: list[FieldProblem]
) -> tuple[Timestamp | None, Location | None]:
    candidates = _start_candidates(segments)
    for where, text in candidates:
        try:
            start = read_timestamp(text)
        except ValueError as err:
            if trigger in TIMED_TRIGGERS:
                raise _error(where, ErrorCode.DATA_TYPE, f"the start: {err}") from None
            problems.append(FieldProblem(where, f"the start: {err}"))
            continue
        if not start.has_time_of_day:
            reason = "the start has no time of day"
            if trigger in TIMED_TRIGGERS:
                raise _error(where, ErrorCode.DATA_TYPE, reason)
            problems.append(FieldProblem(where, reason))
            continue
        return start, where
    if trigger in TIMED_TRIGGERS:
        where = Location("TQ1", 7) if _first(segments, "TQ1") else Location("SCH", 11, 4)
        raise _error(where, ErrorCode.REQUIRED_FIELD_MISSING, "no appointment start")
    return None, None


def _duration(
    segments: Sequence[_Segment], start: Timestamp | None, problems: list[FieldProblem]
) -> timedelta | None:
    """The first readable of TQ1-6, SCH-9/10, SCH-11's TQ (its duration, else its end less
    the start), then the resources' own durations."""
    for where, read in _duration_candidates(segments, start):
        try:
            return read()
        except ValueError as err:
            problems.append(FieldProblem(where, str(err)))
    return None


def _duration_candidates(
    segments: Sequence[_Segment], start: Timestamp | None
) -> list[tuple[Location, Callable[[], timedelta]]]:
    candidates: list[tuple[Location, Callable[[], timedelta]]] = []

    def amount(where: Location, quantity: str, unit: str) -> None:
        if quantity:
            candidates.append((where, lambda: read_duration(quantity, unit)))

    tq1, sch = _first(segments, "TQ1"), _first(segments, "SCH")
    if tq1 is not None:
        amount(tq1.location(6), tq1.value(6, 1), tq1.value(6, 2))
    if sch is not None:
        amount(sch.location(9), sch.value(9), sch.value(10))
        tq = sch.repetitions(11)[0] if sch.repetitions(11) else ()
        coded = _TQ_DURATION.fullmatch(_component(tq, 3)) if tq else None
        if coded:
            amount(sch.location(11, 3), coded[2], _TQ_UNITS[(coded[1] or "M").upper()])
        end = _component(tq, 5) if tq else ""
        if end and start is not None:
            candidates.append((sch.location(11, 5), lambda: _until(start, read_timestamp(end))))
    for segment_id, amount_field, unit_field in RESOURCE_DURATIONS:
        resource = _first(segments, segment_id)
        if resource is not None:
            where = resource.location(amount_field)
            amount(where, resource.value(amount_field), resource.value(unit_field))
    return candidates


def _until(start: Timestamp, end: Timestamp) -> timedelta:
    if (start.value.tzinfo is None) != (end.value.tzinfo is None):
        raise ValueError("the end and the start differ in having an offset")
    if end.value <= start.value:
        raise ValueError("the end is not after the start")
    return end.value - start.value


def _patient(pid: _Segment, problems: list[FieldProblem]) -> Patient:
    ids = tuple(
        PatientId(_component(rep, 1), _component(rep, 4), _component(rep, 5))
        for field in (3, 2)
        for rep in pid.repetitions(field)
        if _component(rep, 1)
    )
    if not ids:
        problems.append(FieldProblem(pid.location(3), "no patient identifier"))
    names = tuple(_person_name(rep, 1) for rep in pid.repetitions(5))
    names = tuple(n for n in names if n.family or n.given)
    legal = [n for n in names if n.type_code.upper() == LEGAL_NAME]
    if not names:
        problems.append(FieldProblem(pid.location(5), "no patient name"))
    phones = tuple(
        phone
        for field in (13, 14)
        for rep in pid.repetitions(field)
        if (phone := _phone(pid.location(field), rep)) is not None
    )
    return Patient(
        ids=ids,
        name=legal[0] if legal else (names[0] if names else PersonName()),
        names=names,
        phones=phones,
        language=_coded(pid, 15),
    )


def _person_name(rep: Repetition, first: int) -> PersonName:
    """An XPN (``first`` 1) or the name part of an XCN (``first`` 2, after the id)."""

    def part(offset: int) -> str:
        return _component(rep, first + offset)

    return PersonName(
        family=part(0),
        given=part(1),
        middle=part(2),
        suffix=part(3),
        prefix=part(4),
        type_code=part(6),
    )


def _phone(source: Location, rep: Repetition) -> PhoneNumber | None:
    unformatted, country, area, local = (_component(rep, n) for n in (12, 5, 6, 7))
    if unformatted:
        number = unformatted
    elif local:
        number = (f"+{country.lstrip('+')} " if country else "") + f"{area}{local}"
    else:
        number = _component(rep, 1)
    email = _component(rep, 4)
    if not (number or email):
        return None
    return PhoneNumber(
        source=source,
        number=number,
        use=_component(rep, 2),
        equipment=_component(rep, 3),
        extension=_component(rep, 8),
        email=email,
    )


def _coded(segment: _Segment, field: int) -> CodedValue:
    return CodedValue(*(segment.value(field, n) for n in range(1, 7)))


def _has_xcn(segment: _Segment, field: int) -> bool:
    return any(segment.value(field, n) for n in (1, 2, 3))


def _provider(aip: _Segment) -> Provider:
    rep = aip.repetitions(3)[0]
    return Provider(
        id=_component(rep, 1),
        name=_person_name(rep, 2),
        role=_coded(aip, 4),
    )


def _place(ail: _Segment) -> Place:
    return Place(
        point_of_care=ail.value(3, 1),
        room=ail.value(3, 2),
        facility=ail.value(3, 4),
        description=ail.value(3, 9),
    )


def _notes(segments: Sequence[_Segment]) -> tuple[Note, ...]:
    notes, about = [], "MSH"
    for segment in segments:
        if segment.id not in ("NTE", *NOTE_NEUTRAL):
            about = segment.id
        if segment.id != "NTE":
            continue
        text = "\n".join(_component(rep, 1) for rep in segment.repetitions(3)).strip()
        if text:
            notes.append(Note(about, text))
    return tuple(notes)
