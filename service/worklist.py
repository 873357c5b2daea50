"""The staff worklist: what needs a person, each item with its reason and the facts to act.

An item is a *reason* about a *subject* (a reminder, an appointment, or a clinic's
language), found by that reason's query in ``SOURCES``, the one place that lists them:
adding a reason is one ``WorklistReason`` member and one query. An item leaves the list once a
staff member acted on its subject (``StaffAction``) at or after the moment it arose; if
the same thing happens again later, it comes back.

Items are newest first, keyset-paged on (at, item id). Each source reads at most a page
(plus one) past the cursor, so a page costs one bounded query per reason; the opted-out
source hashes the phone numbers of the upcoming visits it reads, as the opt-out list holds
numbers only as keyed hashes.

Acting: ``handled`` (with a note, kept with the action, never in the audit log; a reminder
goes through ``service.reminders.mark_handled``, as ``POST /v1/reminders/{id}/handled``),
``resend`` (a copy of the reminder, optionally in another language, planned and rendered
by the usual pipeline), and call back (the patient's number, shown to staff only).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from service.call_policy import CallPolicy, NeverCallList, legacy_phone_hash
from service.clinic_words import is_reviewed
from service.errors import FieldError, Problem, ValidationProblem
from service.follow_ups import describe_answer
from service.models import (
    CANCELLABLE,
    Appointment,
    AppointmentStatus,
    Attempt,
    OptOut,
    Reminder,
    Role,
    StaffAction,
    Status,
    audit,
)
from service.paging import decode_cursor, encode_cursor
from service.reminders import copy_reminder, mark_handled
from service.security import Caller


class WorklistReason(enum.StrEnum):
    """Why an item needs a person: a closed set (an enum in the OpenAPI description)."""

    NEEDS_STAFF = "needs_staff"
    FOLLOW_UP_ANSWER = "follow_up_answer"
    FAILED = "failed"
    CANCEL_REQUEST = "cancel_request"
    CLINIC_UNANSWERED = "clinic_unanswered"
    OPTED_OUT = "opted_out"
    NEEDS_ATTENTION = "needs_attention"
    UNREVIEWED_LANGUAGE = "unreviewed_language"


class WorklistAction(enum.StrEnum):
    HANDLED = "handled"
    CALL_BACK = "call_back"
    RESEND = "resend"
    CHANGE_LANGUAGE = "change_language"
    """A re-send in another language (``resend`` with ``language``)."""


REMINDER, APPOINTMENT, LANGUAGE = "reminder", "appointment", "language"
UNANSWERED_DIALS = ("no-answer", "busy", "failed", "canceled")
"""``DialCallStatus`` of a patient's call to the clinic (key 0) that reached nobody."""
UPCOMING = tuple(CANCELLABLE)
"""A reminder not yet sent: what "in use" means for a language."""
ITEM_ID = re.compile(r"(?P<reason>[a-z_]{1,40}):(?P<subject>[A-Za-z0-9_~-]{1,120})")
ITEM_ID_MAX_CHARS = 162
NOTE_MAX_CHARS = 2000


@dataclass(frozen=True)
class Scope:
    """Who asks, the filters, and where the page starts."""

    caller: Caller
    now: datetime
    clinic_id: str | None = None
    since: datetime | None = None
    """Inclusive, on the moment the item arose."""
    until: datetime | None = None
    """Exclusive."""
    before: datetime | None = None
    """The cursor's moment: items at or before it (the exact tie is settled after)."""
    fetch: int = 51
    never_call: NeverCallList | None = None
    subject: str | None = None
    """Only the items about this subject (finding one item)."""


@dataclass(frozen=True)
class Item:
    reason: WorklistReason
    subject_type: str
    subject_id: str
    at: datetime
    """When the item arose."""
    clinic_id: str | None
    detail: str
    """What happened, in words without PHI."""
    reminder: Reminder | None = None
    appointment: Appointment | None = None
    language: str | None = None
    actions: tuple[WorklistAction, ...] = field(default=())

    @property
    def id(self) -> str:
        return f"{self.reason}:{self.subject_id}"

    @property
    def patient(self) -> Mapping[str, Any]:
        """The patient's facts (PHI): for the signed-in staff member and the API only."""
        if self.reminder is not None:
            return dict(self.reminder.facts.get("patient") or {}) | {
                "language": self.reminder.language
            }
        if self.appointment is not None:
            return self.appointment.patient
        return {}


