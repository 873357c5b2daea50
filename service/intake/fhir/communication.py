"""Outcomes back as FHIR: each reminder of a FHIR Appointment as a ``Communication``, and
a keypress (confirm, cancel) as an ``AppointmentResponse``.

A reminder's status says where the message stands: completed once it reached the patient
(delivered, voicemail, confirmed, or a cancel pressed), ``not-done`` with a
``statusReason`` when it never will (failed, expired, cancelled), ``preparation`` or
``in-progress`` before. ``sent`` is when the call or app message went out, ``received``
when it was delivered; the transcript is the payload. ``meta.lastUpdated`` is the
reminder's last change of status (what ``_lastUpdated`` searches). A follow-up's answer
is the ``FOLLOW_UP_ANSWER`` extension (question, answer, when), and said in the payload.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir.resources.R4B.appointmentresponse import AppointmentResponse
from fhir.resources.R4B.communication import Communication
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service.follow_ups import question_of
from service.models import FhirResource, Reminder, Status

COMMUNICATION_STATUSES = {
    Status.SCHEDULED: "preparation",
    Status.RENDERING: "preparation",
    Status.READY: "preparation",
    Status.DISPATCHING: "in-progress",
    Status.DELIVERED: "completed",
    Status.VOICEMAIL: "completed",
    Status.CONFIRMED: "completed",
    Status.CANCEL_REQUESTED: "completed",
    Status.FAILED: "not-done",
    Status.EXPIRED: "not-done",
    Status.CANCELLED: "not-done",
}
"""A reminder's status as the Communication's; ``HANDED_TO_STAFF`` depend on the patient."""
HANDED_TO_STAFF = (Status.NEEDS_STAFF, Status.HANDLED)
"""With the clinic's staff: ``completed`` if the message reached the patient (a follow-up
answered with a low score), ``not-done`` if every step went unanswered."""
REACHED = (Status.DELIVERED, Status.VOICEMAIL, Status.CONFIRMED)
PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
MEDIUM = {"phone": "PHONE", "app": "ELECTRONIC"}
FOLLOW_UP_ANSWER = "https://tellwell.dev/fhir/StructureDefinition/follow-up-answer"
"""A follow-up's answer: sub-extensions ``question`` (code), ``answer`` (string: 1-5 for
visit_rating, yes or no for resolved) and ``answered`` (dateTime)."""
RESPONSES = {Status.CONFIRMED: "accepted", Status.CANCEL_REQUESTED: "declined"}
"""What the patient's keypress (``call_policy.KEY_STATUS``) says of the visit."""
RESPONSE_COMMENTS = {
    Status.CONFIRMED: "The patient confirmed on the call.",
    Status.CANCEL_REQUESTED: "The patient asked on the call to cancel.",
}


@dataclass(frozen=True)
class Period:
    """A half-open time range (``_lastUpdated``); None is unbounded on that side."""

    start: datetime | None = None
    end: datetime | None = None


EVER = Period()


@dataclass(frozen=True)
class Message:
    """A reminder of a stored FHIR Appointment; ``requested``: by a CommunicationRequest."""

    reminder: Reminder
    appointment: FhirResource
    requested: bool


def messages(
    session: Session,
    appointments: Sequence[FhirResource],
    updated: Period = EVER,
    *,
    statuses: Collection[str] | None = None,
    after: tuple[datetime, str] | None = None,
    limit: int | None = None,
) -> list[Message]:
    """The reminders of these stored FHIR Appointments, planned or requested, by send time
    and id: only those last changed within ``updated``, in ``statuses`` (all when None),
    and after the (send time, id) of ``after`` (the last of the previous page)."""
    by_id = {row.appointment_id: row for row in appointments if row.appointment_id}
    if not by_id:
        return []
    rows = session.execute(  # one-off messages: reminder id -> appointment id
        select(FhirResource.resource_id, FhirResource.appointment_id).where(
            FhirResource.resource_type == "CommunicationRequest",
            FhirResource.appointment_id.in_(list(by_id)),
        )
    )
    requested = {reminder_id: appointment_id for reminder_id, appointment_id in rows}
    query = select(Reminder).where(
        Reminder.appointment_id.in_(list(by_id)) | Reminder.id.in_(list(requested))
    )
    if updated.start is not None:
        query = query.where(Reminder.updated_at >= updated.start)
    if updated.end is not None:
        query = query.where(Reminder.updated_at < updated.end)
    if statuses is not None:
        query = query.where(Reminder.status.in_(list(statuses)))
    if after is not None:
        send_at, last_id = after
        query = query.where(
            (Reminder.send_at > send_at) | ((Reminder.send_at == send_at) & (Reminder.id > last_id))
        )
    query = query.options(selectinload(Reminder.events)).order_by(Reminder.send_at, Reminder.id)
    reminders = session.scalars(query.limit(limit) if limit is not None else query)
    return [
        Message(r, by_id[r.appointment_id or requested.get(r.id) or ""], r.id in requested)
        for r in reminders
    ]


