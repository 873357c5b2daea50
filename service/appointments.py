"""Appointments: storing a visit as its source last sent it, and re-planning its reminders.

``PUT /v1/appointments/{clinic_id}/{external_id}`` is an idempotent upsert. Every stored
change and the re-plan it causes are one transaction, written only if the appointment's
``revision`` is still the one the change was computed from (a compare-and-set): of two
racing updates one wins and re-plans, the other starts again, finds the visit already as
it wants it and answers "unchanged". So a replayed or racing update never sends a second
message; a first creation that races another loses on the unique (clinic, external id)
and does the same.

The re-plan (``replan``):

- pending planned reminders (not yet rendered) are re-timed in place; those already
  rendering or rendered with the old facts are cancelled (``models.advance``) and planned
  again; new offsets get new reminders (``service.planning`` decides when);
- a patient who was already told the visit's time (a reminder or change notice reached
  ``dispatching`` or later) gets one ``appointment_changed`` when the time moves, or one
  ``appointment_cancelled`` when it is cancelled, due at once inside calling hours;
- a cancelled, no-show or fulfilled visit, or one that has begun, has nothing pending;
  nor has one flagged ``needs_attention`` (its patient cannot be reached).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from service.clinics import calling_hours, clinic_facts, find_clinic
from service.errors import FieldError, Problem, ValidationProblem
from service.models import (
    CANCELLABLE,
    Appointment,
    AppointmentStatus,
    Clinic,
    Reminder,
    Role,
    Status,
    advance,
    audit,
    is_record_id,
    new_id,
)
from service.paging import decode_cursor, encode_cursor
from service.planning import (
    REMINDER_KIND,
    first_channel,
    notice_time,
    plan_reminders,
    schedule_offsets,
)
from service.reminders import (
    HORIZON,
    HORIZON_MESSAGE,
    REMINDER_EVENTS,
    REMINDERS,
    free_text_in_other_language,
)
from service.schemas import APPOINTMENT_KINDS, AppointmentRequest, Kind
from service.security import Caller

UPSERT_TRIES = 5
"""Compare-and-set rounds before a PUT gives up with 409: each lost round means another
update of the same appointment committed in between, so five in a row is a storm."""
TOLD = frozenset(
    {
        Status.DISPATCHING,
        Status.DELIVERED,
        Status.VOICEMAIL,
        Status.CONFIRMED,
        Status.CANCEL_REQUESTED,
    }
)
"""A message in one of these has reached (or is reaching) the patient."""
Recorder = Callable[[Session, Appointment, str], None]
"""Adds rows of the caller's own to the transaction that stores a write, just before it
commits, given the appointment and the change (HL7 intake records the message it took, so
the message and what it did commit together)."""
TELLS_THE_TIME = frozenset({Kind.APPOINTMENT_REMINDER, Kind.APPOINTMENT_CHANGED})
PATIENT_FACTS = ("name", "phone", "timezone", "app_recipient_id", "speech_rate")
"""What a reminder's ``patient`` block holds (the language is the reminder's own column)."""
ACCESS_FACTS = ("sentence_pause", "repeat_message", "offer_repeat_twice")
"""The accessibility profile beyond ``speech_rate``: in the block only when the visit's
patient chose something other than the standard (``AppointmentPatient.access_facts``)."""


@dataclass(frozen=True)
class Visit:
    """An appointment's content, defaults filled in: what "unchanged" compares."""

    status: str
    start: datetime
    provider: str | None
    location: str | None
    instructions: str | None
    patient: dict[str, Any]
    needs_attention: str | None = None
    warnings: tuple[FieldError, ...] = field(default=(), compare=False)
    """Free text in another language than the patient's (``resolve_visit``): said to the
    writer, not stored, and no part of what "unchanged" compares."""

    @classmethod
    def of(cls, appointment: Appointment) -> Visit:
        return cls(
            status=appointment.status,
            start=appointment.start,
            provider=appointment.provider,
            location=appointment.location,
            instructions=appointment.instructions,
            patient=dict(appointment.patient),
            needs_attention=appointment.needs_attention,
        )