Source = Callable[[Session, Scope], list[Item]]
Query = TypeVar("Query", bound=Select[*tuple[Any, ...]])


# -- the queries --------------------------------------------------------------------------


def _not_acted(subject_type: str, subject_id: Any, since: Any) -> Any:
    """No staff action on the subject at or after ``since``."""
    return ~exists().where(
        StaffAction.subject_type == subject_type,
        StaffAction.subject_id == subject_id,
        StaffAction.at >= since,
    )


def _bounded(query: Query, at: Any, scope: Scope) -> Query:
    if scope.since is not None:
        query = query.where(at >= scope.since)
    if scope.until is not None:
        query = query.where(at < scope.until)
    if scope.before is not None:
        query = query.where(at <= scope.before)
    return query.order_by(at.desc()).limit(scope.fetch)


def _reminders_of(query: Query, scope: Scope) -> Query:
    """Reminders still worth acting on (their visit has not begun, a notice is not stale);
    a scheduler sees its own, in its clinics; the clinic filter for all."""
    query = query.where(Reminder.expires_at.is_(None) | (Reminder.expires_at > scope.now))
    return _in_scope(query, scope, Reminder)


def _appointments_of(query: Query, scope: Scope) -> Query:
    return _in_scope(query, scope, Appointment)


def _in_scope(query: Query, scope: Scope, record: type[Reminder] | type[Appointment]) -> Query:
    """A scheduler's own records, in its clinics; the clinic and subject filters for all."""
    caller = scope.caller
    if caller.role == Role.SCHEDULER:
        query = query.where(record.owner_key_id == caller.id)
        if caller.clinic_ids is not None:
            query = query.where(record.clinic_id.in_(sorted(caller.clinic_ids)))
    if scope.clinic_id is not None:
        query = query.where(record.clinic_id == scope.clinic_id)
    if scope.subject is not None:
        query = query.where(record.id == scope.subject)
    return query


def _by_status(
    reason: WorklistReason, status: Status, detail: str, *actions: WorklistAction
) -> Source:
    """Reminders that ended in ``status`` and nobody acted on since (a follow-up's answer
    for staff is its own reason, ``_follow_up_answers``)."""

    def source(session: Session, scope: Scope) -> list[Item]:
        at = Reminder.updated_at
        query = select(Reminder).where(
            Reminder.status == status,
            Reminder.follow_up_needs_staff.is_not(True),
            _not_acted(REMINDER, Reminder.id, at),
        )
        rows = session.scalars(_bounded(_reminders_of(query, scope), at, scope))
        return [_reminder_item(reason, r, r.updated_at, detail, actions) for r in rows]

    return source


def _follow_up_answers(session: Session, scope: Scope) -> list[Item]:
    """Follow-ups answered with a low score or a "no": a person follows the answer up.
    Their status is ``needs_staff`` too, but nobody went unreached: the item says what
    was answered, and there is nothing to re-send."""
    at = Reminder.follow_up_answered_at
    query = select(Reminder).where(
        Reminder.status == Status.NEEDS_STAFF,
        Reminder.follow_up_needs_staff.is_(True),
        _not_acted(REMINDER, Reminder.id, at),
    )
    rows = session.scalars(_bounded(_reminders_of(query, scope), at, scope))
    return [
        _reminder_item(
            WorklistReason.FOLLOW_UP_ANSWER,
            r,
            r.follow_up_answered_at or r.updated_at,
            describe_answer(r),
            (WorklistAction.HANDLED, WorklistAction.CALL_BACK),
        )
        for r in rows
    ]


