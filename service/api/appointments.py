"""``/v1/appointments``: a scheduling system keeps its visits here; the service plans the
reminders (``service.appointments``). Schedulers and admins write, every role reads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from service.api.responses import ANY_KEY, AUTH, JSON_BODY, RETRY_AFTER, problem, problems
from service.appointments import (
    AppointmentFilters,
    ReminderLine,
    Written,
    cancel_appointment,
    clinic_for,
    find_appointment,
    list_appointments,
    put_appointment,
    reminders_of,
)
from service.deps import AnyCaller, Scheduler, Services, ServicesDep, SessionDep
from service.models import Appointment, AppointmentStatus, audit
from service.paging import CURSOR_MAX_CHARS
from service.reminders import PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX
from service.schemas import (
    APPOINTMENT_EXTERNAL_ID_PATTERN,
    CLINIC_ID_PATTERN,
    EXTERNAL_ID_MAX_CHARS,
    AppointmentOut,
    AppointmentPage,
    AppointmentRequest,
    AppointmentWritten,
    Moment,
)
from workers.queue import RENDER_JOB

router = APIRouter(prefix="/v1/appointments", tags=["appointments"])

ClinicId = Annotated[str, Path(pattern=CLINIC_ID_PATTERN, max_length=64)]
ExternalId = Annotated[
    str, Path(pattern=APPOINTMENT_EXTERNAL_ID_PATTERN, max_length=EXTERNAL_ID_MAX_CHARS)
]
BUSY = problem(
    409,
    "An older update (its `version` or `updated_at` is older than the stored one, or as old "
    "with other content), or other updates of the same appointment keep racing this one.",
    headers=RETRY_AFTER,
)


@router.put(
    "/{clinic_id}/{external_id}",
    operation_id="put_appointment",
    response_model=AppointmentWritten,
    responses={
        201: {"description": "Created; its reminders are planned.", "model": AppointmentWritten},
        **problems(*AUTH, *JSON_BODY, 404, specific={409: BUSY}),
    },
)
def put(
    clinic_id: ClinicId,
    external_id: ExternalId,
    body: AppointmentRequest,
    caller: Scheduler,
    session: SessionDep,
    services: ServicesDep,
) -> JSONResponse:
    offered = services.pipeline.renderer.offered_kinds
    now = services.pipeline.clock.now()
    written = put_appointment(session, caller, clinic_id, external_id, body, offered, now)
    _enqueue_due(services, written)
    answer = written_out(session, services, written).model_dump(mode="json")
    if written.change == "created":
        return JSONResponse(answer, status_code=201)
    return JSONResponse(answer, status_code=200)


@router.get(
    "/{clinic_id}/{external_id}",
    operation_id="get_appointment",
    response_model=AppointmentOut,
    responses=problems(*ANY_KEY, 403, 404, 422),
)
def get_one(
    clinic_id: ClinicId,
    external_id: ExternalId,
    caller: AnyCaller,
    session: SessionDep,
    services: ServicesDep,
) -> AppointmentOut:
    appointment = find_appointment(session, caller, clinic_id, external_id)
    audit(session, caller.id, "appointment.read", "appointment", appointment.id)
    session.commit()
    return appointment_out(session, services, appointment)


@router.get(
    "",
    operation_id="list_appointments",
    response_model=AppointmentPage,
    responses=problems(*ANY_KEY, 403, 404, 422),
)
def get_list(
    caller: AnyCaller,
    session: SessionDep,
    services: ServicesDep,
    clinic_id: Annotated[str | None, Query(pattern=CLINIC_ID_PATTERN, max_length=64)] = None,
    status: AppointmentStatus | None = None,
    start_after: Annotated[Moment | None, Query(description="inclusive")] = None,
    start_before: Annotated[Moment | None, Query(description="exclusive")] = None,
    external_id: Annotated[
        str | None, Query(pattern=APPOINTMENT_EXTERNAL_ID_PATTERN, max_length=EXTERNAL_ID_MAX_CHARS)
    ] = None,
    needs_attention: Annotated[
        bool | None, Query(description="true: only visits whose patient cannot be reached")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX)] = PAGE_LIMIT_DEFAULT,
    cursor: Annotated[str | None, Query(max_length=CURSOR_MAX_CHARS)] = None,
) -> AppointmentPage:
    if clinic_id is not None:
        clinic_for(session, caller, clinic_id)
    filters = AppointmentFilters(
        clinic_id=clinic_id,
        status=status,
        start_after=start_after,
        start_before=start_before,
        external_id=external_id,
        needs_attention=needs_attention,
    )
    page = list_appointments(session, caller, filters, limit=limit, cursor=cursor)
    lines = reminders_of(session, [a.id for a in page.items])
    return AppointmentPage(
        items=[_out(services, a, lines.get(a.id, [])) for a in page.items],
        next_cursor=page.next_cursor,
    )


@router.delete(
    "/{clinic_id}/{external_id}",
    operation_id="cancel_appointment",
    response_model=AppointmentWritten,
    responses=problems(*AUTH, 404, 422, specific={409: BUSY}),
)
def delete(
    clinic_id: ClinicId,
    external_id: ExternalId,
    caller: Scheduler,
    session: SessionDep,
    services: ServicesDep,
) -> AppointmentWritten:
    now = services.pipeline.clock.now()
    written = cancel_appointment(session, caller, clinic_id, external_id, now)
    _enqueue_due(services, written)
    return written_out(session, services, written)


def _enqueue_due(services: Services, written: Written) -> None:
    # Committed already: should this enqueue fail, the sweeper enqueues them.
    if written.due:
        services.pipeline.enqueue(RENDER_JOB, *written.due)


def written_out(session: SessionDep, services: Services, written: Written) -> AppointmentWritten:
    out = appointment_out(session, services, written.appointment)
    warnings = [f"{warning.field} {warning.message}" for warning in written.warnings]
    return AppointmentWritten.model_validate(
        {**out.model_dump(), "change": written.change, "warnings": warnings}
    )


def appointment_out(
    session: SessionDep, services: Services, appointment: Appointment
) -> AppointmentOut:
    lines = reminders_of(session, [appointment.id]).get(appointment.id, [])
    return _out(services, appointment, lines)


def _out(services: Services, appointment: Appointment, lines: list[ReminderLine]) -> AppointmentOut:
    links = services.links
    return AppointmentOut.model_validate(
        {
            "id": appointment.id,
            "clinic_id": appointment.clinic_id,
            "external_id": appointment.external_id,
            "status": appointment.status,
            "start": appointment.start,
            "provider": appointment.provider,
            "location": appointment.location,
            "instructions": appointment.instructions,
            "patient": appointment.patient,
            "needs_attention": appointment.needs_attention,
            "version": appointment.source_version,
            "updated_at": appointment.source_updated_at,
            "created_at": appointment.created_at,
            "recorded_at": appointment.updated_at,
            "reminders": [
                {
                    "id": line.id,
                    "kind": line.kind,
                    "channel": line.channel,
                    "status": line.status,
                    "send_at": line.send_at,
                    "plan_slot": line.plan_slot,
                    "links": {"self": links.reminder(line.id)},
                }
                for line in lines
            ],
            "links": {"self": links.appointment(appointment.clinic_id, appointment.external_id)},
        }
    )