@dataclass
class Replanned:
    """What a re-plan did, in counts and kinds (it goes to the audit log: no PHI)."""

    planned: int = 0
    retimed: int = 0
    cancelled: int = 0
    notice: str | None = None
    due: list[str] = field(default_factory=list)
    """Reminders due now, to enqueue once committed (the sweeper would find them anyway)."""

    def detail(self, change: str) -> dict[str, Any]:
        return {
            "change": change,
            "planned": self.planned,
            "retimed": self.retimed,
            "cancelled": self.cancelled,
            "notice": self.notice,
        }


@dataclass(frozen=True)
class Written:
    appointment: Appointment
    change: str
    """``created``, ``updated`` or ``unchanged``."""
    due: list[str]
    warnings: tuple[FieldError, ...] = ()
    """``Visit.warnings`` of the request written."""


# -- reading -------------------------------------------------------------------------------


def clinic_for(session: Session, caller: Caller, clinic_id: str) -> Clinic:
    """The clinic in a URL, if it exists (404) and the caller's key may use it (403)."""
    clinic = find_clinic(session, clinic_id)
    if clinic is None:
        raise Problem(404, "Not found", "No clinic with this id.", slug="not-found")
    if caller.role == Role.SCHEDULER and not caller.may_use_clinic(clinic_id):
        raise Problem(403, "Forbidden", "This API key is not allowed to use this clinic.")
    return clinic


def visible_to(appointment: Appointment, caller: Caller) -> bool:
    """A scheduler sees and changes only the appointments its own key wrote."""
    return caller.role != Role.SCHEDULER or appointment.owner_key_id == caller.id


def find_appointment(
    session: Session, caller: Caller, clinic_id: str, external_id: str
) -> Appointment:
    clinic_for(session, caller, clinic_id)
    appointment = session.scalar(
        select(Appointment).where(
            Appointment.clinic_id == clinic_id, Appointment.external_id == external_id
        )
    )
    if appointment is None or not visible_to(appointment, caller):
        # The same answer for "not there" and "not yours": ids are not to be probed.
        raise Problem(404, "Not found", "No appointment with this id.", slug="not-found")
    return appointment


def find_appointment_by_id(session: Session, caller: Caller, appointment_id: str) -> Appointment:
    """By the service's own id (the console's links)."""
    appointment = session.get(Appointment, appointment_id) if is_record_id(appointment_id) else None
    if appointment is None or not visible_to(appointment, caller):
        raise Problem(404, "Not found", "No appointment with this id.", slug="not-found")
    return appointment


@dataclass(frozen=True)
class ReminderLine:
    """A reminder as an appointment lists it."""

    id: str
    kind: str
    channel: str
    status: str
    send_at: datetime
    plan_slot: int | None


def reminders_of(session: Session, appointment_ids: Sequence[str]) -> dict[str, list[ReminderLine]]:
    """Each appointment's reminders, by send time: one query for a whole page."""
    lines: dict[str, list[ReminderLine]] = defaultdict(list)
    if not appointment_ids:
        return lines
    rows = session.execute(
        select(
            Reminder.appointment_id,
            Reminder.id,
            Reminder.kind,
            Reminder.channel,
            Reminder.status,
            Reminder.send_at,
            Reminder.plan_slot,
        )
        .where(Reminder.appointment_id.in_(appointment_ids))
        .order_by(Reminder.send_at, Reminder.created_at, Reminder.id)
    )
    for appointment_id, reminder_id, kind, channel, status, send_at, slot in rows:
        lines[str(appointment_id)].append(
            ReminderLine(reminder_id, kind, channel, status, send_at, slot)
        )
    return lines


@dataclass(frozen=True)
class AppointmentFilters:
    clinic_id: str | None = None
    status: str | None = None
    start_after: datetime | None = None
    """Inclusive."""
    start_before: datetime | None = None
    """Exclusive, so consecutive days never show a visit twice."""
    external_id: str | None = None
    needs_attention: bool | None = None
    """True: only those flagged; False: only those reachable."""


