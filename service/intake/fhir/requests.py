"""``POST /fhir/r4/CommunicationRequest``: one message about a stored Appointment, now or
at ``occurrenceDateTime``, made the way ``POST /v1/reminders`` makes one (the same checks,
calling hours and storage), its id the reminder's; its outcome comes back as the
``Communication`` of the same id (``basedOn`` this request). ``category`` may ask for a
``follow_up`` about the visit instead of a reminder (``MESSAGE_KIND_SYSTEM``), with its
question (``FOLLOW_UP_QUESTION_SYSTEM``); the answer comes back on the Communication."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir.resources.R4B.communicationrequest import CommunicationRequest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from service.appointments import ACCESS_FACTS, PATIENT_FACTS
from service.clinics import find_clinic, resolve_clinic
from service.errors import FieldError, ValidationProblem
from service.fhir_store import SourceOrder, find_resource, save_resource
from service.intake.fhir.mapping import identifiers_of, reference_key
from service.intake.fhir.outcome import invalid
from service.links import Links
from service.models import Appointment
from service.planning import REMINDER_KIND, first_channel
from service.reminders import check_message, create_reminder, first_send_time
from service.schemas import FollowUpQuestion, Kind, ReminderRequest
from service.security import Caller
from workers.pipeline import Pipeline

MEDIUM_CHANNELS = {"phone": "phone", "app": "app", "electronic": "app"}
"""A medium's code or text (v3 ParticipationMode PHONE, ELECTRONIC) -> our channel."""
MESSAGE_KIND_SYSTEM = "https://tellwell.dev/fhir/CodeSystem/message-kind"
"""``category`` codes of what to send: ``appointment_reminder`` (the default) or ``follow_up``."""
FOLLOW_UP_QUESTION_SYSTEM = "https://tellwell.dev/fhir/CodeSystem/follow-up-question"
"""``category`` codes of what a follow-up asks (``schemas.FollowUpQuestion``); absent:
the clinic's question."""
REQUESTABLE_KINDS = (Kind(REMINDER_KIND), Kind.FOLLOW_UP)


def _fail(path: str, message: str) -> ValidationProblem:
    return ValidationProblem([FieldError(f"CommunicationRequest.{path}", message)])


def _channel(resource: dict[str, Any]) -> str | None:
    for concept in resource.get("medium") or []:
        words = [c.get("code") or "" for c in concept.get("coding") or []]
        for word in [*words, concept.get("text") or ""]:
            if channel := MEDIUM_CHANNELS.get(word.lower()):
                return channel
        raise _fail("medium", "must be phone (PHONE) or app (ELECTRONIC)")
    return None


def _category(resource: dict[str, Any]) -> tuple[Kind, FollowUpQuestion | None]:
    """The kind of message asked for and, for a follow-up, its question (None: the
    clinic's); codes of other systems are the sender's own and are left alone."""
    kinds, questions = set(), set()
    for concept in resource.get("category") or []:
        for coding in concept.get("coding") or []:
            code = coding.get("code") or ""
            if coding.get("system") == MESSAGE_KIND_SYSTEM:
                if code not in REQUESTABLE_KINDS:
                    allowed = " or ".join(REQUESTABLE_KINDS)
                    raise _fail("category", f"{MESSAGE_KIND_SYSTEM} code must be {allowed}")
                kinds.add(Kind(code))
            elif coding.get("system") == FOLLOW_UP_QUESTION_SYSTEM:
                if code not in set(FollowUpQuestion):
                    allowed = " or ".join(FollowUpQuestion)
                    raise _fail("category", f"{FOLLOW_UP_QUESTION_SYSTEM} code must be {allowed}")
                questions.add(FollowUpQuestion(code))
    if len(kinds) > 1 or len(questions) > 1:
        raise _fail("category", "must name one kind of message and at most one question")
    kind = kinds.pop() if kinds else Kind(REMINDER_KIND)
    if questions and kind != Kind.FOLLOW_UP:
        raise _fail("category", "a follow-up question is only for the follow_up kind")
    return kind, questions.pop() if questions else None


def request_message(
    session: Session,
    caller: Caller,
    resource: dict[str, Any],
    pipeline: Pipeline,
    links: Links,
) -> tuple[str, bool]:
    """Store the message (not committed past ``session``'s transaction); returns the
    reminder's id and whether it is due now."""
    try:
        CommunicationRequest.model_validate(resource)
    except ValidationError as err:
        raise invalid("CommunicationRequest", err) from err
    if resource.get("status") != "active":
        raise _fail("status", "must be active")
    about = [reference_key(a.get("reference") or "") for a in resource.get("about") or []]
    appointment_ids = [key[1] for key in about if key and key[0] == "Appointment"]
    row = (
        find_resource(session, caller, "Appointment", appointment_ids[0])
        if appointment_ids
        else None
    )
    stored = session.get(Appointment, row.appointment_id) if row and row.appointment_id else None
    if row is None or stored is None:
        raise _fail("about", "must reference an Appointment stored here")
    recipients = [reference_key(r.get("reference") or "") for r in resource.get("recipient") or []]
    if recipients != [("Patient", row.patient_id)]:
        raise _fail("recipient", "must be the Appointment's Patient, and only them")
    kind, question = _category(resource)
    clinic = find_clinic(session, stored.clinic_id)
    patient = stored.patient
    channel = _channel(resource) or first_channel(clinic.channels if clinic else [], patient)
    # A reminder speaks of the visit; a follow-up (after it) asks its one question only.
    about_visit: dict[str, Any] = {}
    if kind == Kind.FOLLOW_UP:
        if question is not None:
            about_visit["follow_up"] = {"question": question}
    else:
        about_visit["appointment"] = {
            "start": stored.start,
            "provider": stored.provider,
            "location": stored.location,
            "instructions": stored.instructions,
        }
    try:
        request = ReminderRequest.model_validate(
            {
                "kind": kind,
                "channel": channel or "phone",
                "language": patient["language"],
                "patient": {
                    name: patient.get(name)
                    for name in (*PATIENT_FACTS, *ACCESS_FACTS)
                    if patient.get(name) is not None
                },
                "clinic": {"id": stored.clinic_id},
                **about_visit,
                "send_at": resource.get("occurrenceDateTime"),
                "external_id": stored.external_id,
            }
        )
    except ValidationError as err:  # an erased patient has no name left
        raise _fail("recipient", "cannot be reached: " + err.errors()[0]["msg"]) from err
    resolve_clinic(session, caller, request)
    check_message(request, pipeline.renderer.offered_kinds, need_contact=True)
    send_at = first_send_time(request, pipeline.call_policy)
    created = create_reminder(session, caller, request, send_at, None, links)
    reminder_id = created.reminder_id or ""
    save_resource(
        session,
        caller,
        {**resource, "id": reminder_id},
        SourceOrder(None, None),
        identifiers_of(resource),
        pipeline.clock.now(),
        appointment_id=stored.id,
        patient_id=row.patient_id,
    )
    return reminder_id, send_at <= datetime.now(send_at.tzinfo)
