"""The console's pages: sign-in, preview, reminders and languages, rendered on the server.

Every page but sign-in needs a staff or admin key's live session (checked on the server
on every request, see ``sessions``); every POST carries the session's CSRF token. A page
view renews the session (sliding idle expiry).
Previews and reminder views are written to the audit log under the signed-in key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from service.clinic_words import review_of
from service.console.forms import PreviewForm, field_errors, sample_form
from service.console.sessions import CONSOLE_ROLES, ConsoleSession, SessionCodec, SessionStore
from service.deps import ServicesDep, SessionDep
from service.errors import Problem, ValidationProblem
from service.models import Clinic, Role, Status, audit
from service.reminders import PAGE_LIMIT_DEFAULT, get_reminder, list_reminders
from service.security import Caller, find_key
from templates import KINDS
from workers.previews import make_preview

PAGES = Jinja2Templates(directory=Path(__file__).parent / "pages")
KIND_LABELS = {
    "appointment_reminder": "Appointment reminder",
    "appointment_changed": "Appointment changed",
    "appointment_cancelled": "Appointment cancelled",
    "result_ready": "Results ready",
    "follow_up": "Follow-up question",
}
"""How staff read each of ``templates.KINDS``; the options follow KINDS, so none is left out."""
KIND_OPTIONS = [(kind, KIND_LABELS[kind]) for kind in KINDS]
VARIANT_OPTIONS = [("call", "Phone call, answered"), ("voicemail", "Voicemail"), ("app", "App")]
RATE_OPTIONS = [("normal", "Normal"), ("slow", "Slow")]
FOLLOW_UP_OPTIONS = [
    ("visit_rating", "How was your visit? (1 poor to 5 very good)"),
    ("resolved", "Did we solve your problem? (1 yes, 2 no)"),
]
"""The follow-up questions (``schemas.FollowUpQuestion``) as staff read them."""
PAUSE_OPTIONS = [("normal", "Normal"), ("long", "Long (1 second)")]
YES_NO_OPTIONS = [("no", "No"), ("yes", "Yes")]

router = APIRouter(prefix="/console", include_in_schema=False)


class ConsoleRefusal(HTTPException):
    """A console request that cannot go on: shown as a page (or a redirect), not JSON."""


async def show_refusal(request: Request, exc: Exception) -> Response:
    """The exception handler for ``ConsoleRefusal``."""
    assert isinstance(exc, ConsoleRefusal)
    if exc.status_code == 303:
        return RedirectResponse(exc.headers["Location"] if exc.headers else "/console/", 303)
    context = {"title": "Cannot continue", "message": exc.detail, "signed_in": False}
    return PAGES.TemplateResponse(request, "refused.html", context, status_code=exc.status_code)


@dataclass
class Visit:
    """One page request: who is signed in, and the session to write back."""

    request: Request
    codec: SessionCodec
    session: ConsoleSession
    caller: Caller | None

    def page(self, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
        context = {
            "csrf_token": self.session.csrf,
            "signed_in": self.caller is not None,
            "is_admin": self.caller is not None and self.caller.role == Role.ADMIN,
            **context,
        }
        response = PAGES.TemplateResponse(self.request, template, context, status_code=status_code)
        self.codec.write(response, self.request, self.session)
        # Pages may show PHI (a transcript): never stored by the browser or a proxy.
        response.headers["Cache-Control"] = "no-store"
        return response

    def redirect(self, url: str) -> Response:
        response = RedirectResponse(url, status_code=303)
        self.codec.write(response, self.request, self.session)
        return response


def _codec(request: Request) -> SessionCodec:
    codec: SessionCodec = request.app.state.console_sessions
    return codec


def _store(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.console_session_store
    return store


async def _visit(request: Request, db_session: SessionDep) -> Visit:
    """The cookie's session, if the server still holds it live (else an anonymous one)."""
    codec = _codec(request)
    session = codec.read(request)
    caller = None
    if session.token is not None:
        caller = await run_in_threadpool(_store(request).resume, db_session, session.token)
        if caller is None:
            session = codec.anonymous()
    return Visit(request=request, codec=codec, session=session, caller=caller)


AnyVisit = Annotated[Visit, Depends(_visit)]