def appointment_response(message: Message) -> dict[str, Any]:
    """A keypress on a call (confirm or cancel) as the patient's ``AppointmentResponse``
    (accepted or declined); its id is the reminder's, its ``meta.lastUpdated`` the time
    of the keypress (the reminder's last change). Only for a message in ``RESPONSES``."""
    status = Status(message.reminder.status)
    resource: dict[str, Any] = {
        "resourceType": "AppointmentResponse",
        "id": message.reminder.id,
        "meta": _meta(message.reminder),
        "appointment": {"reference": f"Appointment/{message.appointment.resource_id}"},
        "participantStatus": RESPONSES[status],
        "comment": RESPONSE_COMMENTS[status],
    }
    if message.appointment.patient_id:
        resource["actor"] = {"reference": f"Patient/{message.appointment.patient_id}"}
    AppointmentResponse.model_validate(resource)
    return resource


def _meta(reminder: Reminder) -> dict[str, str]:
    return {"lastUpdated": reminder.updated_at.isoformat()}


def _first(reminder: Reminder, statuses: Sequence[str]) -> datetime | None:
    times = [event.at for event in reminder.events if event.status in statuses]
    return min(times) if times else None


def communication(message: Message) -> dict[str, Any]:
    """A requested message is ``basedOn`` its CommunicationRequest (of the same id)."""
    reminder, appointment, requested = message.reminder, message.appointment, message.requested
    status = _communication_status(reminder)
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "id": reminder.id,
        "meta": _meta(reminder),
        "status": status,
        "category": [{"text": reminder.kind}],
        "medium": [
            {
                "coding": [
                    {
                        "system": PARTICIPATION_MODE,
                        "code": MEDIUM.get(reminder.channel, "ELECTRONIC"),
                    }
                ]
            }
        ],
        "about": [{"reference": f"Appointment/{appointment.resource_id}"}],
        "language": reminder.language,
    }
    if requested:
        resource["basedOn"] = [{"reference": f"CommunicationRequest/{reminder.id}"}]
    if appointment.patient_id:
        patient = {"reference": f"Patient/{appointment.patient_id}"}
        resource |= {"subject": patient, "recipient": [patient]}
    if status == "not-done":
        last = reminder.events[-1] if reminder.events else None
        reason = last.detail if last is not None and last.detail else reminder.status
        resource["statusReason"] = {"text": reason}
    if sent := _first(reminder, [Status.DISPATCHING]):
        resource["sent"] = sent.isoformat()
    if received := _first(reminder, REACHED):
        resource["received"] = received.isoformat()
    payload = [{"contentString": reminder.message_text}] if reminder.message_text else []
    if reminder.follow_up_answer is not None:
        question, answer = question_of(reminder), reminder.follow_up_answer
        resource["extension"] = [_follow_up_answer(question, answer, reminder)]
        payload.append({"contentString": f"The patient answered {answer} ({question})."})
    if payload:
        resource["payload"] = payload
    if steps := [e for e in reminder.events if e.step is not None and e.detail]:
        # Each escalation step that ran, waited or was skipped, and why (no patient data).
        resource["note"] = [{"text": e.detail, "time": e.at.isoformat()} for e in steps]
    Communication.model_validate(resource)
    return resource


def _follow_up_answer(question: str, answer: str, reminder: Reminder) -> dict[str, Any]:
    """The ``FOLLOW_UP_ANSWER`` extension of an answered follow-up."""
    parts: list[dict[str, Any]] = [
        {"url": "question", "valueCode": question},
        {"url": "answer", "valueString": answer},
    ]
    if reminder.follow_up_answered_at is not None:
        answered = reminder.follow_up_answered_at.isoformat()
        parts.append({"url": "answered", "valueDateTime": answered})
    return {"url": FOLLOW_UP_ANSWER, "extension": parts}


def _communication_status(reminder: Reminder) -> str:
    status = Status(reminder.status)
    if status in HANDED_TO_STAFF:
        return "completed" if _first(reminder, REACHED) else "not-done"
    return COMMUNICATION_STATUSES[status]


@dataclass(frozen=True)
class OutcomeKind:
    """One of the outcome searches: the resource it answers, the parameter naming the
    visit, which messages it shows and how one is written."""

    resource_type: str
    visit_parameter: str
    statuses: Collection[str] | None
    render: Callable[[Message], dict[str, Any]]


COMMUNICATIONS = OutcomeKind("Communication", "about", None, communication)
APPOINTMENT_RESPONSES = OutcomeKind(
    "AppointmentResponse", "appointment", tuple(RESPONSES), appointment_response
)
