"""Clinic records: configured once by an admin, read by the rest of the service.

A reminder keeps the clinic facts it was made with (``Reminder.facts["clinic"]``), so a
clinic edited later does not change a message already planned; ``clinic_facts`` is the
one place that turns a record into those facts, and ``resolve_clinic`` the one place a
request's ``{"id": ...}`` is turned into them.

A deleted clinic keeps its row (``deleted_at``): its id stays taken, and the reminders
that name it still say whose they were. Audit entries name the fields an admin set or
changed, never their values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.call_policy import CallingHours
from service.db import utcnow
from service.errors import FieldError, Problem, ValidationProblem, validation_problem_from
from service.models import Clinic, Role, audit
from service.schemas import (
    ClinicCreate,
    ClinicPatch,
    ClinicRef,
    ClinicSettings,
    FollowUpQuestion,
    MessageRequest,
)
from service.security import Caller

CLEARABLE = frozenset({"spoken_name", "caller_id", "escalation"})
"""The settings a PATCH may set to null."""


def find_clinic(session: Session, clinic_id: str) -> Clinic | None:
    """The clinic named ``clinic_id``; None when there is none or it was deleted."""
    clinic = session.get(Clinic, clinic_id)
    if clinic is None or clinic.deleted_at is not None:
        return None
    return clinic


def clinic_facts(clinic: Clinic) -> dict[str, Any]:
    """The ``clinic`` block a reminder stores: what its messages say and how it calls.

    ``name`` is the spoken name when the clinic set one: the name is heard, not read.
    ``escalation`` is there only when the clinic has a policy, so a reminder made without
    one keeps exactly the facts it always had; ``follow_up_question`` likewise only when
    it is not the default.
    """
    facts: dict[str, Any] = {
        "id": clinic.id,
        "name": clinic.spoken_name or clinic.display_name,
        "callback_phone": clinic.callback_phone,
        "caller_id": clinic.caller_id,
        "calling_hours": {
            "start": clinic.calling_hours_start,
            "end": clinic.calling_hours_end,
        },
    }
    if clinic.escalation is not None:
        facts["escalation"] = clinic.escalation
    if clinic.follow_up_question != FollowUpQuestion.VISIT_RATING:
        facts["follow_up_question"] = clinic.follow_up_question
    return facts


def calling_hours(clinic: Clinic) -> CallingHours:
    return CallingHours.parse(clinic.calling_hours_start, clinic.calling_hours_end)


# -- reading ------------------------------------------------------------------------------


def clinic_settings(clinic: Clinic) -> dict[str, Any]:
    """The record in the API's shape (``schemas.ClinicCreate``), id included."""
    return {
        "id": clinic.id,
        "display_name": clinic.display_name,
        "spoken_name": clinic.spoken_name,
        "callback_phone": clinic.callback_phone,
        "caller_id": clinic.caller_id,
        "timezone": clinic.timezone,
        "country": clinic.country,
        "calling_hours": {"start": clinic.calling_hours_start, "end": clinic.calling_hours_end},
        "default_language": clinic.default_language,
        "default_speech_rate": clinic.default_speech_rate,
        "channels": list(clinic.channels),
        "identifiers": list(clinic.identifiers),
        "require_reviewed_wording": clinic.require_reviewed_wording,
        "hl7_notes_as_instructions": clinic.hl7_notes_as_instructions,
        "refuse_other_language_text": clinic.refuse_other_language_text,
        "schedule": clinic.schedule,
        "escalation": clinic.escalation,
        "follow_up_question": clinic.follow_up_question,
    }


def readable_by(clinic_id: str, reader: Caller) -> bool:
    """A scheduler key limited to some clinics sees only those; every other key sees all."""
    return reader.role != Role.SCHEDULER or reader.may_use_clinic(clinic_id)


def get_clinic(session: Session, clinic_id: str, reader: Caller) -> Clinic:
    clinic = find_clinic(session, clinic_id)
    if clinic is None or not readable_by(clinic.id, reader):
        raise Problem(404, "Not found", "No clinic with this id.", slug="not-found")
    return clinic


def list_clinics(session: Session, reader: Caller) -> list[Clinic]:
    """The clinics not deleted that ``reader`` may see, by id."""
    query = select(Clinic).where(Clinic.deleted_at.is_(None)).order_by(Clinic.id)
    if reader.role == Role.SCHEDULER and reader.clinic_ids is not None:
        query = query.where(Clinic.id.in_(sorted(reader.clinic_ids)))
    return list(session.scalars(query))


# -- writing ------------------------------------------------------------------------------


def check_clinic(settings: ClinicSettings, offered: Mapping[str, Sequence[str]]) -> None:
    """What the schema alone cannot know: the languages this installation offers."""
    if settings.default_language not in offered:
        raise ValidationProblem(
            [FieldError("default_language", f"must be one of: {', '.join(sorted(offered))}")]
        )


