"""The store step of HL7 intake: an SIU message becomes the appointment upsert that
``PUT /v1/appointments`` makes (``service.appointments.put_appointment``), so ordering,
compare-and-set, planning and re-planning are the same code for both doors.

- **Clinic**: a clinic whose ``identifiers`` name the sending facility (MSH-4, any of its
  components), else the location (AIL-3 facility or point of care); none is
  ``unknown_facility`` (AE).
- **Owner**: every appointment taken over HL7 belongs to one API key row, "hl7 intake"
  (role scheduler), made on first use. Its hash is not a SHA-256 digest, so no presented
  key can ever match it: it owns, it never signs in. Schedulers see only their own
  appointments, so HL7 visits are read with a staff or admin key (the console, the API).
- **Order**: MSH-7 is the source's ``updated_at``; an older message than the one stored
  is ``out_of_date`` (AA, nothing changed).
- **Duplicates**: ``hl7_messages`` keys each taken message on (facility, control id); its
  row is written in the transaction that stores the appointment
  (``put_appointment(record=...)``), so of two connections racing with the same message
  one commits and the other's whole transaction fails on the unique key: ``duplicate``.
- **Needs attention**: a patient with no usable phone (and no app id), or whose language
  has no voice when the clinic's default cannot say appointment messages either, is
  stored, flagged with the reason (``Appointment.needs_attention``), and planned nothing.
- **Language fallback**: a language without a voice, spoken in the clinic's default, keeps
  its reminders; an audit entry (``hl7.language_fallback``, the reason, no language) tells
  staff which visits are not in the patient's own language.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.appointments import (
    Creation,
    Recorder,
    Written,
    create_appointments,
    put_appointment,
    resolve_visit,
)
from service.clock import Clock
from service.db import Database
from service.errors import Problem
from service.intake.hl7.ack import WARNING_SEVERITY, AckError
from service.intake.hl7.phones import choose_phone
from service.intake.hl7.schedule import (
    AckCode,
    ErrorCode,
    Location,
    MessageRefused,
    ScheduleMessage,
    Timestamp,
    Trigger,
)
from service.intake.hl7.sink import Outcome, SinkResult
from service.intake.language import read_language
from service.models import (
    ApiKey,
    Appointment,
    AppointmentStatus,
    Clinic,
    Hl7Message,
    Role,
    audit,
)
from service.planning import first_channel
from service.schemas import (
    APPOINTMENT_KINDS,
    INSTRUCTIONS_MAX_CHARS,
    LOCATION_MAX_CHARS,
    NAME_MAX_CHARS,
    AppointmentRequest,
)
from service.security import Caller, caller_for_key
from workers.pipeline import Pipeline
from workers.queue import RENDER_JOB

log = logging.getLogger(__name__)

INTAKE_KEY_NAME = "hl7 intake"
INTAKE_KEY_HASH = "hl7-intake"
"""Not a hex SHA-256 digest (``security.hash_key``): no raw key finds this row."""
DUPLICATE = SinkResult(Outcome.DUPLICATE, "this control id was taken before")
STATUS_BY_TRIGGER = {
    Trigger.NEW: AppointmentStatus.BOOKED,
    Trigger.RESCHEDULED: AppointmentStatus.BOOKED,
    Trigger.MODIFIED: AppointmentStatus.BOOKED,
    Trigger.CANCELLED: AppointmentStatus.CANCELLED,
    Trigger.DELETED: AppointmentStatus.CANCELLED,
    Trigger.NO_SHOW: AppointmentStatus.NOSHOW,
}
FIELD_LOCATIONS = {
    "start": Location("TQ1", 7),
    "patient": Location("PID", 5),
    "patient.name": Location("PID", 5),
    "patient.language": Location("PID", 15),
    "provider": Location("AIP", 3),
    "location": Location("AIL", 3),
    "instructions": Location("NTE", 3),
    "updated_at": Location("MSH", 7),
    "version": Location("MSH", 7),
}
"""Where a field of the upsert came from, for the ERR of a message it cannot store."""
UNNAMED_PATIENT = "the patient"
"""Said when PID-5 holds no name (the appointment is then flagged)."""
LANGUAGE_FALLBACK = "hl7.language_fallback"
"""The audit action of a visit spoken in the clinic's default instead of PID-15."""
NO_VOICE_AT_ALL = "{reason}, and the clinic's default language cannot say appointment messages"