@dataclass(frozen=True)
class AppointmentPage:
    items: list[Appointment]
    next_cursor: str | None


def list_appointments(
    session: Session,
    reader: Caller,
    filters: AppointmentFilters,
    *,
    limit: int,
    cursor: str | None,
) -> AppointmentPage:
    """By start time, earliest first; keyset-paginated on (start, id)."""
    query = select(Appointment).order_by(Appointment.start, Appointment.id)
    if reader.role == Role.SCHEDULER:
        query = query.where(Appointment.owner_key_id == reader.id)
    if filters.clinic_id is not None:
        query = query.where(Appointment.clinic_id == filters.clinic_id)
    if filters.status is not None:
        query = query.where(Appointment.status == filters.status)
    if filters.external_id is not None:
        query = query.where(Appointment.external_id == filters.external_id)
    if filters.needs_attention is not None:
        flagged = Appointment.needs_attention.is_not(None)
        query = query.where(flagged if filters.needs_attention else ~flagged)
    if filters.start_after is not None:
        query = query.where(Appointment.start >= filters.start_after)
    if filters.start_before is not None:
        query = query.where(Appointment.start < filters.start_before)
    if cursor is not None:
        start, last_id = decode_cursor(cursor, is_record_id)
        query = query.where(
            (Appointment.start > start)
            | ((Appointment.start == start) & (Appointment.id > last_id))
        )
    rows = list(session.scalars(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].start, rows[-1].id) if more else None
    return AppointmentPage(items=rows, next_cursor=next_cursor)


# -- writing -------------------------------------------------------------------------------


def resolve_visit(
    request: AppointmentRequest,
    clinic: Clinic,
    offered: Mapping[str, Sequence[str]],
    now: datetime,
    attention: str | None = None,
) -> Visit:
    """The visit the request describes, the clinic's defaults filled in; every check that
    needs the clinic or the configuration runs here, before anything is written.

    ``attention``: why the patient cannot be reached (HL7 intake stores such a visit,
    flagged, rather than refusing it); the contact and voice checks are then skipped:
    nothing is planned for it."""
    patient = request.patient
    language = patient.language or clinic.default_language
    resolved = {
        "name": patient.name,
        "phone": patient.phone,
        "language": language,
        "timezone": patient.timezone or clinic.timezone,
        "speech_rate": str(patient.speech_rate or clinic.default_speech_rate),
        "app_recipient_id": patient.app_recipient_id,
        **patient.access_facts(),
    }
    errors: list[FieldError] = []
    if attention is None:  # a flagged visit plans nothing: it needs no voice
        if language not in offered:
            errors.append(
                FieldError("patient.language", f"must be one of: {', '.join(sorted(offered))}")
            )
        elif not set(offered[language]) >= APPOINTMENT_KINDS:
            errors.append(FieldError("patient.language", "cannot say every appointment message"))
    booked = request.status == AppointmentStatus.BOOKED
    if booked and attention is None and first_channel(clinic.channels, resolved) is None:
        contact = "patient.phone" if "phone" in clinic.channels else "patient.app_recipient_id"
        errors.append(
            FieldError(contact, f"is required: the clinic reaches patients by {_listed(clinic)}")
        )
    if request.start > now + HORIZON:
        errors.append(FieldError("start", HORIZON_MESSAGE))
    if request.version is None and request.updated_at is None:
        errors.append(
            FieldError("version", "or updated_at is required, so an older update never wins")
        )
    if errors:
        raise ValidationProblem(errors)
    warnings: list[FieldError] = []
    if language in offered:  # judged in the language its reminders will be spoken in
        texts = {"location": request.location, "instructions": request.instructions}
        refuse = clinic.refuse_other_language_text
        warnings = free_text_in_other_language(texts, language, refuse=refuse)
    return Visit(
        status=request.status.value,
        start=request.start.astimezone(UTC),
        provider=request.provider,
        location=request.location,
        instructions=request.instructions,
        patient=resolved,
        needs_attention=attention,
        warnings=tuple(warnings),
    )


