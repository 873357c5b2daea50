"""``POST /fhir/r4/CommunicationRequest``: one message about a stored Appointment, now or
at ``occurrenceDateTime``, made the way ``POST /v1/reminders`` makes one (the same checks,
calling hours and storage), its id the reminder's; its outcome comes back as the
``Communication`` of the same id (``basedOn`` this request)."""

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
from service.schemas import ReminderRequest
from service.security import Caller
from workers.pipeline import Pipeline

MEDIUM_CHANNELS = {"phone": "phone", "app": "app", "electronic": "app"}
"""A medium's code or text (v3 ParticipationMode PHONE, ELECTRONIC) -> our channel."""


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
    clinic = find_clinic(session, stored.clinic_id)
    patient = stored.patient
    channel = _channel(resource) or first_channel(clinic.channels if clinic else [], patient)
    try:
        request = ReminderRequest.model_validate(
            {
                "kind": REMINDER_KIND,
                "channel": channel or "phone",
                "language": patient["language"],
                "patient": {
                    name: patient.get(name)
                    for name in (*PATIENT_FACTS, *ACCESS_FACTS)
                    if patient.get(name) is not None
                },
                "clinic": {"id": stored.clinic_id},
                "appointment": {
                    "start": stored.start,
                    "provider": stored.provider,
                    "location": stored.location,
                    "instructions": stored.instructions,
                },
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