def intake_caller(session: Session) -> Caller:
    """The "hl7 intake" key that owns HL7 appointments, made once (racing makers agree:
    the hash is unique)."""
    query = select(ApiKey).where(ApiKey.key_hash == INTAKE_KEY_HASH)
    key = session.scalar(query)
    if key is None:
        session.add(
            ApiKey(
                name=INTAKE_KEY_NAME,
                role=Role.SCHEDULER.value,
                prefix="hl7",
                key_hash=INTAKE_KEY_HASH,
            )
        )
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
        key = session.scalar(query)
        assert key is not None
    return caller_for_key(key)


LIVE_CLINICS = select(Clinic).where(Clinic.deleted_at.is_(None)).order_by(Clinic.id)
"""Every live clinic, oldest first: the order decides which clinic an identifier that two
clinics share names (``by_identifier``), alike for a message stored alone or in a batch."""


def find_clinic_for(
    session: Session, message: ScheduleMessage, facility: str, control_id: str
) -> tuple[Clinic | None, bool]:
    """The clinic whose identifiers name MSH-4, else an AIL-3 facility or point of care;
    and whether this facility's message with this control id was taken before.

    One query for both (every live clinic, a short list, each row carrying the duplicate
    check as a subquery): one round trip instead of three (the ids, the chosen row, the
    ``hl7_messages`` key), and the upsert then finds its clinic in the session without
    asking again. With no live clinic the message is refused before its duplicate
    matters."""
    taken = (
        select(Hl7Message.id)
        .where(Hl7Message.facility == facility, Hl7Message.control_id == control_id)
        .scalar_subquery()
    )
    rows = session.execute(LIVE_CLINICS.add_columns(taken)).all()
    was_taken = bool(rows) and rows[0][1] is not None
    return clinic_named(by_identifier([clinic for clinic, _ in rows]), message), was_taken


def by_identifier(clinics: Iterable[Clinic]) -> dict[str, Clinic]:
    """Live clinics by each of their identifiers, case folded (the first clinic wins)."""
    named: dict[str, Clinic] = {}
    for clinic in clinics:
        for identifier in clinic.identifiers or ():
            named.setdefault(identifier.casefold(), clinic)
    return named


def clinic_named(clinics: Mapping[str, Clinic], message: ScheduleMessage) -> Clinic | None:
    """The clinic MSH-4 names (any component), else an AIL-3 facility or point of care."""
    places = [name for place in message.places for name in (place.facility, place.point_of_care)]
    for candidate in (*message.facility.identifiers, *places):
        if candidate and candidate.casefold() in clinics:
            return clinics[candidate.casefold()]
    return None


def facility_key(message: ScheduleMessage) -> str:
    """MSH-4 as written (every component): half of a message's identity."""
    identifiers = message.facility.identifiers
    return (identifiers[0] if identifiers else "")[:200]


def placed(timestamp: Timestamp, clinic: Clinic) -> datetime:
    """An HL7 time as an aware one: a naive value is the clinic's wall-clock time."""
    value = timestamp.value
    if value.tzinfo is None:
        return value.replace(tzinfo=ZoneInfo(clinic.timezone))
    return value


@dataclass(frozen=True)
class Upsert:
    """What one message asks of the appointment, and whether its patient is reachable."""

    request: AppointmentRequest
    attention: str | None
    language_note: str


