"""Accepting, reading and cancelling reminders: the rules behind the routes.

Creation checks everything before it writes anything, then writes the reminder and its
first event in one transaction. An ``Idempotency-Key`` is claimed first through a unique
constraint, so of twenty concurrent duplicates exactly one creates a reminder; the rest
get the stored answer, or 409 while the first is still being written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from service.call_policy import CallPolicy
from service.clinic_words import clinic_id_of
from service.config import Settings
from service.db import utcnow
from service.errors import FieldError, Problem, ValidationProblem
from service.escalation import check_policy, policy_of
from service.links import Links
from service.models import (
    CANCELLABLE,
    IN_THE_LOOP,
    IdempotencyRecord,
    Reminder,
    ReminderEvent,
    Role,
    StaffAction,
    Status,
    advance,
    audit,
    is_record_id,
    new_id,
)
from service.paging import decode_cursor, encode_cursor
from service.schemas import APPOINTMENT_KINDS, Kind, MessageRequest, ReminderRequest
from service.security import Caller
from service.webhook_targets import TargetRefused, TargetUnresolved, check_target
from templates import ForeignText, foreign_text

IDEMPOTENCY_CLAIM_TTL_S = 60
"""A claim older than this with no answer belongs to a request that died; it may be retaken."""
PAGE_LIMIT_MAX = 200
REMINDERS = Reminder.metadata.tables["reminders"]
REMINDER_EVENTS = Reminder.metadata.tables["reminder_events"]
PAGE_LIMIT_DEFAULT = 50
HORIZON = timedelta(days=2 * 365)
"""How far ahead a clinic schedules: a later date is a typo (9999) or a probe."""
HORIZON_MESSAGE = "is more than two years ahead"
SEND_AT_PAST_GRACE = timedelta(days=1)
"""A send time this far in the past is a mistake, not a clock that drifted."""
RESULT_NOTICE_TTL = timedelta(days=7)
"""A "your results are ready" notice not delivered within a week is stale: the clinic has
other ways to reach the patient by then."""


def check_message(
    request: MessageRequest, offered: Mapping[str, Sequence[str]], *, need_contact: bool
) -> None:
    """The checks that span fields or depend on the configuration; raises ValidationProblem.

    ``offered`` is what the running configuration can write and speak: the kinds of each
    language, by code.
    """
    errors: list[FieldError] = []
    kinds = offered.get(request.language)
    if kinds is None:
        errors.append(FieldError("language", f"must be one of: {', '.join(sorted(offered))}"))
    elif request.kind not in kinds:
        errors.append(FieldError("kind", f"is not available in language {request.language!r}"))
    errors.extend(_kind_blocks(request))
    if request.patient_timezone is None:  # only a clinic by id gives a zone of its own
        errors.append(FieldError("patient.timezone", "is required"))
    if need_contact:
        if request.channel == "phone" and request.patient.phone is None:
            errors.append(FieldError("patient.phone", "is required for channel phone"))
        if request.channel == "app" and request.patient.app_recipient_id is None:
            errors.append(FieldError("patient.app_recipient_id", "is required for channel app"))
    if errors:
        raise ValidationProblem(errors)


def _kind_blocks(request: MessageRequest) -> list[FieldError]:
    """Each kind carries the blocks it speaks of, and no other (schemas.Kind says which)."""
    errors: list[FieldError] = []
    appointment = request.appointment
    if request.kind in APPOINTMENT_KINDS:
        if appointment is None:
            errors.append(FieldError("appointment", f"is required for {request.kind}"))
        elif appointment.start <= utcnow():
            errors.append(FieldError("appointment.start", "is in the past"))
        elif appointment.start > utcnow() + HORIZON:
            errors.append(FieldError("appointment.start", HORIZON_MESSAGE))
        if request.result is not None:
            errors.append(FieldError("result", "is only for result_ready"))
    elif appointment is not None:
        errors.append(FieldError("appointment", "is only for appointment kinds"))
    if request.kind == Kind.FOLLOW_UP and request.result is not None:
        errors.append(FieldError("result", "is only for result_ready"))
    if request.follow_up is not None and request.kind != Kind.FOLLOW_UP:
        errors.append(FieldError("follow_up", "is only for follow_up"))
    if appointment is not None and appointment.previous_start is not None:
        if request.kind != "appointment_changed":
            errors.append(
                FieldError("appointment.previous_start", "is only for appointment_changed")
            )
        elif appointment.previous_start == appointment.start:
            errors.append(
                FieldError("appointment.previous_start", "is the same as appointment.start")
            )
        elif abs(appointment.previous_start - utcnow()) > HORIZON:
            errors.append(
                FieldError("appointment.previous_start", "is more than two years from now")
            )
    return errors


OTHER_LANGUAGE_REFUSED = "this clinic refuses free text in another language than the message"


def other_language_text(request: MessageRequest, language: str, *, refuse: bool) -> list[str]:
    """Warnings for free text that reads as another language than ``language`` (the one
    the message is spoken in); with ``refuse`` (the clinic's ``refuse_other_language_text``)
    a ValidationProblem naming each such field and its language instead.

    Only the appointment's location and instructions are judged: names have no language.
    """
    appointment = request.appointment
    if appointment is None:
        return []
    texts = {"location": appointment.location, "instructions": appointment.instructions}
    warnings = free_text_in_other_language(texts, language, refuse=refuse, prefix="appointment.")
    return [f"{warning.field} {warning.message}" for warning in warnings]


def free_text_in_other_language(
    texts: Mapping[str, str | None], language: str, *, refuse: bool, prefix: str = ""
) -> list[FieldError]:
    """A warning per free-text fact (``location``, ``instructions``) that reads as another
    language than ``language``, on ``prefix`` + its name; with ``refuse`` a
    ValidationProblem naming each instead. What a reminder, an appointment, HL7 and FHIR
    intake say about such text, each in its own form."""
    found = foreign_text(texts, language)
    if refuse and found:
        raise ValidationProblem(
            [
                FieldError(
                    prefix + text.fact,
                    f"reads as {_language_said(text)}, not {language!r}: {OTHER_LANGUAGE_REFUSED}",
                )
                for text in found
            ]
        )
    return [
        FieldError(
            prefix + text.fact,
            f"reads as {_language_said(text)}, not the message's language ({language!r}): "
            f"its voice would read it with the wrong sounds. Write it in {language!r} or send "
            "the message in that language.",
        )
        for text in found
    ]


def _language_said(text: ForeignText) -> str:
    return f"{text.language_name} ({text.language!r}, confidence {text.confidence:.2f})"


def check_callback_url(request: ReminderRequest, settings: Settings) -> None:
    """Refuse at once a callback URL that status webhooks would be refused for.

    A host that does not resolve from here is accepted: the scheduler's DNS may differ,
    and every webhook checks its target again before it is sent.
    """
    if request.callback_url is None:
        return
    try:
        check_target(
            str(request.callback_url), allow_private=settings.webhook_allow_private_targets
        )
    except TargetUnresolved:
        return
    except TargetRefused as err:
        raise ValidationProblem([FieldError("callback_url", f"is refused: {err}")]) from err


def first_send_time(request: ReminderRequest, policy: CallPolicy) -> datetime:
    """When to send first: the time asked for (or now), moved into the calling hours of
    the clinic named by id, else the configured window. After ``check_message``."""
    now = utcnow()
    if request.send_at is not None and request.send_at < now - SEND_AT_PAST_GRACE:
        raise ValidationProblem([FieldError("send_at", "is more than a day in the past")])
    if request.send_at is not None and request.send_at > now + HORIZON:
        raise ValidationProblem([FieldError("send_at", HORIZON_MESSAGE)])
    send_at = request.send_at or now
    if request.channel == "phone":
        timezone = request.patient_timezone
        assert timezone is not None, "check_message requires a time zone"
        send_at = policy.calling_hours(request.facts()).next_allowed(send_at, timezone)
    if request.appointment is not None and send_at >= request.appointment.start:
        raise ValidationProblem(
            [FieldError("send_at", "falls after the appointment once the calling window applies")]
        )
    return send_at


def expires_at(request: ReminderRequest, send_at: datetime) -> datetime:
    """When a reminder not yet delivered is no longer worth delivering."""
    if request.appointment is not None:
        return request.appointment.start
    return send_at + RESULT_NOTICE_TTL


@dataclass(frozen=True)
class Created:
    status_code: int
    body: dict[str, Any]
    reminder_id: str | None
    """Set only when this call created the reminder (so the caller enqueues it)."""


def request_hash(request: ReminderRequest) -> str:
    # A request without a policy hashes as it did before the field existed.
    dumped = request.model_dump(
        mode="json", exclude={"escalation"} if request.escalation is None else None
    )
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_reminder(
    session: Session,
    owner: Caller,
    request: ReminderRequest,
    send_at: datetime,
    idempotency_key: str | None,
    links: Links,
) -> Created:
    """Store the reminder and its first event, committed before the caller answers."""
    if idempotency_key is not None:
        earlier = _claim_idempotency_key(session, owner.id, idempotency_key, request)
        if earlier is not None:
            return earlier
    reminder_id = new_id()
    body = {
        "id": reminder_id,
        "status": Status.SCHEDULED.value,
        "send_at": send_at.isoformat(),
        "links": {"self": links.reminder(reminder_id)},
    }
    now = utcnow()
    facts = request.facts()
    try:
        # Plain table INSERTs on the session's connection: the ORM's unit of work would
        # cost more than the database does for a row nobody reads back here.
        connection = session.connection()
        connection.execute(
            insert(REMINDERS),
            [
                {
                    "id": reminder_id,
                    "owner_key_id": owner.id,
                    "kind": request.kind,
                    "channel": request.channel,
                    "language": request.language,
                    "status": Status.SCHEDULED,
                    "send_at": send_at,
                    "expires_at": expires_at(request, send_at),
                    "external_id": request.external_id,
                    "callback_url": str(request.callback_url) if request.callback_url else None,
                    "facts": facts,
                    "clinic_id": clinic_id_of(facts),
                    "follow_up_question": request.follow_up_question
                    if request.kind == Kind.FOLLOW_UP
                    else None,
                    "created_at": now,
                    "updated_at": now,
                    "queued_at": now if send_at <= now else None,
                }
            ],
        )
        connection.execute(
            insert(REMINDER_EVENTS),
            [{"reminder_id": reminder_id, "status": Status.SCHEDULED, "at": now}],
        )
        if idempotency_key is not None:
            session.execute(
                update(IdempotencyRecord)
                .where(
                    IdempotencyRecord.api_key_id == owner.id,
                    IdempotencyRecord.key == idempotency_key,
                )
                .values(status_code=202, response_body=body)
            )
        session.commit()
    except Exception:
        session.rollback()
        if idempotency_key is not None:
            _release_idempotency_key(session, owner.id, idempotency_key)
        raise
    return Created(202, body, reminder_id)


def _claim_idempotency_key(
    session: Session, owner_id: str, key: str, request: ReminderRequest
) -> Created | None:
    """None when this request now owns the key; otherwise the answer the caller gets.

    The claim is committed on its own, so a concurrent duplicate sees it (or waits on the
    unique index until it can) and never creates a second reminder.
    """
    fingerprint = request_hash(request)
    claim = {"api_key_id": owner_id, "key": key, "request_hash": fingerprint}
    try:
        session.add(IdempotencyRecord(**claim))
        session.commit()
        return None
    except IntegrityError:
        session.rollback()
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.api_key_id == owner_id, IdempotencyRecord.key == key
        )
    )
    if record is None:  # released between our insert and this read: claim it now
        session.add(IdempotencyRecord(**claim))
        session.commit()
        return None
    if record.request_hash != fingerprint:
        raise Problem(
            422,
            "Idempotency key reused",
            "This Idempotency-Key was used before with a different request body.",
            slug="idempotency-key-reused",
        )
    if record.response_body is not None:
        return Created(record.status_code or 202, record.response_body, None)
    stale = utcnow() - timedelta(seconds=IDEMPOTENCY_CLAIM_TTL_S)
    if record.created_at < stale:
        retaken = session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == record.id, IdempotencyRecord.created_at < stale)
            .values(created_at=utcnow())
        )
        session.commit()
        if retaken.rowcount == 1:  # type: ignore[attr-defined]
            return None
    raise Problem(
        409,
        "Request in flight",
        "A request with this Idempotency-Key is still being processed; retry shortly.",
        slug="idempotency-in-flight",
        headers={"Retry-After": "1"},
    )


def _release_idempotency_key(session: Session, owner_id: str, key: str) -> None:
    """Free the key of a request that failed, so the caller can fix it and retry."""
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.api_key_id == owner_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.response_body.is_(None),
        )
    )
    session.commit()


def readable_by(reminder: Reminder, reader: Caller) -> bool:
    return reader.role != Role.SCHEDULER or reminder.owner_key_id == reader.id


# A reminder with its events and attempts in one statement, so one snapshot: the worker
# writes a step's number and its event together, and under PostgreSQL's READ COMMITTED a
# second statement for the events could see a step the row read before it does not.
WITH_HISTORY = (joinedload(Reminder.events), joinedload(Reminder.attempts))


def get_reminder(session: Session, reminder_id: str, reader: Caller) -> Reminder:
    reminder = None
    if is_record_id(reminder_id):
        query = select(Reminder).where(Reminder.id == reminder_id).options(*WITH_HISTORY)
        reminder = session.scalars(query).unique().one_or_none()
    if reminder is None or not readable_by(reminder, reader):
        # The same answer for "not there" and "not yours": ids are not to be probed.
        raise Problem(404, "Not found", "No reminder with this id.", slug="not-found")
    return reminder


def cancel_reminder(session: Session, reminder: Reminder) -> None:
    """Cancel unless delivery has begun; cancelling twice is the same as once."""
    cancelled = advance(
        session,
        reminder.id,
        Status.CANCELLED,
        expect=CANCELLABLE,
        detail="cancelled by the scheduler",
        lease_until=None,
    )
    if cancelled:
        return
    session.refresh(reminder)
    if reminder.status == Status.CANCELLED:
        return
    raise Problem(
        409,
        "Too late to cancel",
        f"The reminder is {reminder.status}: delivery has started or ended.",
        slug="too-late-to-cancel",
    )


def mark_handled(
    session: Session,
    reminder: Reminder,
    caller: Caller,
    note: str | None = None,
    *,
    on_worklist: bool = False,
) -> None:
    """A staff member dealt with it: the loop stops (``handled``), with an audit entry
    naming the key (and that a note was given, never the note). Marking a handled reminder
    again is the same as once. One that left the loop otherwise is a 409, unless it is on
    the staff worklist (a cancel request, a failure, an unanswered call to the clinic):
    then its status stays, and the staff member's action takes it off the list.

    The note is kept with the staff action (``StaffAction``), shown to staff only."""
    step = reminder.escalation_step if policy_of(reminder.facts) is not None else None
    handled = advance(
        session,
        reminder.id,
        Status.HANDLED,
        expect=IN_THE_LOOP,
        detail="handled by a staff member",
        step=step,
        lease_until=None,
    )
    if not handled:
        session.refresh(reminder)
        if reminder.status == Status.HANDLED and note is None:
            return
        if reminder.status != Status.HANDLED and not on_worklist:
            raise Problem(
                409,
                "Not waiting for staff",
                f"The reminder is {reminder.status}: it is no longer being delivered.",
                slug="not-handleable",
            )
        session.add(
            ReminderEvent(
                reminder_id=reminder.id,
                status=reminder.status,
                detail="handled by a staff member",
                step=step,
            )
        )
    session.add(
        StaffAction(
            subject_type="reminder",
            subject_id=reminder.id,
            action="handled",
            note=note,
            actor_key_id=caller.id,
        )
    )
    detail = {"fields": ["note"]} if note else None
    audit(session, caller.id, "reminder.handled", "reminder", reminder.id, detail)


def copy_reminder(
    session: Session, reminder: Reminder, language: str, policy: CallPolicy, now: datetime
) -> Reminder:
    """A new reminder with ``reminder``'s facts, in ``language``, due now (inside the
    calling hours for a call) and picked up by the sweeper like any other: a re-send by
    staff. 409 when the visit would have begun (the dialler still honours the opt-out list)."""
    send_at = now
    if reminder.channel == "phone":
        hours = policy.calling_hours(reminder.facts)
        send_at = hours.next_allowed(now, reminder.facts["patient"]["timezone"])
    if reminder.expires_at is not None and send_at >= reminder.expires_at:
        raise Problem(
            409,
            "Too late to re-send",
            "The visit begins before the message could be sent.",
            slug="too-late-to-resend",
        )
    copy = Reminder(
        owner_key_id=reminder.owner_key_id,
        kind=reminder.kind,
        channel=reminder.channel,
        language=language,
        status=Status.SCHEDULED,
        send_at=send_at,
        expires_at=reminder.expires_at,
        external_id=reminder.external_id,
        callback_url=reminder.callback_url,
        facts=reminder.facts,
        created_at=now,
        updated_at=now,
        appointment_id=reminder.appointment_id,
        clinic_id=reminder.clinic_id,
    )
    session.add(copy)
    session.flush()
    session.add(
        ReminderEvent(
            reminder_id=copy.id,
            status=Status.SCHEDULED,
            at=now,
            detail=f"re-sent by a staff member (after {reminder.id})",
        )
    )
    return copy


def check_escalation(request: ReminderRequest) -> None:
    """A reminder's own escalation policy must be able to run every step (422 otherwise)."""
    errors = check_policy(request.facts(), request.channel)
    if errors:
        raise ValidationProblem(errors)


