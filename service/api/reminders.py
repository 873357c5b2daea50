"""``/v1/reminders``: accept, read, list and cancel reminders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse

from service.api.responses import ANY_KEY, AUTH, JSON_BODY, RETRY_AFTER, problem, problems
from service.api.worklist import HandledRequest, worklist_scope
from service.clinics import resolve_clinic
from service.db import utcnow
from service.deps import AnyCaller, Scheduler, Services, ServicesDep, SessionDep, Staff
from service.follow_ups import follow_up_out
from service.models import Reminder, Status, audit
from service.paging import CURSOR_MAX_CHARS
from service.reminders import (
    PAGE_LIMIT_DEFAULT,
    PAGE_LIMIT_MAX,
    cancel_reminder,
    check_callback_url,
    check_escalation,
    check_message,
    create_reminder,
    first_send_time,
    get_reminder,
    list_reminders,
    mark_handled,
    other_language_text,
)
from service.schemas import (
    EXTERNAL_ID_MAX_CHARS,
    Accepted,
    Moment,
    ReminderOut,
    ReminderPage,
    ReminderRequest,
    Text,
)
from service.worklist import reminder_on_worklist
from workers.queue import RENDER_JOB

router = APIRouter(prefix="/v1/reminders", tags=["reminders"])

IDEMPOTENCY_KEY_MAX_CHARS = 255


@router.post(
    "",
    operation_id="create_reminder",
    status_code=202,
    response_model=Accepted,
    responses=problems(
        *AUTH,
        *JSON_BODY,
        specific={
            403: problem(
                403,
                "The key's role may not create reminders, or the key is limited to some "
                "clinics and this one (or an inline clinic) is not among them.",
            ),
            409: problem(
                409,
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                headers=RETRY_AFTER,
            ),
        },
    ),
)
def post_reminder(
    body: ReminderRequest,
    caller: Scheduler,
    session: SessionDep,
    services: ServicesDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=IDEMPOTENCY_KEY_MAX_CHARS,
            description="Same key and body again: the first answer again. Same key, other "
            "body: 422. While the first request is still in flight: 409.",
        ),
    ] = None,
) -> JSONResponse:
    clinic = resolve_clinic(session, caller, body)
    check_message(body, services.pipeline.renderer.offered_kinds, need_contact=True)
    check_callback_url(body, services.settings)
    refuse = clinic is not None and clinic.refuse_other_language_text
    warnings = other_language_text(body, body.language, refuse=refuse)
    check_escalation(body)
    send_at = first_send_time(body, services.pipeline.call_policy)
    created = create_reminder(session, caller, body, send_at, idempotency_key, services.links)
    if created.reminder_id is not None and send_at <= utcnow():
        # The reminder is committed: should this enqueue fail, the sweeper enqueues it.
        services.pipeline.enqueue(RENDER_JOB, created.reminder_id)
    accepted = Accepted.model_validate(created.body | {"warnings": warnings})
    return JSONResponse(accepted.model_dump(mode="json"), status_code=created.status_code)


@router.get(
    "/{reminder_id}",
    operation_id="get_reminder",
    response_model=ReminderOut,
    responses=problems(*ANY_KEY, 404),
)
def read_reminder(
    reminder_id: str,
    caller: AnyCaller,
    session: SessionDep,
    services: ServicesDep,
) -> ReminderOut:
    reminder = get_reminder(session, reminder_id, caller)
    audit(session, caller.id, "reminder.read", "reminder", reminder.id)
    session.commit()
    return reminder_out(reminder, services)


@router.get(
    "",
    operation_id="list_reminders",
    response_model=ReminderPage,
    responses=problems(*ANY_KEY, 422),
)
def read_reminders(
    caller: AnyCaller,
    session: SessionDep,
    services: ServicesDep,
    external_id: Annotated[Text | None, Query(max_length=EXTERNAL_ID_MAX_CHARS)] = None,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX)] = PAGE_LIMIT_DEFAULT,
    cursor: Annotated[str | None, Query(max_length=CURSOR_MAX_CHARS)] = None,
    language: Annotated[Text | None, Query(min_length=2, max_length=16)] = None,
    send_after: Annotated[Moment | None, Query(description="inclusive")] = None,
    send_before: Annotated[Moment | None, Query(description="exclusive")] = None,
) -> ReminderPage:
    page = list_reminders(
        session,
        caller,
        external_id=external_id,
        status=status,
        limit=limit,
        cursor=cursor,
        language=language,
        send_after=send_after,
        send_before=send_before,
    )
    return ReminderPage(
        items=[reminder_out(r, services) for r in page.items],
        next_cursor=page.next_cursor,
    )


@router.delete(
    "/{reminder_id}",
    operation_id="cancel_reminder",
    response_model=ReminderOut,
    responses=problems(
        *AUTH,
        404,
        specific={409: problem(409, "Too late to cancel: the call or delivery has started.")},
    ),
)
def delete_reminder(
    reminder_id: str,
    caller: Scheduler,
    session: SessionDep,
    services: ServicesDep,
) -> ReminderOut:
    reminder = get_reminder(session, reminder_id, caller)
    cancel_reminder(session, reminder)
    audit(session, caller.id, "reminder.cancel", "reminder", reminder.id)
    session.commit()
    session.refresh(reminder)
    return reminder_out(reminder, services)


@router.post(
    "/{reminder_id}/handled",
    operation_id="mark_reminder_handled",
    response_model=ReminderOut,
    responses=problems(
        *AUTH,
        *JSON_BODY,
        404,
        specific={
            409: problem(
                409,
                "The reminder is no longer being delivered or waiting for staff, and is not "
                "on the staff worklist.",
            )
        },
    ),
)
def post_handled(
    reminder_id: str,
    caller: Staff,
    session: SessionDep,
    services: ServicesDep,
    body: HandledRequest | None = None,
) -> ReminderOut:
    """A staff member dealt with the reminder (reached the patient another way): its
    escalation stops, status ``handled``; audited under the staff member's key. A reminder
    on the staff worklist (a cancel request, a failure, a call to the clinic nobody
    answered) keeps its status and leaves the worklist. An optional ``note`` says what was
    done (kept with the action, for staff; not in the audit log)."""
    reminder = get_reminder(session, reminder_id, caller)
    on_list = reminder_on_worklist(session, worklist_scope(caller, services), reminder.id)
    mark_handled(session, reminder, caller, body.note if body else None, on_worklist=on_list)
    session.commit()
    session.refresh(reminder)
    return reminder_out(reminder, services)


def reminder_out(reminder: Reminder, services: Services) -> ReminderOut:
    links = services.links
    message = None
    if reminder.audio is not None and reminder.message_text:
        message = {
            "text": reminder.message_text,
            "variant": reminder.message_variant,
            "duration_s": reminder.audio.duration_s,
            "engine": reminder.audio.engine,
            "voice": reminder.audio.voice,
            "audio_url": links.audio(reminder.audio.key, reminder.audio.format),
        }
    return ReminderOut.model_validate(
        {
            "id": reminder.id,
            "kind": reminder.kind,
            "channel": reminder.channel,
            "language": reminder.language,
            "status": reminder.status,
            "send_at": reminder.send_at,
            "external_id": reminder.external_id,
            "created_at": reminder.created_at,
            "events": [
                {"status": e.status, "at": e.at, "detail": e.detail, "step": e.step}
                for e in reminder.events
            ],
            "attempts": [
                {
                    "id": a.id,
                    "channel": a.channel,
                    "started_at": a.started_at,
                    "ended_at": a.ended_at,
                    "outcome": a.outcome,
                    "answered_by": a.answered_by,
                    "digits": a.digits,
                    "duration_s": a.duration_s,
                    "speech_result": a.speech_result,
                    "speech_confidence": a.speech_confidence,
                    "provider_status": a.provider_status,
                    "provider_error": a.provider_error,
                }
                for a in reminder.attempts
            ],
            "message": message,
            "escalation_step": reminder.escalation_step,
            "follow_up": follow_up_out(reminder),
            "links": {"self": links.reminder(reminder.id)},
        }
    )
