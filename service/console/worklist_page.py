"""The console's worklist: what needs a person (``service.worklist``), with forms to act.

Staff see here what ``GET /v1/worklist`` answers, filtered by clinic, reason and the day
an item arose (on the clinic's clock), and act with the same rules as the API: mark
handled with a note, re-send (in another language: change language). Call back opens
the patient's number (``tel:``) through a redirect that audits it first; the number is
shown only on this signed-in page and never in one of our URLs. A call back leaves the
item on the list (the call may not reach anyone). Every view and action is audited under
the signed-in key.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from service.api.worklist import HandledRequest, ResendRequest, worklist_scope
from service.console.appointments_page import local_day_bounds
from service.console.routes import (
    CheckedVisit,
    ConsoleRefusal,
    StaffVisit,
    Visit,
    caller_of,
    language_options,
)
from service.deps import ServicesDep, SessionDep
from service.errors import Problem, ValidationProblem, validation_problem_from
from service.models import Clinic, Role, audit
from service.reminders import PAGE_LIMIT_DEFAULT
from service.security import Caller
from service.worklist import (
    Item,
    WorklistAction,
    WorklistReason,
    find_item,
    handle,
    list_worklist,
    resend,
)
from workers.queue import RENDER_JOB

router = APIRouter(prefix="/console", include_in_schema=False)

REASON_LABELS = {
    WorklistReason.NEEDS_STAFF: "Not reached after every step",
    WorklistReason.FOLLOW_UP_ANSWER: "Follow-up answer to follow up",
    WorklistReason.FAILED: "Delivery failed",
    WorklistReason.CANCEL_REQUEST: "Asked to cancel",
    WorklistReason.CLINIC_UNANSWERED: "Asked for the clinic, nobody answered",
    WorklistReason.OPTED_OUT: "Opted out, visit coming up",
    WorklistReason.NEEDS_ATTENTION: "Cannot be reached (intake)",
    WorklistReason.UNREVIEWED_LANGUAGE: "Unreviewed language in use",
}
"""How staff read each reason; a reason without a label fails at import."""
assert set(REASON_LABELS) == set(WorklistReason), "every worklist reason needs a label"
DONE_MESSAGES = {"handled": "Marked handled.", "resent": "Re-sent: a new reminder is planned."}


@router.get("/worklist", name="worklist", response_class=HTMLResponse)
def worklist_page(
    visit: StaffVisit,
    services: ServicesDep,
    db_session: SessionDep,
    clinic: Annotated[str, Query()] = "",
    reason: Annotated[str, Query()] = "",
    day: Annotated[str, Query(alias="date")] = "",
    cursor: Annotated[str | None, Query()] = None,
    done: Annotated[str, Query()] = "",
) -> Response:
    caller = caller_of(visit)
    clinics = list(db_session.scalars(select(Clinic).order_by(Clinic.display_name)))
    by_id = {c.id: c for c in clinics}
    errors: dict[str, str] = {}
    if clinic and clinic not in by_id:
        errors["clinic"] = "is not a known clinic"
    if reason and reason not in set(WorklistReason):
        errors["reason"] = "is not a known reason"
    since = until = None
    try:
        if day:
            zone = by_id[clinic].timezone if clinic in by_id else "UTC"
            since, until = local_day_bounds(date.fromisoformat(day), zone)
    except ValueError:
        errors["date"] = "must be a date such as 2026-12-03"
    page = None
    if not errors:
        scope = worklist_scope(caller, services, clinic_id=clinic or None, since=since, until=until)
        reasons = [WorklistReason(reason)] if reason else None
        try:
            page = list_worklist(
                db_session, scope, reasons, limit=PAGE_LIMIT_DEFAULT, cursor=cursor
            )
        except ValidationProblem as problem:
            errors.update({error.field: error.message for error in problem.errors})
        else:
            audit(
                db_session, caller.id, "worklist.read", "worklist", "", {"items": len(page.items)}
            )
            db_session.commit()
    context = {
        "title": "Worklist",
        "clinic_options": [("", "Any clinic")] + [(c.id, c.display_name) for c in clinics],
        "reason_options": [("", "Any reason")]
        + [(r.value, REASON_LABELS[r]) for r in WorklistReason],
        "reason_labels": REASON_LABELS,
        "clinic_names": {c.id: c.display_name for c in clinics},
        "language_options": language_options(services),
        "filters": {"clinic": clinic, "reason": reason, "date": day},
        "may_act": caller.role != Role.SCHEDULER,
        "done": DONE_MESSAGES.get(done),
        "errors": errors,
        "page": page,
    }
    return visit.page("worklist.html", context, status_code=422 if errors else 200)


def _item(
    visit: Visit, services: ServicesDep, db_session: SessionDep, item_id: str
) -> tuple[Caller, Item]:
    """The item to act on, for staff (a scheduler signed in reads only)."""
    caller = caller_of(visit)
    if caller.role == Role.SCHEDULER:
        raise ConsoleRefusal(403, "Only staff can act on the worklist.")
    try:
        return caller, find_item(db_session, worklist_scope(caller, services), item_id)
    except Problem as err:
        raise ConsoleRefusal(err.status, err.detail) from err


@router.post("/worklist/{item_id}/handled", name="worklist_handled")
def handled(
    visit: CheckedVisit,
    services: ServicesDep,
    db_session: SessionDep,
    item_id: str,
    note: Annotated[str, Form()] = "",
) -> Response:
    caller, item = _item(visit, services, db_session, item_id)
    try:
        form = HandledRequest.model_validate({"note": note.strip() or None})
        handle(db_session, caller, item, form.note)
    except (ValidationError, Problem) as err:
        raise _refusal(err) from err
    db_session.commit()
    return visit.redirect(str(visit.request.url_for("worklist")) + "?done=handled")


@router.post("/worklist/{item_id}/resend", name="worklist_resend")
def resent(
    visit: CheckedVisit,
    services: ServicesDep,
    db_session: SessionDep,
    item_id: str,
    language: Annotated[str, Form()] = "",
) -> Response:
    caller, item = _item(visit, services, db_session, item_id)
    pipeline = services.pipeline
    now = pipeline.clock.now()
    try:
        form = ResendRequest.model_validate({"language": language or None})
        offered = pipeline.renderer.offered_kinds
        copy = resend(db_session, caller, item, form.language, offered, pipeline.call_policy, now)
    except (ValidationError, Problem) as err:
        raise _refusal(err) from err
    db_session.commit()
    if copy.send_at <= now:
        pipeline.enqueue(RENDER_JOB, copy.id)
    return visit.redirect(str(visit.request.url_for("worklist")) + "?done=resent")


@router.get("/worklist/{item_id}/call-back", name="worklist_call_back")
def call_back(
    visit: StaffVisit, services: ServicesDep, db_session: SessionDep, item_id: str
) -> Response:
    """Audited, then the patient's number for the phone to dial (303 to ``tel:``)."""
    caller, item = _item(visit, services, db_session, item_id)
    phone = item.patient.get("phone") if WorklistAction.CALL_BACK in item.actions else None
    if not phone:
        raise ConsoleRefusal(409, "This item has no number to call back.")
    detail: dict[str, object] = {"reason": item.reason.value, "fields": []}
    audit(db_session, caller.id, "worklist.call_back", item.subject_type, item.subject_id, detail)
    db_session.commit()
    return visit.redirect(f"tel:{phone}")


def _refusal(err: Exception) -> Exception:
    """A refused action as a page naming the field and why (nothing was stored)."""
    if isinstance(err, ValidationError):
        err = validation_problem_from(err.errors())
    if isinstance(err, Problem):  # a ValidationProblem's detail names each field
        return ConsoleRefusal(err.status, f"Nothing was changed. {err.detail}")
    return err