def _reminder_item(
    reason: WorklistReason,
    reminder: Reminder,
    at: datetime,
    detail: str,
    actions: Sequence[WorklistAction],
) -> Item:
    return Item(
        reason=reason,
        subject_type=REMINDER,
        subject_id=reminder.id,
        at=at,
        clinic_id=reminder.clinic_id,
        detail=detail,
        reminder=reminder,
        language=reminder.language,
        actions=tuple(actions),
    )


def _clinic_unanswered(session: Session, scope: Scope) -> list[Item]:
    """The patient pressed 0 and the clinic's line did not answer."""
    at = Attempt.started_at
    query = (
        select(Reminder, Attempt)
        .join(Attempt, Attempt.reminder_id == Reminder.id)
        .where(Attempt.clinic_dial.in_(UNANSWERED_DIALS), _not_acted(REMINDER, Reminder.id, at))
    )
    rows = session.execute(_bounded(_reminders_of(query, scope), at, scope)).all()
    return [
        _reminder_item(
            WorklistReason.CLINIC_UNANSWERED,
            reminder,
            attempt.started_at,
            f"the patient asked for the clinic (0); the clinic's line: {attempt.clinic_dial}",
            (WorklistAction.HANDLED, WorklistAction.CALL_BACK),
        )
        for reminder, attempt in rows
    ]


def _upcoming_visits(scope: Scope) -> Select[Any]:
    return _appointments_of(
        select(Appointment).where(
            Appointment.status == AppointmentStatus.BOOKED, Appointment.start > scope.now
        ),
        scope,
    )


def _needs_attention(session: Session, scope: Scope) -> list[Item]:
    at = Appointment.updated_at
    query = _upcoming_visits(scope).where(
        Appointment.needs_attention.is_not(None), _not_acted(APPOINTMENT, Appointment.id, at)
    )
    return [
        _appointment_item(
            WorklistReason.NEEDS_ATTENTION, a, a.updated_at, f"intake: {a.needs_attention}"
        )
        for a in session.scalars(_bounded(query, at, scope))
    ]


def _appointment_item(
    reason: WorklistReason, visit: Appointment, at: datetime, detail: str
) -> Item:
    actions = (
        (WorklistAction.HANDLED, WorklistAction.CALL_BACK)
        if visit.patient.get("phone")
        else (WorklistAction.HANDLED,)
    )
    return Item(
        reason=reason,
        subject_type=APPOINTMENT,
        subject_id=visit.id,
        at=at,
        clinic_id=visit.clinic_id,
        detail=detail,
        appointment=visit,
        language=visit.patient.get("language"),
        actions=actions,
    )


def _opted_out(session: Session, scope: Scope) -> list[Item]:
    """Upcoming visits whose patient's number is on the never-call list: nothing will
    reach them. The list keeps keyed hashes only, so each visit's number is hashed here."""
    assert scope.never_call is not None, "the opted-out source needs the never-call list"
    visits = list(session.scalars(_upcoming_visits(scope).order_by(Appointment.start)))
    hashes: dict[str, list[Appointment]] = {}
    for visit in visits:
        phone = visit.patient.get("phone")
        if phone:
            for digest in (scope.never_call.phone_hash(phone), legacy_phone_hash(phone)):
                hashes.setdefault(digest, []).append(visit)
    listed = session.execute(
        select(OptOut.phone_hash, OptOut.created_at).where(OptOut.phone_hash.in_(list(hashes)))
    ).all()
    found: dict[str, tuple[Appointment, datetime]] = {}
    for digest, opted_at in listed:
        for visit in hashes[digest]:
            found[visit.id] = (visit, max(opted_at, visit.created_at))
    acted = _last_actions(session, APPOINTMENT, list(found))
    items = [
        _appointment_item(
            WorklistReason.OPTED_OUT,
            visit,
            at,
            "the patient's number is opted out of calls and texts",
        )
        for visit, at in found.values()
        if (acted.get(visit.id) is None or acted[visit.id] < at) and _in(scope, at)
    ]
    return items


