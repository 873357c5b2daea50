"""The console's appointment pages: the visits of a day or a clinic, and one visit with
every reminder the service planned, sent or cancelled for it.

Staff read here what ``GET /v1/appointments`` answers; opening one visit is written to the
audit log like a reminder view.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from service.appointments import (
    AppointmentFilters,
    ReminderLine,
    find_appointment_by_id,
    list_appointments,
    reminders_of,
)
from service.console.forms import field_errors
from service.console.routes import ConsoleRefusal, StaffVisit, caller_of
from service.deps import SessionDep
from service.errors import Problem, ValidationProblem
from service.models import Appointment, AppointmentStatus, Clinic, Status, audit
from service.reminders import PAGE_LIMIT_DEFAULT

router = APIRouter(prefix="/console", include_in_schema=False)

STAGES = {
    Status.SCHEDULED: "planned",
    Status.RENDERING: "planned",
    Status.READY: "planned",
    Status.CANCELLED: "cancelled",
    Status.FAILED: "failed",
    Status.EXPIRED: "expired",
}
"""How staff read a reminder's status at a glance; any other status means it was sent."""


def summary(lines: list[ReminderLine]) -> str:
    """``2 planned, 1 sent``: a visit's reminders in one phrase."""
    counts = Counter(STAGES.get(Status(line.status), "sent") for line in lines)
    order = ("planned", "sent", "cancelled", "failed", "expired")
    return ", ".join(f"{counts[stage]} {stage}" for stage in order if counts[stage]) or "none"


def local_start(appointment: Appointment) -> datetime:
    """The visit on the patient's clock, as staff and patient speak of it."""
    return appointment.start.astimezone(ZoneInfo(appointment.patient["timezone"]))


def local_day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """A calendar day on the clinic's clock, as UTC bounds [start, end)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


ATTENTION_CHOICES: dict[str, bool | None] = {"": None, "yes": True, "no": False}
"""The console's "Needs attention" filter: its values and what they ask of the list."""


@router.get("/appointments", name="appointments", response_class=HTMLResponse)
def appointments_page(
    visit: StaffVisit,
    db_session: SessionDep,
    clinic: Annotated[str, Query()] = "",
    status: Annotated[str, Query()] = "",
    day: Annotated[str, Query(alias="date")] = "",
    attention: Annotated[str, Query()] = "",
    cursor: Annotated[str | None, Query()] = None,
) -> Response:
    caller = caller_of(visit)
    clinics = list(db_session.scalars(select(Clinic).order_by(Clinic.display_name)))
    by_id = {c.id: c for c in clinics}
    errors: dict[str, str] = {}
    if clinic and clinic not in by_id:
        errors["clinic"] = "is not a known clinic"
    if status and status not in set(AppointmentStatus):
        errors["status"] = "is not a known status"
    if attention not in ATTENTION_CHOICES:
        errors["attention"] = "is not a known choice"
    since = until = None
    try:
        if day:
            zone = by_id[clinic].timezone if clinic in by_id else "UTC"
            since, until = local_day_bounds(date.fromisoformat(day), zone)
    except ValueError:
        errors["date"] = "must be a date such as 2026-12-03"
    page = None
    rows = []
    if not errors:
        filters = AppointmentFilters(
            clinic_id=clinic or None,
            status=status or None,
            start_after=since,
            start_before=until,
            needs_attention=ATTENTION_CHOICES.get(attention),
        )
        try:
            page = list_appointments(
                db_session, caller, filters, limit=PAGE_LIMIT_DEFAULT, cursor=cursor
            )
            lines = reminders_of(db_session, [a.id for a in page.items])
            rows = [
                {"appointment": a, "start": local_start(a), "reminders": summary(lines[a.id])}
                for a in page.items
            ]
        except ValidationProblem as problem:
            errors.update(field_errors(problem))
    context = {
        "title": "Appointments",
        "clinic_options": [("", "Any clinic")] + [(c.id, c.display_name) for c in clinics],
        "status_options": [("", "Any status")] + [(s.value, s.value) for s in AppointmentStatus],
        "attention_options": [
            ("", "Any"),
            ("yes", "Needs attention only"),
            ("no", "Reachable only"),
        ],
        "clinic_names": {c.id: c.display_name for c in clinics},
        "filters": {"clinic": clinic, "status": status, "date": day, "attention": attention},
        "errors": errors,
        "page": page,
        "rows": rows,
    }
    return visit.page("appointments.html", context, status_code=422 if errors else 200)


@router.get("/appointments/{appointment_id}", name="appointment", response_class=HTMLResponse)
def appointment_page(visit: StaffVisit, db_session: SessionDep, appointment_id: str) -> Response:
    caller = caller_of(visit)
    try:
        appointment = find_appointment_by_id(db_session, caller, appointment_id)
    except Problem as err:
        raise ConsoleRefusal(err.status, err.detail) from err
    audit(db_session, caller.id, "appointment.read", "appointment", appointment.id)
    db_session.commit()
    clinic = db_session.get(Clinic, appointment.clinic_id)
    context = {
        "title": f"Appointment {appointment.external_id}",
        "appointment": appointment,
        "clinic_name": clinic.display_name if clinic else appointment.clinic_id,
        "start": local_start(appointment),
        "reminders": reminders_of(db_session, [appointment.id]).get(appointment.id, []),
    }
    return visit.page("appointment.html", context)
