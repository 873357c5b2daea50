"""The console's audit page: admins read who did what, filtered like ``GET /v1/audit``.

Staff keys are refused: the log names every staff member's reads, and it is an
operator's evidence, not a clinician's tool.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from service.audit_log import AuditFilters, list_audit
from service.console.forms import field_errors
from service.console.routes import ConsoleRefusal, StaffVisit, caller_of, day_bounds
from service.deps import SessionDep
from service.errors import ValidationProblem
from service.models import ApiKey, AuditEntry, Role
from service.reminders import PAGE_LIMIT_DEFAULT

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/audit", name="audit", response_class=HTMLResponse)
def audit_page(
    visit: StaffVisit,
    db_session: SessionDep,
    actor: Annotated[str, Query()] = "",
    action: Annotated[str, Query()] = "",
    day: Annotated[str, Query(alias="date")] = "",
    cursor: Annotated[str | None, Query()] = None,
) -> Response:
    if caller_of(visit).role != Role.ADMIN:
        raise ConsoleRefusal(403, "The audit log is for admins. Please sign in with an admin key.")
    errors: dict[str, str] = {}
    try:
        since, until = day_bounds(date.fromisoformat(day) if day else None)
    except ValueError:
        errors["date"] = "must be a date such as 2026-12-03"
        since = until = None
    page = None
    if not errors:
        filters = AuditFilters(actor=actor or None, action=action or None, since=since, until=until)
        try:
            page = list_audit(db_session, filters, limit=PAGE_LIMIT_DEFAULT, cursor=cursor)
        except ValidationProblem as problem:
            errors.update(field_errors(problem))
    actors = db_session.execute(select(ApiKey.id, ApiKey.name).order_by(ApiKey.name)).all()
    actions = db_session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    context = {
        "title": "Audit log",
        "actor_options": [("", "Anyone")] + [(key_id, name) for key_id, name in actors],
        "action_options": [("", "Any action")] + [(name, name) for name in actions],
        "filters": {"actor": actor, "action": action, "date": day},
        "errors": errors,
        "page": page,
    }
    return visit.page("audit.html", context, status_code=422 if errors else 200)