def _listed(clinic: Clinic) -> str:
    return " or ".join(clinic.channels) or "no channel (none is enabled)"


def put_appointment(
    session: Session,
    caller: Caller,
    clinic_id: str,
    external_id: str,
    request: AppointmentRequest,
    offered: Mapping[str, Sequence[str]],
    now: datetime,
    *,
    attention: str | None = None,
    record: Recorder | None = None,
) -> Written:
    """Create or update the appointment and re-plan its reminders; committed on return.

    ``attention`` flags a visit whose patient cannot be reached (see ``resolve_visit``);
    ``record`` adds to the committing transaction (see ``Recorder``)."""
    clinic = clinic_for(session, caller, clinic_id)
    visit = resolve_visit(request, clinic, offered, now, attention)
    for _ in range(UPSERT_TRIES):
        stored = session.scalar(
            select(Appointment)
            .where(Appointment.clinic_id == clinic_id, Appointment.external_id == external_id)
            .execution_options(populate_existing=True)  # the revision as it is now
        )
        if stored is None:
            creation = Creation(clinic, external_id, visit, request, record)
            try:
                (created,) = create_appointments(session, caller, [creation], now)
            except IntegrityError:
                session.rollback()  # created by a racing request: update it instead
                continue
            return created
        if not visible_to(stored, caller):
            raise Problem(404, "Not found", "No appointment with this id.", slug="not-found")
        same = Visit.of(stored) == visit
        newer = check_order(stored, request, same)
        if same:
            if not newer or set_source_order(session, stored, request):
                if record is not None:
                    record(session, stored, "unchanged")
                session.commit()
                return Written(stored, "unchanged", [], visit.warnings)
        elif written := store_change(
            session, stored, visit, request, clinic, caller, now, record=record
        ):
            return written
        session.rollback()  # changed by another request since it was read: read it again
    raise _busy()


@dataclass(frozen=True)
class Creation:
    """One appointment to create, as ``put_appointment`` found it: not stored yet."""

    clinic: Clinic
    external_id: str
    visit: Visit
    request: AppointmentRequest
    record: Recorder | None = None


def create_appointments(
    session: Session, caller: Caller, creations: Sequence[Creation], now: datetime
) -> list[Written]:
    """Create each appointment with its planned reminders, its audit entry and its
    recorder's rows, all in one transaction, committed on return (HL7 intake stores the
    messages that arrive together this way: a few statements for all instead of a few
    for each). An ``IntegrityError`` (one of them created meanwhile by another request)
    leaves the session to be rolled back, with none of them written."""
    appointments = [
        Appointment(
            id=new_id(),
            clinic_id=creation.clinic.id,
            external_id=creation.external_id,
            owner_key_id=caller.id,
            status=creation.visit.status,
            start=creation.visit.start,
            provider=creation.visit.provider,
            location=creation.visit.location,
            instructions=creation.visit.instructions,
            patient=creation.visit.patient,
            needs_attention=creation.visit.needs_attention,
            source_version=creation.request.version,
            source_updated_at=creation.request.updated_at,
            revision=1,
            created_at=now,
            updated_at=now,
        )
        for creation in creations
    ]
    session.add_all(appointments)
    session.flush()
    reminder_rows: list[dict[str, Any]] = []
    written = []
    for creation, appointment in zip(creations, appointments, strict=True):
        replanned = replan(session, appointment, creation.clinic, now, new=reminder_rows)
        audit_write(session, caller, appointment, replanned, "created")
        if creation.record is not None:
            creation.record(session, appointment, "created")
        written.append(Written(appointment, "created", replanned.due, creation.visit.warnings))
    _insert_reminders(session, reminder_rows, now)
    session.commit()
    return written


def _busy() -> Problem:
    return Problem(
        409,
        "Appointment busy",
        "Other updates of this appointment keep arriving at the same time; retry shortly.",
        slug="appointment-busy",
        headers={"Retry-After": "1"},
    )