async def _staff_visit(visit: AnyVisit) -> Visit:
    caller_of(visit)
    return visit


StaffVisit = Annotated[Visit, Depends(_staff_visit)]


async def _checked_csrf(visit: AnyVisit, csrf_token: Annotated[str, Form()] = "") -> Visit:
    """Every POST must carry the token from this session's own page."""
    if not visit.session.csrf_matches(csrf_token):
        raise ConsoleRefusal(
            403, "This form has expired or did not come from this console. Please try again."
        )
    return visit


CheckedVisit = Annotated[Visit, Depends(_checked_csrf)]


def caller_of(visit: Visit) -> Caller:
    """The signed-in staff member; anyone else is sent to the sign-in page."""
    if visit.caller is None:
        raise ConsoleRefusal(
            303, "Please sign in.", headers={"Location": str(visit.request.url_for("sign_in"))}
        )
    return visit.caller


# -- sign-in ---------------------------------------------------------------------------


@router.get("/", name="console_home")
def home(visit: AnyVisit) -> Response:
    target = "preview" if visit.caller else "sign_in"
    return visit.redirect(str(visit.request.url_for(target)))


@router.get("/sign-in", name="sign_in", response_class=HTMLResponse)
def sign_in_page(visit: AnyVisit) -> Response:
    return visit.page("sign_in.html", {"title": "Sign in", "error": None})


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    visit: CheckedVisit, db_session: SessionDep, api_key: Annotated[str, Form()] = ""
) -> Response:
    caller = find_key(db_session, api_key.strip()) if api_key.strip() else None
    if caller is None or caller.role not in CONSOLE_ROLES:
        error = (
            "This key cannot sign in to the console: it is not a staff or admin key."
            if caller is not None
            else "This API key is not valid."
        )
        status = 403 if caller is not None else 401
        return visit.page("sign_in.html", {"title": "Sign in", "error": error}, status)
    if visit.session.token is not None:  # signing in again ends the session before
        _store(visit.request).end(db_session, visit.session.token)
    token = _store(visit.request).start(db_session, caller.id)
    audit(db_session, caller.id, "console.sign_in", "api_key", caller.id)
    db_session.commit()
    visit.session = visit.codec.signed_in(token)
    return visit.redirect(str(visit.request.url_for("preview")))


@router.post("/sign-out", name="sign_out")
def sign_out(visit: CheckedVisit, db_session: SessionDep) -> Response:
    """Ends the session on the server: a copy of the cookie opens nothing afterwards."""
    if visit.caller is not None and visit.session.token is not None:
        _store(visit.request).end(db_session, visit.session.token)
        audit(db_session, visit.caller.id, "console.sign_out", "api_key", visit.caller.id)
        db_session.commit()
    visit.session = visit.codec.anonymous()
    return visit.redirect(str(visit.request.url_for("sign_in")) + "?signed_out=1")


# -- preview ---------------------------------------------------------------------------


def _preview_context(
    services: ServicesDep, db_session: Session, form: PreviewForm
) -> dict[str, Any]:
    return {
        "title": "Preview a message",
        "form": form,
        "clinic_options": [("", "None (inline)"), *clinic_options(db_session)],
        "kind_options": KIND_OPTIONS,
        "variant_options": VARIANT_OPTIONS,
        "rate_options": RATE_OPTIONS,
        "follow_up_options": [("", "The clinic's question"), *FOLLOW_UP_OPTIONS],
        "pause_options": PAUSE_OPTIONS,
        "yes_no_options": YES_NO_OPTIONS,
        "language_options": language_options(services),
        "errors": {},
        "preview": None,
        "audio_url": None,
    }


def clinic_options(db_session: Session) -> list[tuple[str, str]]:
    """(id, display name) of every clinic not deleted, by name."""
    rows = db_session.scalars(
        select(Clinic).where(Clinic.deleted_at.is_(None)).order_by(Clinic.display_name)
    )
    return [(row.id, row.display_name) for row in rows]


def language_options(services: ServicesDep) -> list[tuple[str, str]]:
    return [
        (lang.voice.code, f"{lang.voice.name} ({lang.voice.code})")
        for lang in services.pipeline.renderer.languages()
    ]