@dataclass(frozen=True)
class Page:
    items: list[Reminder]
    next_cursor: str | None


def list_reminders(
    session: Session,
    reader: Caller,
    *,
    external_id: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
    language: str | None = None,
    send_after: datetime | None = None,
    send_before: datetime | None = None,
) -> Page:
    """Newest first, keyset-paginated on (created_at, id) so pages never skip or repeat.

    ``send_after`` is inclusive and ``send_before`` exclusive, so consecutive days never
    show a reminder twice.
    """
    query = select(Reminder).order_by(Reminder.created_at.desc(), Reminder.id.desc())
    if reader.role == Role.SCHEDULER:
        query = query.where(Reminder.owner_key_id == reader.id)
    if external_id is not None:
        query = query.where(Reminder.external_id == external_id)
    if status is not None:
        query = query.where(Reminder.status == status)
    if language is not None:
        query = query.where(Reminder.language == language)
    if send_after is not None:
        query = query.where(Reminder.send_at >= send_after)
    if send_before is not None:
        query = query.where(Reminder.send_at < send_before)
    if cursor is not None:
        created_at, last_id = decode_cursor(cursor, is_record_id)
        query = query.where(
            (Reminder.created_at < created_at)
            | ((Reminder.created_at == created_at) & (Reminder.id < last_id))
        )
    rows = list(session.scalars(query.options(*WITH_HISTORY).limit(limit + 1)).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more else None
    return Page(items=rows, next_cursor=next_cursor)