def cancel_appointment(
    session: Session, caller: Caller, clinic_id: str, external_id: str, now: datetime
) -> Written:
    """``DELETE``: the visit is cancelled (the record stays); twice is the same as once."""
    clinic = clinic_for(session, caller, clinic_id)
    for _ in range(UPSERT_TRIES):
        stored = find_appointment(session, caller, clinic_id, external_id)
        if stored.status == AppointmentStatus.CANCELLED:
            return Written(stored, "unchanged", [])
        visit = replace(Visit.of(stored), status=AppointmentStatus.CANCELLED.value)
        written = store_change(session, stored, visit, None, clinic, caller, now)
        if written is not None:
            return written
        session.rollback()
    raise _busy()


def change_patient(
    session: Session,
    caller: Caller,
    stored: Appointment,
    request: AppointmentRequest,
    clinic: Clinic,
    offered: Mapping[str, Sequence[str]],
    now: datetime,
) -> Written:
    """The patient of ``request`` (a new phone, language or name sent on its own, such
    as a FHIR Patient update) on the appointment as it stands: its time, status and
    source order kept, its reminders re-planned (``replan``: pending ones take the new
    facts in place, rendered ones are cancelled and planned again). Committed on return;
    409 when another update keeps winning the compare-and-set."""
    patient = resolve_visit(request, clinic, offered, now).patient
    for _ in range(UPSERT_TRIES):
        kept = Visit.of(stored)
        visit = replace(kept, patient=patient)
        if visit == kept:
            return Written(stored, "unchanged", [])
        if written := store_change(session, stored, visit, None, clinic, caller, now):
            return written
        session.rollback()
        session.refresh(stored)
    raise _busy()


def check_order(stored: Appointment, request: AppointmentRequest, same: bool) -> bool:
    """Whether the request is newer than what is stored; a 409 naming the field when it is
    older, or when it is as old but says something else (two truths for one version)."""
    name: str
    incoming: Any
    kept: Any
    if stored.source_version is not None:
        name, incoming, kept = "version", request.version, stored.source_version
    elif stored.source_updated_at is not None:
        name, incoming, kept = "updated_at", request.updated_at, stored.source_updated_at
    else:
        return True
    if incoming is None:
        raise ValidationProblem(
            [FieldError(name, f"is required: this appointment was stored with a {name}")]
        )
    if incoming < kept:
        raise Problem(
            409,
            "Older update",
            f"This {name} is older than the one stored; nothing was changed.",
            slug="older-update",
            errors=[FieldError(name, "is older than the one stored")],
        )
    if incoming == kept and not same:
        raise Problem(
            409,
            "Older update",
            f"This {name} was already stored with other content; send a newer one.",
            slug="older-update",
            errors=[FieldError(name, "was already stored with other content")],
        )
    return bool(incoming > kept)