def _unreviewed_languages(session: Session, scope: Scope) -> list[Item]:
    """A clinic's language whose wording nobody reviewed, with reminders still to send."""
    first = func.min(Reminder.created_at)
    query = _reminders_of(
        select(Reminder.clinic_id, Reminder.language, first, func.count())
        .where(Reminder.status.in_(UPCOMING))
        .group_by(Reminder.clinic_id, Reminder.language),
        replace(scope, subject=None),
    )
    subjects = {
        f"{clinic_id or ''}~{language}": (clinic_id, language, since, count)
        for clinic_id, language, since, count in session.execute(query)
    }
    if scope.subject is not None:
        subjects = {k: v for k, v in subjects.items() if k == scope.subject}
    acted = _last_actions(session, LANGUAGE, list(subjects))
    items = []
    for subject, (clinic_id, language, since, count) in subjects.items():
        if acted.get(subject) is not None and acted[subject] >= since:
            continue
        if not _in(scope, since) or is_reviewed(session, clinic_id, language):
            continue
        items.append(
            Item(
                reason=WorklistReason.UNREVIEWED_LANGUAGE,
                subject_type=LANGUAGE,
                subject_id=subject,
                at=since,
                clinic_id=clinic_id,
                detail=f"{count} reminder(s) to send in {language}, whose wording is unreviewed",
                language=language,
                actions=(WorklistAction.HANDLED,),
            )
        )
    return items


def _in(scope: Scope, at: datetime) -> bool:
    return (
        (scope.since is None or at >= scope.since)
        and (scope.until is None or at < scope.until)
        and (scope.before is None or at <= scope.before)
    )


def _last_actions(session: Session, subject_type: str, ids: Sequence[str]) -> dict[str, datetime]:
    if not ids:
        return {}
    rows = session.execute(
        select(StaffAction.subject_id, func.max(StaffAction.at))
        .where(StaffAction.subject_type == subject_type, StaffAction.subject_id.in_(ids))
        .group_by(StaffAction.subject_id)
    )
    return {subject_id: at for subject_id, at in rows}


SOURCES: dict[WorklistReason, Source] = {
    WorklistReason.NEEDS_STAFF: _by_status(
        WorklistReason.NEEDS_STAFF,
        Status.NEEDS_STAFF,
        "every escalation step ran without an answer",
        WorklistAction.HANDLED,
        WorklistAction.CALL_BACK,
        WorklistAction.RESEND,
        WorklistAction.CHANGE_LANGUAGE,
    ),
    WorklistReason.FOLLOW_UP_ANSWER: _follow_up_answers,
    WorklistReason.FAILED: _by_status(
        WorklistReason.FAILED,
        Status.FAILED,
        "delivery failed",
        WorklistAction.HANDLED,
        WorklistAction.CALL_BACK,
        WorklistAction.RESEND,
        WorklistAction.CHANGE_LANGUAGE,
    ),
    WorklistReason.CANCEL_REQUEST: _by_status(
        WorklistReason.CANCEL_REQUEST,
        Status.CANCEL_REQUESTED,
        "the patient asked to cancel (2)",
        WorklistAction.HANDLED,
        WorklistAction.CALL_BACK,
    ),
    WorklistReason.CLINIC_UNANSWERED: _clinic_unanswered,
    WorklistReason.OPTED_OUT: _opted_out,
    WorklistReason.NEEDS_ATTENTION: _needs_attention,
    WorklistReason.UNREVIEWED_LANGUAGE: _unreviewed_languages,
}
"""Every reason's query: the one place to add one."""
assert set(SOURCES) == set(WorklistReason), "every reason needs its query"


# -- the list -----------------------------------------------------------------------------


def is_item_id(value: str) -> bool:
    match = ITEM_ID.fullmatch(value)
    return match is not None and match["reason"] in set(WorklistReason)


@dataclass(frozen=True)
class WorklistPage:
    items: list[Item]
    next_cursor: str | None


