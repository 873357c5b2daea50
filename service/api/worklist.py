"""``/v1/worklist``: what needs a person (``service.worklist``), and what staff did about it.

Every role reads (a scheduler only its own reminders and visits, in its clinics); staff,
reviewers and admins act. The patient's facts (name, number) are in the answer, for the
staff member who acts: never in a URL or the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from service.api.responses import ANY_KEY, AUTH, JSON_BODY, problem, problems
from service.appointments import clinic_for
from service.deps import AnyCaller, Services, ServicesDep, SessionDep, Staff
from service.links import Links
from service.models import Reminder, Status, audit
from service.paging import CURSOR_MAX_CHARS
from service.reminders import PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX
from service.schemas import CLINIC_ID_PATTERN, Kind, Moment, Strict, Text, Timestamp
from service.security import Caller
from service.worklist import (
    ITEM_ID_MAX_CHARS,
    NOTE_MAX_CHARS,
    Item,
    Scope,
    WorklistAction,
    WorklistReason,
    find_item,
    handle,
    list_worklist,
    resend,
)
from workers.queue import RENDER_JOB

router = APIRouter(prefix="/v1/worklist", tags=["worklist"])

ItemId = Annotated[str, Path(max_length=ITEM_ID_MAX_CHARS, description="`reason:subject`")]


class WorklistPatient(BaseModel):
    """PHI, for the staff member who acts (call back)."""

    name: str | None = None
    phone: str | None = None
    language: str | None = None
    timezone: str | None = None


class WorklistReminder(BaseModel):
    id: str
    kind: Kind
    channel: str
    status: Status
    send_at: Timestamp
    external_id: str | None
    links: dict[str, str]


class WorklistAppointment(BaseModel):
    id: str
    clinic_id: str
    external_id: str
    start: Timestamp
    needs_attention: str | None
    links: dict[str, str]


class WorklistItemOut(BaseModel):
    id: str = Field(description="`reason:subject`; the path of the item's actions.")
    reason: WorklistReason
    at: Timestamp = Field(description="When the item arose.")
    clinic_id: str | None
    detail: str = Field(description="What happened, in words without patient details.")
    subject_type: Literal["reminder", "appointment", "language"]
    subject_id: str
    language: str | None
    patient: WorklistPatient | None
    reminder: WorklistReminder | None
    appointment: WorklistAppointment | None
    actions: list[WorklistAction] = Field(
        description="What staff can do: `handled` and `resend` here, `change_language` is "
        "`resend` with a `language`, `call_back` is the patient's number."
    )


class WorklistPage(BaseModel):
    items: list[WorklistItemOut]
    next_cursor: str | None


class HandledRequest(Strict):
    note: Text | None = Field(
        default=None,
        max_length=NOTE_MAX_CHARS,
        description="What was done, for the other staff; kept with the action, not audited.",
    )


class ResendRequest(Strict):
    language: Text | None = Field(
        default=None,
        min_length=2,
        max_length=16,
        description="Re-send in this language (change language); default: the same.",
    )


class WorklistActed(BaseModel):
    id: str
    action: WorklistAction
    reminder: WorklistReminder | None = Field(
        default=None, description="The new reminder a re-send made."
    )


@router.get(
    "",
    operation_id="list_worklist",
    response_model=WorklistPage,
    responses=problems(*ANY_KEY, 403, 404, 422),
)
def read_worklist(
    caller: AnyCaller,
    session: SessionDep,
    services: ServicesDep,
    clinic_id: Annotated[str | None, Query(pattern=CLINIC_ID_PATTERN, max_length=64)] = None,
    reason: Annotated[
        list[WorklistReason] | None, Query(description="one or more; default: every reason")
    ] = None,
    since: Annotated[Moment | None, Query(description="inclusive, on when items arose")] = None,
    until: Annotated[Moment | None, Query(description="exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX)] = PAGE_LIMIT_DEFAULT,
    cursor: Annotated[str | None, Query(max_length=CURSOR_MAX_CHARS)] = None,
) -> WorklistPage:
    """Newest first. Reading shows patients' details, so each read is audited."""
    if clinic_id is not None:
        clinic_for(session, caller, clinic_id)
    scope = worklist_scope(caller, services, clinic_id=clinic_id, since=since, until=until)
    page = list_worklist(session, scope, reason, limit=limit, cursor=cursor)
    audit(session, caller.id, "worklist.read", "worklist", "", {"items": len(page.items)})
    session.commit()
    return WorklistPage(
        items=[item_out(item, services.links) for item in page.items],
        next_cursor=page.next_cursor,
    )