def set_source_order(session: Session, stored: Appointment, request: AppointmentRequest) -> bool:
    """A newer version saying the same: remember it, so an older one after it is refused.
    False (nothing written) when another request changed the appointment since it was read."""
    values = {"source_version": request.version, "source_updated_at": request.updated_at}
    won = session.execute(
        update(Appointment)
        .where(Appointment.id == stored.id, Appointment.revision == stored.revision)
        .values(**values, revision=stored.revision + 1)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        return False
    for name, value in values.items():
        set_committed_value(stored, name, value)
    set_committed_value(stored, "revision", stored.revision + 1)
    return True


def store_change(
    session: Session,
    stored: Appointment,
    visit: Visit,
    request: AppointmentRequest | None,
    clinic: Clinic,
    caller: Caller,
    now: datetime,
    *,
    record: Recorder | None = None,
) -> Written | None:
    """Write ``visit`` over ``stored`` and re-plan, committed; None when another request
    changed the appointment since it was read (nothing is written then)."""
    values: dict[str, Any] = {
        "status": visit.status,
        "start": visit.start,
        "provider": visit.provider,
        "location": visit.location,
        "instructions": visit.instructions,
        "patient": visit.patient,
        "needs_attention": visit.needs_attention,
        "revision": stored.revision + 1,
        "updated_at": now,
    }
    if request is not None:
        values |= {"source_version": request.version, "source_updated_at": request.updated_at}
    won = session.execute(
        update(Appointment)
        .where(Appointment.id == stored.id, Appointment.revision == stored.revision)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        return None
    for name, value in values.items():  # what was written, without reading it back
        set_committed_value(stored, name, value)
    replanned = replan(session, stored, clinic, now)
    audit_write(session, caller, stored, replanned, "updated")
    if record is not None:
        record(session, stored, "updated")
    session.commit()
    return Written(stored, "updated", replanned.due, visit.warnings)


def audit_write(
    session: Session, caller: Caller, appointment: Appointment, replanned: Replanned, change: str
) -> None:
    audit(
        session,
        caller.id,
        "appointment.write",
        "appointment",
        appointment.id,
        replanned.detail(change),
    )


# -- planning applied ----------------------------------------------------------------------


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def appointment_facts(
    appointment: Appointment,
    clinic: Clinic,
    start: datetime,
    previous_start: datetime | None = None,
) -> dict[str, Any]:
    """The blocks a reminder of this appointment stores, as ``POST /v1/reminders`` does."""
    visit: dict[str, Any] = {
        "start": _iso(start),
        "provider": appointment.provider,
        "location": appointment.location,
        "instructions": appointment.instructions,
    }
    if previous_start is not None:
        visit["previous_start"] = _iso(previous_start)
    return {
        "patient": {name: appointment.patient.get(name) for name in PATIENT_FACTS}
        | {name: appointment.patient[name] for name in ACCESS_FACTS if name in appointment.patient},
        "clinic": clinic_facts(clinic),
        "appointment": visit,
    }


def replan(
    session: Session,
    appointment: Appointment,
    clinic: Clinic,
    now: datetime,
    *,
    new: list[dict[str, Any]] | None = None,
) -> Replanned:
    """Bring the appointment's reminders in line with what it is now (see the module).

    ``new``: the appointment was just created, so it has no reminders to read; its
    reminder rows are added to this list, for the caller to insert with others'.
    """
    done = Replanned()
    reminders: list[Reminder] = []
    if new is None:
        reminders = list(
            session.scalars(
                select(Reminder)
                .where(Reminder.appointment_id == appointment.id)
                .order_by(Reminder.created_at, Reminder.id)
                .options(lazyload("*"))  # events, attempts and audio are not needed here
                .execution_options(populate_existing=True)
            )
        )
    timezone = appointment.patient["timezone"]
    hours = calling_hours(clinic)
    channel = first_channel(clinic.channels, appointment.patient)
    booked = appointment.status == AppointmentStatus.BOOKED
    wanted = {}
    if booked and channel is not None and appointment.needs_attention is None:
        offsets = schedule_offsets(clinic.schedule)
        plan = plan_reminders(appointment.start, timezone, offsets, hours, now)
        wanted = {planned.slot: planned for planned in plan}
    for reminder in reminders:  # a slot already told about this very time is not repeated
        told_now = _start_of(reminder) == appointment.start
        if reminder.plan_slot is not None and reminder.status in TOLD and told_now:
            wanted.pop(reminder.plan_slot, None)
    facts = appointment_facts(appointment, clinic, appointment.start)
    kept: set[int] = set()
    reason = f"appointment {appointment.status}" if not booked else "appointment changed"
    for reminder in reminders:
        if reminder.status not in CANCELLABLE:
            continue
        slot = reminder.plan_slot
        target = wanted.get(slot) if slot is not None else None
        if target is not None and slot not in kept and reminder.channel == channel:
            retimed = session.execute(
                update(Reminder)
                .where(Reminder.id == reminder.id, Reminder.status == Status.SCHEDULED)
                .values(
                    send_at=target.send_at,
                    expires_at=appointment.start,
                    facts=facts,
                    language=appointment.patient["language"],
                    queued_at=now if target.send_at <= now else None,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if retimed.rowcount == 1:  # type: ignore[attr-defined]
                kept.add(target.slot)
                done.retimed += 1
                if target.send_at <= now:
                    done.due.append(reminder.id)
                continue
        if advance(
            session,
            reminder.id,
            Status.CANCELLED,
            expect=CANCELLABLE,
            detail=reason,
            lease_until=None,
        ):
            done.cancelled += 1
    rows = [
        _reminder_row(appointment, REMINDER_KIND, channel, planned.send_at, facts, slot, now)
        for slot, planned in wanted.items()
        if slot not in kept and channel is not None
    ]
    done.planned = len(rows)
    notice = _notice(appointment, clinic, reminders, channel, now)
    if notice is not None:
        rows.append(notice)
        done.notice = notice["kind"]
    if new is None:
        _insert_reminders(session, rows, now)
    else:
        new.extend(rows)
    done.due.extend(row["id"] for row in rows if row["send_at"] <= now)
    return done


def _start_of(reminder: Reminder) -> datetime | None:
    start = (reminder.facts.get("appointment") or {}).get("start")
    return _moment(start) if start else None


def _notice(
    appointment: Appointment,
    clinic: Clinic,
    reminders: Sequence[Reminder],
    channel: str | None,
    now: datetime,
) -> dict[str, Any] | None:
    """One ``appointment_changed`` or ``appointment_cancelled`` if the patient was told a
    time that no longer holds (a pending one from before was cancelled with the rest)."""
    told = [r for r in reminders if r.status in TOLD and r.kind in TELLS_THE_TIME]
    if not told or channel is None:
        return None
    told_start = _start_of(told[-1])
    if told_start is None:
        return None
    timezone = appointment.patient["timezone"]
    hours = calling_hours(clinic)
    if appointment.status == AppointmentStatus.BOOKED and told_start != appointment.start:
        kind, start, previous = Kind.APPOINTMENT_CHANGED, appointment.start, told_start
    elif appointment.status == AppointmentStatus.CANCELLED:
        if any(r.kind == Kind.APPOINTMENT_CANCELLED and r.status in TOLD for r in reminders):
            return None
        kind, start, previous = Kind.APPOINTMENT_CANCELLED, told_start, None
    else:
        return None
    send_at = notice_time(start, timezone, hours, now)
    if send_at is None:
        return None
    facts = appointment_facts(appointment, clinic, start, previous)
    return _reminder_row(appointment, kind.value, channel, send_at, facts, None, now)


def _reminder_row(
    appointment: Appointment,
    kind: str,
    channel: str,
    send_at: datetime,
    facts: dict[str, Any],
    slot: int | None,
    now: datetime,
) -> dict[str, Any]:
    """A reminder of this appointment, as ``POST /v1/reminders`` would store it; it
    expires when the visit it speaks of begins."""
    return {
        "id": new_id(),
        "owner_key_id": appointment.owner_key_id,
        "kind": kind,
        "channel": channel,
        "language": appointment.patient["language"],
        "status": Status.SCHEDULED,
        "send_at": send_at,
        "expires_at": _moment(facts["appointment"]["start"]),
        "external_id": appointment.external_id,
        "callback_url": None,
        "facts": facts,
        "created_at": now,
        "updated_at": now,
        "queued_at": now if send_at <= now else None,
        "job_failures": 0,
        "appointment_id": appointment.id,
        "clinic_id": appointment.clinic_id,
        "plan_slot": slot,
    }


def _insert_reminders(session: Session, rows: list[dict[str, Any]], now: datetime) -> None:
    """The reminders and their first events, one INSERT each (plain table INSERTs, as
    ``service.reminders.create_reminder`` writes them: nobody reads these rows back here)."""
    if not rows:
        return
    connection = session.connection()
    connection.execute(insert(REMINDERS), rows)
    events = [{"reminder_id": row["id"], "status": Status.SCHEDULED, "at": now} for row in rows]
    connection.execute(insert(REMINDER_EVENTS), events)