@router.get("/preview", name="preview", response_class=HTMLResponse)
def preview_page(visit: StaffVisit, services: ServicesDep, db_session: SessionDep) -> Response:
    form = sample_form(PreviewForm())
    return visit.page("preview.html", _preview_context(services, db_session, form))


@router.post("/preview", response_class=HTMLResponse)
def preview(
    visit: CheckedVisit,
    services: ServicesDep,
    db_session: SessionDep,
    form: Annotated[PreviewForm, Form()],
    action: Annotated[str, Form()] = "preview",
) -> Response:
    caller = caller_of(visit)
    if action == "sample":
        form = sample_form(form)
        return visit.page("preview.html", _preview_context(services, db_session, form))
    context = _preview_context(services, db_session, form)
    try:
        result = make_preview(db_session, caller, form.parse(), services.pipeline)
    except ValidationProblem as problem:
        context["errors"] = field_errors(problem)
        return visit.page("preview.html", context, status_code=422)
    except Problem as err:  # a key limited to other clinics
        raise ConsoleRefusal(err.status, err.detail) from err
    context["preview"] = result
    audio = result.rendered.audio
    page = visit.request.url.path
    context["audio_url"] = services.links.audio_for_page(audio.key, audio.format.value, page)
    return visit.page("preview.html", context)


# -- reminders ---------------------------------------------------------------------------


def day_bounds(day: date | None) -> tuple[datetime | None, datetime | None]:
    if day is None:
        return None, None
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


@router.get("/reminders", name="reminders", response_class=HTMLResponse)
def reminders_page(
    visit: StaffVisit,
    services: ServicesDep,
    db_session: SessionDep,
    status: Annotated[str, Query()] = "",
    language: Annotated[str, Query()] = "",
    day: Annotated[str, Query(alias="date")] = "",
    cursor: Annotated[str | None, Query()] = None,
) -> Response:
    caller = caller_of(visit)
    errors: dict[str, str] = {}
    if status and status not in set(Status):
        errors["status"] = "is not a known status"
    try:
        send_day = date.fromisoformat(day) if day else None
    except ValueError:
        errors["date"] = "must be a date such as 2026-12-03"
        send_day = None
    page = None
    if not errors:
        send_after, send_before = day_bounds(send_day)
        try:
            page = list_reminders(
                db_session,
                caller,
                external_id=None,
                status=status or None,
                limit=PAGE_LIMIT_DEFAULT,
                cursor=cursor,
                language=language or None,
                send_after=send_after,
                send_before=send_before,
            )
        except ValidationProblem as problem:
            errors.update(field_errors(problem))
    context = {
        "title": "Reminders",
        "statuses": list(Status),
        "language_options": language_options(services),
        "filters": {"status": status, "language": language, "date": day},
        "errors": errors,
        "page": page,
    }
    return visit.page("reminders.html", context, status_code=422 if errors else 200)


@router.get("/reminders/{reminder_id}", name="reminder", response_class=HTMLResponse)
def reminder_page(
    visit: StaffVisit, services: ServicesDep, db_session: SessionDep, reminder_id: str
) -> Response:
    caller = caller_of(visit)
    try:
        reminder = get_reminder(db_session, reminder_id, caller)
    except Problem as err:
        raise ConsoleRefusal(err.status, err.detail) from err
    audit(db_session, caller.id, "reminder.read", "reminder", reminder.id)
    db_session.commit()
    audio_url = None
    if reminder.audio is not None and reminder.audio.purged_at is None:
        audio = reminder.audio
        audio_url = services.links.audio_for_page(audio.key, audio.format, visit.request.url.path)
    context = {"title": f"Reminder {reminder.id}", "reminder": reminder, "audio_url": audio_url}
    return visit.page("reminder.html", context)


# -- languages ---------------------------------------------------------------------------


@router.get("/languages", name="languages", response_class=HTMLResponse)
def languages_page(visit: StaffVisit, services: ServicesDep, db_session: SessionDep) -> Response:
    languages = services.pipeline.renderer.languages()
    reviews = {lang.voice.code: review_of(db_session, None, lang.voice.code) for lang in languages}
    unavailable = services.pipeline.renderer.unavailable()
    context = {
        "title": "Languages",
        "languages": languages,
        "reviews": reviews,
        "unavailable": unavailable,
    }
    return visit.page("languages.html", context)