@router.post(
    "/{item_id}/handled",
    operation_id="handle_worklist_item",
    response_model=WorklistActed,
    responses=problems(
        *AUTH,
        *JSON_BODY,
        404,
        specific={409: problem(409, "The reminder moved on while it was being handled.")},
    ),
)
def post_handled(
    item_id: ItemId,
    caller: Staff,
    session: SessionDep,
    services: ServicesDep,
    body: HandledRequest | None = None,
) -> WorklistActed:
    """The staff member dealt with it (with a note): the item leaves the list; a reminder
    is marked handled as ``POST /v1/reminders/{id}/handled`` does."""
    item = find_item(session, worklist_scope(caller, services), item_id)
    handle(session, caller, item, body.note if body else None)
    session.commit()
    return WorklistActed(id=item.id, action=WorklistAction.HANDLED)


@router.post(
    "/{item_id}/resend",
    operation_id="resend_worklist_item",
    status_code=201,
    response_model=WorklistActed,
    responses=problems(
        *AUTH,
        *JSON_BODY,
        404,
        specific={
            409: problem(
                409, "The item has no message to re-send, or the visit begins before it could go."
            )
        },
    ),
)
def post_resend(
    item_id: ItemId,
    caller: Staff,
    session: SessionDep,
    services: ServicesDep,
    body: ResendRequest | None = None,
) -> JSONResponse:
    """A new reminder with the same facts (in ``language`` when given: change language),
    rendered and sent by the usual pipeline; the item leaves the list."""
    pipeline = services.pipeline
    now = pipeline.clock.now()
    item = find_item(session, worklist_scope(caller, services), item_id)
    offered = pipeline.renderer.offered_kinds
    copy = resend(
        session, caller, item, body.language if body else None, offered, pipeline.call_policy, now
    )
    session.commit()
    if copy.send_at <= now:
        pipeline.enqueue(RENDER_JOB, copy.id)  # committed: the sweeper would find it anyway
    acted = WorklistActed(
        id=item.id, action=WorklistAction.RESEND, reminder=reminder_summary(copy, services.links)
    )
    return JSONResponse(acted.model_dump(mode="json"), status_code=201)


def worklist_scope(
    caller: Caller,
    services: Services,
    *,
    clinic_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Scope:
    return Scope(
        caller=caller,
        now=services.pipeline.clock.now(),
        clinic_id=clinic_id,
        since=since,
        until=until,
        never_call=services.pipeline.never_call,
    )


def reminder_summary(reminder: Reminder, links: Links) -> WorklistReminder:
    return WorklistReminder(
        id=reminder.id,
        kind=Kind(reminder.kind),
        channel=reminder.channel,
        status=Status(reminder.status),
        send_at=reminder.send_at,
        external_id=reminder.external_id,
        links={"self": links.reminder(reminder.id)},
    )


def item_out(item: Item, links: Links) -> WorklistItemOut:
    patient = item.patient
    appointment = item.appointment
    return WorklistItemOut(
        id=item.id,
        reason=item.reason,
        at=item.at,
        clinic_id=item.clinic_id,
        detail=item.detail,
        subject_type=item.subject_type,  # type: ignore[arg-type]
        subject_id=item.subject_id,
        language=item.language,
        patient=WorklistPatient(
            name=patient.get("name"),
            phone=patient.get("phone"),
            language=patient.get("language"),
            timezone=patient.get("timezone"),
        )
        if patient
        else None,
        reminder=reminder_summary(item.reminder, links) if item.reminder is not None else None,
        appointment=WorklistAppointment(
            id=appointment.id,
            clinic_id=appointment.clinic_id,
            external_id=appointment.external_id,
            start=appointment.start,
            needs_attention=appointment.needs_attention,
            links={"self": links.appointment(appointment.clinic_id, appointment.external_id)},
        )
        if appointment is not None
        else None,
        actions=list(item.actions),
    )