@dataclass
class StoringSink:
    """The ``ScheduleSink`` that stores: see the module. ``offered`` is the renderer's
    languages and kinds; ``enqueue`` takes the ids of reminders due at once."""

    db: Database
    offered: Mapping[str, Sequence[str]]
    clock: Clock
    enqueue: Callable[[list[str]], object] | None = None
    _owner: Caller | None = field(default=None, init=False, repr=False)

    @classmethod
    def for_pipeline(cls, pipeline: Pipeline) -> StoringSink:
        """Stores in the pipeline's database; due reminders go to its render queue."""

        def enqueue(reminder_ids: list[str]) -> None:
            pipeline.enqueue(RENDER_JOB, *reminder_ids)  # else the sweeper finds them

        return cls(pipeline.db, pipeline.renderer.offered_kinds, pipeline.clock, enqueue)

    def apply(self, message: ScheduleMessage) -> SinkResult:
        facility, control_id = facility_key(message), message.control_id[:200]
        with self.db.sessions() as session:
            clinic, taken = find_clinic_for(session, message, facility, control_id)
            if clinic is None:
                return SinkResult(Outcome.UNKNOWN_FACILITY, "no clinic goes by this facility")
            if taken:
                return DUPLICATE
            try:
                return self._store(session, clinic, message, facility, control_id)
            except IntegrityError:
                # The same message, stored by another connection since we looked: ours
                # was rolled back whole, message record and appointment change alike.
                session.rollback()
                if _taken(session, facility, control_id):
                    return DUPLICATE
                raise

    def apply_many(self, messages: Sequence[ScheduleMessage]) -> list[SinkResult | None]:
        """Store the messages that arrived together and each create an appointment, in
        one transaction (``appointments.create_appointments``): one read of the clinics,
        the control ids and the appointment ids for all, then a few INSERTs for all.

        The result of each message, or None for one to be stored alone with ``apply``
        once this returns: one whose appointment exists (an update), whose clinic is
        unknown, whose control id or appointment another message of the batch also
        carries, or that cannot be stored as it is (``apply`` then says why); and every
        one of them when the transaction fails (an appointment or a control id stored
        meanwhile by another process): it is rolled back whole, so nothing is half
        stored and each message meets exactly the checks it meets alone."""
        results: list[SinkResult | None] = [None] * len(messages)
        keys = [(facility_key(m), m.control_id[:200]) for m in messages]
        with self.db.sessions() as session:
            owner = self._intake_owner(session)
            clinics = by_identifier(session.scalars(LIVE_CLINICS))
            named = [clinic_named(clinics, message) for message in messages]
            known = [key for key, clinic in zip(keys, named, strict=True) if clinic is not None]
            taken = _present(session, (Hl7Message.facility, Hl7Message.control_id), known)
            visits = [
                (clinic.id, message.appointment_id[:200])
                for message, clinic in zip(messages, named, strict=True)
                if clinic is not None
            ]
            existing = _present(session, (Appointment.clinic_id, Appointment.external_id), visits)
            now = self.clock.now()
            creations: dict[int, tuple[Creation, Upsert]] = {}
            batched_keys: set[tuple[str, str]] = set()
            batched_visits: set[tuple[str, str]] = set()
            for n, (message, key, clinic) in enumerate(zip(messages, keys, named, strict=True)):
                if clinic is None:
                    continue
                if key in taken:
                    results[n] = DUPLICATE
                    continue
                visit_key = (clinic.id, message.appointment_id[:200])
                if key in batched_keys or visit_key in batched_visits or visit_key in existing:
                    continue  # after this batch, alone: as a duplicate or an update
                batched_keys.add(key)
                batched_visits.add(visit_key)
                creation = self._creation(message, clinic, owner, key, now)
                if creation is not None:
                    creations[n] = creation
            if not creations:
                return results
            try:
                written = create_appointments(
                    session, owner, [creation for creation, _ in creations.values()], now
                )
            except Exception as err:  # each is then stored alone, with its own answer
                session.rollback()
                log.info(
                    "hl7 batch of %d stored one by one: %s", len(creations), type(err).__name__
                )
                return results
        for n, (_, upsert), stored in zip(creations, creations.values(), written, strict=True):
            results[n] = self._answer(self._result(upsert), stored)
        return results

    def _creation(
        self,
        message: ScheduleMessage,
        clinic: Clinic,
        owner: Caller,
        key: tuple[str, str],
        now: datetime,
    ) -> tuple[Creation, Upsert] | None:
        """A new appointment as ``put_appointment`` would create it for this message;
        None when it is not to be created in a batch (``apply`` then stores or refuses it
        alone, with the same checks)."""
        if message.start is None or not message.start.has_time_of_day:
            return None  # nothing stored to keep a start from: ``apply`` answers
        if owner.role == Role.SCHEDULER and not owner.may_use_clinic(clinic.id):
            return None
        try:
            upsert = self._upsert(message, clinic, None)
            if upsert is None:
                return None
            visit = resolve_visit(upsert.request, clinic, self.offered, now, upsert.attention)
        except (MessageRefused, Problem):
            return None
        record = self._recorder(self._received(*key), self._result(upsert), upsert, owner)
        creation = Creation(clinic, message.appointment_id[:200], visit, upsert.request, record)
        return creation, upsert

    def _intake_owner(self, session: Session) -> Caller:
        """The "hl7 intake" key, read once for the process's life."""
        if self._owner is None:
            self._owner = intake_caller(session)
        return self._owner

    def _received(self, facility: str, control_id: str) -> Hl7Message:
        """The message's record, outcome filled in when it is stored."""
        return Hl7Message(
            facility=facility,
            control_id=control_id,
            ack_code=AckCode.ACCEPT.value,
            outcome=Outcome.OUT_OF_DATE.value,
            received_at=self.clock.now(),
        )

    @staticmethod
    def _result(upsert: Upsert) -> SinkResult:
        if upsert.attention is not None:
            return SinkResult(Outcome.NEEDS_ATTENTION, upsert.attention)
        return SinkResult(Outcome.STORED, upsert.language_note)

    @staticmethod
    def _recorder(
        received: Hl7Message, result: SinkResult, upsert: Upsert, owner: Caller
    ) -> Recorder:
        """What the write adds to its transaction: the message's record, and the audit
        entry of a visit spoken in the clinic's default language."""

        def record(session: Session, appointment: Appointment, change: str) -> None:
            received.outcome = result.outcome.value
            received.appointment_id = appointment.id
            session.add(received)
            if upsert.language_note and upsert.attention is None and change != "unchanged":
                detail = {"reason": upsert.language_note}
                audit(session, owner.id, LANGUAGE_FALLBACK, "appointment", appointment.id, detail)

        return record

    def _answer(self, result: SinkResult, written: Written) -> SinkResult:
        """Once committed: due reminders enqueued, and the ACK's warning if any."""
        if written.due and self.enqueue is not None:
            self.enqueue(written.due)
        if not written.warnings:
            return result
        # AA, with an ERR of severity W naming the first such field
        said = f"{written.warnings[0].field} {written.warnings[0].message}"
        warning = AckError(
            _location_of(written.warnings[0].field), ErrorCode.ACCEPTED, said, WARNING_SEVERITY
        )
        reasons = [result.reason] if result.reason else []
        reasons += [f"{w.field} reads as another language" for w in written.warnings]
        return SinkResult(result.outcome, "; ".join(reasons), warning)

    def _store(
        self,
        session: Session,
        clinic: Clinic,
        message: ScheduleMessage,
        facility: str,
        control_id: str,
    ) -> SinkResult:
        """Store the appointment and the message's record in one transaction."""
        external_id = message.appointment_id[:200]
        stored = None
        if message.start is None or not message.start.has_time_of_day:  # keep the stored one
            stored = session.scalar(
                select(Appointment).where(
                    Appointment.clinic_id == clinic.id, Appointment.external_id == external_id
                )
            )
        upsert = self._upsert(message, clinic, stored)
        received = self._received(facility, control_id)
        if upsert is None:
            session.add(received)
            session.commit()
            return SinkResult(Outcome.OUT_OF_DATE, "no such appointment and no start")
        result = self._result(upsert)
        owner = self._intake_owner(session)
        try:
            written = put_appointment(
                session,
                owner,
                clinic.id,
                external_id,
                upsert.request,
                self.offered,
                self.clock.now(),
                attention=upsert.attention,
                record=self._recorder(received, result, upsert, owner),
            )
        except Problem as problem:
            session.rollback()
            if problem.slug == "older-update":
                session.add(_copy(received, Outcome.OUT_OF_DATE))
                session.commit()
                return SinkResult(Outcome.OUT_OF_DATE, "a newer message was stored")
            if problem.status == 404:  # written through the API by another key
                raise MessageRefused(
                    AckCode.ERROR,
                    Location("SCH", 2),
                    ErrorCode.UNKNOWN_KEY,
                    "this appointment id is kept by another system of the clinic",
                ) from problem
            if problem.status == 422 and problem.errors:
                first = problem.errors[0]
                raise _refused(first.field, f"{first.field} {first.message}") from problem
            raise
        return self._answer(result, written)

    def _upsert(
        self, message: ScheduleMessage, clinic: Clinic, stored: Appointment | None
    ) -> Upsert | None:
        """The upsert the message means; None when it names no start and there is no
        appointment to keep one from."""
        if message.start is not None and message.start.has_time_of_day:
            start = placed(message.start, clinic)
        elif stored is not None:
            start = stored.start
        else:
            return None
        sent_at = placed(message.sent_at, clinic) if message.sent_at else self.clock.now()
        patient = message.patient
        phone = choose_phone(patient.phones, clinic.country)
        reading = read_language(patient.language.in_reading_order, self.offered)
        attention: list[str] = []
        language_note = ""
        language = reading.code if self._speaks(reading.code) else None
        if language is None:
            reason = reading.reason or "we have no voice for this language"
            if not patient.language.is_empty:
                language_note = f"{reason}; the clinic's default language is used"
            if not self._speaks(clinic.default_language):
                attention.append(NO_VOICE_AT_ALL.format(reason=reason))
        name = patient.name.display or UNNAMED_PATIENT
        if not patient.name.display:
            attention.append("no patient name is given")
        if first_channel(clinic.channels, {"phone": phone.e164}) is None:
            attention.append(phone.reason or "the patient has no contact for this clinic")
        provider = _first(p.name.display or p.id for p in message.providers)
        location = _first(place.display for place in message.places)
        body = {
            "patient": {
                "name": name[:NAME_MAX_CHARS],
                "phone": phone.e164,
                "language": language,
            },
            "start": start,
            "status": STATUS_BY_TRIGGER[message.trigger],
            "provider": provider[:NAME_MAX_CHARS] if provider else None,
            "location": location[:LOCATION_MAX_CHARS] if location else None,
            "instructions": self._instructions(message, clinic),
            "updated_at": sent_at,
        }
        try:
            request = AppointmentRequest.model_validate(body)
        except ValidationError as err:
            where = ".".join(str(part) for part in err.errors()[0]["loc"])
            raise _refused(where, f"{where} cannot be read") from err
        return Upsert(request, "; ".join(attention) or None, language_note)

    def _speaks(self, language: str | None) -> bool:
        """Whether the renderer can say every appointment message in ``language``."""
        return language is not None and set(self.offered.get(language, ())) >= APPOINTMENT_KINDS

    def _instructions(self, message: ScheduleMessage, clinic: Clinic) -> str | None:
        if not clinic.hl7_notes_as_instructions:
            return None
        text = " ".join(note.text.strip() for note in message.notes if note.text.strip())
        return text[:INSTRUCTIONS_MAX_CHARS] or None