def list_worklist(
    session: Session,
    scope: Scope,
    reasons: Iterable[WorklistReason] | None,
    *,
    limit: int,
    cursor: str | None,
) -> WorklistPage:
    """Newest first, every asked-for reason's items merged; keyset-paged on (at, id)."""
    after: tuple[datetime, str] | None = None
    if cursor is not None:
        after = decode_cursor(cursor, is_item_id)
        scope = replace(scope, before=after[0])
    scope = replace(scope, fetch=limit + 1)
    items: list[Item] = []
    for reason in reasons or list(WorklistReason):
        items.extend(SOURCES[reason](session, scope))
    items.sort(key=lambda item: (item.at, item.id), reverse=True)
    if after is not None:
        items = [item for item in items if (item.at, item.id) < after]
    more = len(items) > limit
    items = items[:limit]
    last = items[-1] if more else None
    return WorklistPage(items, encode_cursor(last.at, last.id) if last else None)


def find_item(session: Session, scope: Scope, item_id: str) -> Item:
    """One item still on the list, as ``scope.caller`` may see it (404 otherwise: gone,
    acted on, or not theirs; the same answer, so ids are not probed)."""
    match = ITEM_ID.fullmatch(item_id)
    if match is None or match["reason"] not in set(WorklistReason):
        raise Problem(404, "Not found", "No worklist item with this id.", slug="not-found")
    reason, subject = WorklistReason(match["reason"]), match["subject"]
    narrowed = replace(scope, subject=subject)
    for item in SOURCES[reason](session, narrowed):
        if item.id == item_id:
            return item
    raise Problem(404, "Not found", "No worklist item with this id.", slug="not-found")


def reminder_on_worklist(session: Session, scope: Scope, reminder_id: str) -> bool:
    """Whether any reason lists this reminder now (so staff may mark it handled)."""
    narrowed = replace(scope, subject=reminder_id)
    return any(source(session, narrowed) for source in SOURCES.values())


# -- acting ---------------------------------------------------------------------------------


def record_action(
    session: Session, caller: Caller, item: Item, action: WorklistAction, note: str | None
) -> None:
    """What the staff member did, under their key; the audit names fields, never the note."""
    session.add(
        StaffAction(
            subject_type=item.subject_type,
            subject_id=item.subject_id,
            action=action,
            note=note,
            actor_key_id=caller.id,
        )
    )
    detail = {"reason": item.reason.value, "fields": ["note"] if note else []}
    audit(session, caller.id, f"worklist.{action}", item.subject_type, item.subject_id, detail)


def handle(session: Session, caller: Caller, item: Item, note: str | None) -> None:
    """Mark the item handled; a reminder through the same rule as its own route."""
    if item.reminder is not None:
        mark_handled(session, item.reminder, caller, note, on_worklist=True)
    else:
        record_action(session, caller, item, WorklistAction.HANDLED, note)


def resend(
    session: Session,
    caller: Caller,
    item: Item,
    language: str | None,
    offered: Mapping[str, Sequence[str]],
    policy: CallPolicy,
    now: datetime,
) -> Reminder:
    """A new reminder with the same facts (optionally in ``language``), planned now inside
    the calling hours and rendered by the usual pipeline; the item leaves the list."""
    reminder = item.reminder
    if reminder is None or WorklistAction.RESEND not in item.actions:
        raise Problem(
            409,
            "Cannot re-send",
            f"A {item.reason} item has no message to re-send.",
            slug="cannot-resend",
        )
    language = language or reminder.language
    kinds = offered.get(language)
    if kinds is None or reminder.kind not in kinds:
        raise ValidationProblem(
            [FieldError("language", f"cannot say a {reminder.kind} message here")]
        )
    copy = copy_reminder(session, reminder, language, policy, now)
    session.add(
        StaffAction(
            subject_type=REMINDER,
            subject_id=reminder.id,
            action=WorklistAction.RESEND,
            note=None,
            actor_key_id=caller.id,
        )
    )
    fields = ["language"] if language != reminder.language else []
    audit(
        session,
        caller.id,
        "worklist.resend",
        REMINDER,
        reminder.id,
        {"reason": item.reason.value, "new_reminder": copy.id, "fields": fields},
    )
    return copy