def _apply(clinic: Clinic, settings: ClinicSettings) -> None:
    clinic.display_name = settings.display_name
    clinic.spoken_name = settings.spoken_name
    clinic.callback_phone = settings.callback_phone
    clinic.caller_id = settings.caller_id
    clinic.timezone = settings.timezone
    clinic.country = settings.country
    clinic.calling_hours_start = settings.calling_hours.start
    clinic.calling_hours_end = settings.calling_hours.end
    clinic.default_language = settings.default_language
    clinic.default_speech_rate = settings.default_speech_rate.value
    clinic.channels = [channel.value for channel in settings.channels]
    clinic.identifiers = list(settings.identifiers)
    clinic.require_reviewed_wording = settings.require_reviewed_wording
    clinic.hl7_notes_as_instructions = settings.hl7_notes_as_instructions
    clinic.refuse_other_language_text = settings.refuse_other_language_text
    clinic.schedule = settings.schedule.stored()
    clinic.escalation = settings.escalation.stored() if settings.escalation else None
    clinic.follow_up_question = settings.follow_up_question.value


def _taken(clinic_id: str) -> Problem:
    return Problem(
        409,
        "Clinic exists",
        f"A clinic with the id {clinic_id!r} exists or existed (ids of deleted clinics "
        "are not reused); choose another id.",
        slug="clinic-exists",
    )


def create_clinic(
    session: Session, actor: Caller, body: ClinicCreate, offered: Mapping[str, Sequence[str]]
) -> Clinic:
    """Store a new clinic and its audit entry, committed; 409 if the id was ever used."""
    check_clinic(body, offered)
    if session.get(Clinic, body.id) is not None:
        raise _taken(body.id)
    clinic = Clinic(id=body.id)
    _apply(clinic, body)
    session.add(clinic)
    fields = sorted(body.model_fields_set - {"id"})
    audit(session, actor.id, "clinic.create", "clinic", body.id, detail={"fields": fields})
    try:
        session.commit()
    except IntegrityError as err:  # another request took the id between our read and write
        session.rollback()
        raise _taken(body.id) from err
    return clinic


def update_clinic(
    session: Session,
    actor: Caller,
    clinic: Clinic,
    patch: ClinicPatch,
    offered: Mapping[str, Sequence[str]],
) -> list[str]:
    """Merge ``patch`` into the clinic (JSON merge: only the fields sent change), check the
    result as a whole clinic, store it; the names of the fields that changed."""
    sent = patch.model_dump(mode="json", exclude_unset=True)
    not_null = [
        FieldError(name, "may not be null")
        for name, value in sent.items()
        if value is None and name not in CLEARABLE
    ]
    if not_null:
        raise ValidationProblem(not_null)
    current = clinic_settings(clinic)
    try:
        merged = ClinicCreate.model_validate(current | sent)
    except ValidationError as err:
        raise validation_problem_from(err.errors()) from err
    check_clinic(merged, offered)
    after = merged.model_dump(mode="json")
    after["schedule"] = merged.schedule.stored()
    after["escalation"] = merged.escalation.stored() if merged.escalation else None
    changed = sorted(name for name in sent if after[name] != current[name])
    if changed:
        _apply(clinic, merged)
        audit(session, actor.id, "clinic.update", "clinic", clinic.id, detail={"fields": changed})
        session.commit()
    return changed


def delete_clinic(session: Session, actor: Caller, clinic: Clinic) -> None:
    """Soft delete: the id stays taken; reminders already made with it go on as planned."""
    clinic.deleted_at = utcnow()
    audit(session, actor.id, "clinic.delete", "clinic", clinic.id)
    session.commit()


# -- reminders and previews ------------------------------------------------------------


def resolve_clinic(session: Session, caller: Caller, request: MessageRequest) -> Clinic | None:
    """Fill a request's clinic named by id from its record (and return the record), or
    refuse it.

    A key limited to some clinics may use only those, and only by id (403: the request
    is well formed, the key may not). An unknown or deleted clinic is a 422 on
    ``clinic.id``. An inline clinic is left as it is.
    """
    limited = caller.clinic_ids is not None
    if not isinstance(request.clinic, ClinicRef):
        if limited:
            raise Problem(
                403,
                "Forbidden",
                "This API key is limited to some clinics: name the clinic by id "
                '({"id": "..."}), not inline.',
            )
        return None
    clinic_id = request.clinic.id
    if not caller.may_use_clinic(clinic_id):
        raise Problem(403, "Forbidden", f"This API key may not use the clinic {clinic_id!r}.")
    clinic = find_clinic(session, clinic_id)
    if clinic is None:
        raise ValidationProblem([FieldError("clinic.id", "is not a known clinic")])
    request.use_clinic(clinic_facts(clinic), clinic.timezone)
    return clinic