def _taken(session: Session, facility: str, control_id: str) -> bool:
    """Whether this facility's message with this control id was taken before."""
    found = session.scalar(
        select(Hl7Message.id).where(
            Hl7Message.facility == facility, Hl7Message.control_id == control_id
        )
    )
    return found is not None


def _present(
    session: Session, columns: tuple[Any, Any], pairs: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of these pairs of values a table holds in its two ``columns``: one query."""
    if not pairs:
        return set()
    found = session.execute(select(*columns).where(tuple_(*columns).in_(pairs)))
    return {(first, second) for first, second in found}


def _copy(received: Hl7Message, outcome: Outcome) -> Hl7Message:
    """A fresh record (the first was discarded with its rolled-back transaction)."""
    return Hl7Message(
        facility=received.facility,
        control_id=received.control_id,
        ack_code=received.ack_code,
        outcome=outcome.value,
        received_at=received.received_at,
    )


def _first(values: Iterable[str]) -> str | None:
    """The first non-empty value (a message may repeat AIP and AIL)."""
    return next((value for value in values if value), None)


def _refused(field: str, reason: str) -> MessageRefused:
    """An AE naming where in the message the field it could not store came from."""
    return MessageRefused(AckCode.ERROR, _location_of(field), ErrorCode.DATA_TYPE, reason)


def _location_of(field: str) -> Location:
    """Where in the message a field of the appointment store came from."""
    return FIELD_LOCATIONS.get(field, FIELD_LOCATIONS.get(field.split(".")[0], Location("SCH")))
