"""``/v1/clinics``: clinics configured once by an admin, then named by id on reminders.

Admins create, change and delete; every key may read (a scheduler key limited to some
clinics sees only those). Rules and audit entries live in ``service.clinics``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from service.api.responses import ANY_KEY, AUTH, JSON_BODY, problem, problems
from service.clinics import (
    clinic_settings,
    create_clinic,
    delete_clinic,
    get_clinic,
    list_clinics,
    update_clinic,
)
from service.deps import Admin, AnyCaller, ServicesDep, SessionDep
from service.follow_ups import WEEKS_DEFAULT, weekly_counts
from service.models import Clinic
from service.schemas import (
    CLINIC_ID_PATTERN,
    FOLLOW_UP_WEEKS_MAX,
    ClinicCreate,
    ClinicList,
    ClinicOut,
    ClinicPatch,
    FollowUpReport,
)

router = APIRouter(prefix="/v1/clinics", tags=["clinics"])

ClinicIdPath = Annotated[str, Path(pattern=CLINIC_ID_PATTERN, examples=["riverside"])]


def clinic_out(clinic: Clinic, services: ServicesDep) -> ClinicOut:
    return ClinicOut.model_validate(
        clinic_settings(clinic)
        | {
            "created_at": clinic.created_at,
            "updated_at": clinic.updated_at,
            "links": {"self": services.links.clinic(clinic.id)},
        }
    )


@router.post(
    "",
    operation_id="create_clinic",
    status_code=201,
    response_model=ClinicOut,
    responses=problems(
        *AUTH,
        *JSON_BODY,
        specific={409: problem(409, "A clinic with this id exists, or existed and was deleted.")},
    ),
)
def post_clinic(
    body: ClinicCreate, caller: Admin, session: SessionDep, services: ServicesDep
) -> ClinicOut:
    clinic = create_clinic(session, caller, body, services.pipeline.renderer.offered_kinds)
    return clinic_out(clinic, services)


@router.get(
    "",
    operation_id="list_clinics",
    response_model=ClinicList,
    responses=problems(*ANY_KEY),
)
def read_clinics(caller: AnyCaller, session: SessionDep, services: ServicesDep) -> ClinicList:
    """Every clinic not deleted, by id; a key limited to some clinics sees only those."""
    return ClinicList(items=[clinic_out(c, services) for c in list_clinics(session, caller)])


@router.get(
    "/{clinic_id}",
    operation_id="get_clinic",
    response_model=ClinicOut,
    responses=problems(*ANY_KEY, 404, 422),
)
def read_clinic(
    clinic_id: ClinicIdPath, caller: AnyCaller, session: SessionDep, services: ServicesDep
) -> ClinicOut:
    return clinic_out(get_clinic(session, clinic_id, caller), services)


@router.patch(
    "/{clinic_id}",
    operation_id="update_clinic",
    response_model=ClinicOut,
    responses=problems(*AUTH, *JSON_BODY, 404),
)
def patch_clinic(
    clinic_id: ClinicIdPath,
    body: ClinicPatch,
    caller: Admin,
    session: SessionDep,
    services: ServicesDep,
) -> ClinicOut:
    """Change only the fields sent; the result is checked as a whole clinic."""
    clinic = get_clinic(session, clinic_id, caller)
    update_clinic(session, caller, clinic, body, services.pipeline.renderer.offered_kinds)
    return clinic_out(clinic, services)


@router.delete(
    "/{clinic_id}",
    operation_id="delete_clinic",
    status_code=204,
    responses=problems(*AUTH, 404, 422),
)
def remove_clinic(clinic_id: ClinicIdPath, caller: Admin, session: SessionDep) -> Response:
    """Soft delete: reads answer 404 afterwards, and the id is never reused."""
    delete_clinic(session, caller, get_clinic(session, clinic_id, caller))
    return Response(status_code=204)


@router.get(
    "/{clinic_id}/follow-ups",
    operation_id="clinic_follow_ups",
    response_model=FollowUpReport,
    responses=problems(*ANY_KEY, 404, 422),
)
def read_follow_ups(
    clinic_id: ClinicIdPath,
    caller: AnyCaller,
    session: SessionDep,
    services: ServicesDep,
    weeks: Annotated[
        int,
        Query(
            ge=1,
            le=FOLLOW_UP_WEEKS_MAX,
            description="How many ISO weeks back, this week included (clinic's time zone).",
        ),
    ] = WEEKS_DEFAULT,
) -> FollowUpReport:
    """The clinic's follow-up answers per ISO week and question: counts and the mean
    score, never a patient."""
    clinic = get_clinic(session, clinic_id, caller)
    now = services.pipeline.clock.now()
    return FollowUpReport(clinic_id=clinic.id, weeks=weekly_counts(session, clinic, now, weeks))
