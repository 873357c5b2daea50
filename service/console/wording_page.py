"""The console's wording pages: a clinic's text for each message in one language, its
versions and their review.

Staff read the text in use (the clinic's newest version, or the shipped text said with
sample facts), write a new version (gated and stored by ``workers.clinic_words.save_wording``,
as the API does), and hear any version through ``workers.previews.make_preview``, exactly
as ``POST /v1/previews`` with ``clinic.id`` and ``wording_version``. Reviewers and admins
sign the language's wording in use (``service.clinic_words.sign_clinic_wording``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from service.clinic_words import (
    clinic_or_404,
    is_reviewed,
    list_versions,
    newest_versions,
    review_of,
    sign_clinic_wording,
    wording_hash,
)
from service.console.forms import PreviewForm, sample_form
from service.console.routes import (
    KIND_LABELS,
    VARIANT_OPTIONS,
    CheckedVisit,
    ConsoleRefusal,
    StaffVisit,
    Visit,
    caller_of,
    language_options,
)
from service.deps import Services, ServicesDep, SessionDep
from service.errors import Problem, ValidationProblem, validation_problem_from
from service.models import Clinic, Role, audit
from service.schemas import ReviewIn, WordingIn
from templates import VARIANTS, render_message, sample_facts
from templates.wording import slots_for
from workers.clinic_words import save_wording
from workers.previews import make_preview

router = APIRouter(prefix="/console", include_in_schema=False)

VARIANT_LABELS = dict(VARIANT_OPTIONS)
REVIEW_ROLES = frozenset({Role.REVIEWER, Role.ADMIN})
"""Who may sign a language's wording (as ``service.deps.Reviewer``)."""
SLOT_HINTS = {
    "patient_name": "the patient's full name",
    "first_name": "the patient's first name",
    "clinic_name": "the clinic's name (the voice says its spoken name)",
    "clinic_phone": "the clinic's call-back phone",
    "day": "the day of the visit",
    "time": "the time of the visit",
    "previous_day": "the day the visit had before",
    "previous_time": "the time the visit had before",
    "provider": "who the patient sees (left out when not given)",
    "location": "where to go (left out when not given)",
    "instructions": "what to bring or do (left out when not given)",
    "ordered_by": "who ordered the tests (left out when not given)",
    "menu": "the keypad menu (calls must say it)",
}
"""What each slot of ``templates.wording.SLOTS`` says, for the person writing."""


def _clinic(db_session: Session, clinic_id: str) -> Clinic:
    try:
        return clinic_or_404(db_session, clinic_id)
    except Problem as err:
        raise ConsoleRefusal(err.status, err.detail) from err


def _kinds(services: Services, language: str) -> list[str]:
    """The kinds ``language`` is written in here; 404 when it is not offered."""
    offered = services.pipeline.renderer.language(language)
    if offered is None:
        raise ConsoleRefusal(404, "This language is not offered.")
    return offered.kinds


def _message(services: Services, language: str, kind: str, variant: str) -> None:
    if kind not in _kinds(services, language) or variant not in VARIANTS:
        raise ConsoleRefusal(404, "There is no such message in this language.")


def shipped_sample(kind: str, language: str, variant: str) -> str:
    """The shipped text of a message, said with the sample facts."""
    return render_message(kind, language, variant, sample_facts(kind, language)).text


# -- one language: every message and the review -----------------------------------------


def _overview(
    visit: Visit,
    services: Services,
    db_session: Session,
    clinic: Clinic,
    language: str,
    **extra: Any,
) -> Response:
    caller = caller_of(visit)
    newest = newest_versions(db_session, clinic.id, language)
    messages = [
        {
            "kind": kind,
            "kind_label": KIND_LABELS[kind],
            "variant": variant,
            "variant_label": VARIANT_LABELS[variant],
            "version": newest.get((kind, variant)),
            "text": newest[(kind, variant)].text
            if (kind, variant) in newest
            else shipped_sample(kind, language, variant),
        }
        for kind in _kinds(services, language)
        for variant in VARIANTS
    ]
    audit(db_session, caller.id, "wording.read", "clinic", clinic.id, {"language": language})
    db_session.commit()
    errors: dict[str, str] = extra.pop("errors", {})
    context = {
        "title": f"Wording of {clinic.display_name}",
        "clinic": clinic,
        "language": language,
        "language_options": language_options(services),
        "messages": messages,
        "version": wording_hash(db_session, clinic.id, language),
        "review": review_of(db_session, clinic.id, language),
        "reviewed": is_reviewed(db_session, clinic.id, language),
        "may_review": caller.role in REVIEW_ROLES,
        "errors": errors,
        "reviewer": "",
        "reviewed_now": visit.request.query_params.get("reviewed") == "1",
        **extra,
    }
    status_code: int = context.pop("status_code", 422 if errors else 200)
    return visit.page("wording.html", context, status_code=status_code)


@router.get("/clinics/{clinic_id}/wording", name="clinic_wording", response_class=HTMLResponse)
def wording_page(
    visit: StaffVisit,
    services: ServicesDep,
    db_session: SessionDep,
    clinic_id: str,
    language: Annotated[str, Query()] = "",
) -> Response:
    clinic = _clinic(db_session, clinic_id)
    if not language:  # the clinic's default, if this installation speaks it
        offered = [code for code, _ in language_options(services)]
        language = clinic.default_language if clinic.default_language in offered else offered[0]
    return _overview(visit, services, db_session, clinic, language)


@router.post(
    "/clinics/{clinic_id}/wording/review", name="clinic_wording_review", response_class=HTMLResponse
)
def review_wording(
    visit: CheckedVisit,
    services: ServicesDep,
    db_session: SessionDep,
    clinic_id: str,
    language: Annotated[str, Form()],
    version: Annotated[str, Form()] = "",
    reviewer: Annotated[str, Form()] = "",
) -> Response:
    """Sign the wording in use, as ``POST /v1/clinics/{id}/wording/{language}/reviews``."""
    caller = caller_of(visit)
    if caller.role not in REVIEW_ROLES:
        raise ConsoleRefusal(403, "Only a reviewer or an admin may mark wording reviewed.")
    clinic = _clinic(db_session, clinic_id)
    _kinds(services, language)
    try:
        body = ReviewIn.model_validate({"reviewer": reviewer, "version": version})
        now = services.pipeline.clock.now()
        sign_clinic_wording(
            db_session, caller, clinic.id, language, body.version, body.reviewer, now
        )
    except ValidationError as err:
        problem = validation_problem_from(err.errors())
        # The version is the page's own hidden field: a bad one means the page is stale.
        first = problem.errors[0]
        stale = "this page is out of date: show it again, then mark it reviewed"
        errors = {"reviewer": first.message if first.field == "reviewer" else stale}
        return _overview(
            visit, services, db_session, clinic, language, errors=errors, reviewer=reviewer
        )
    except Problem as err:  # the wording changed since the page was read
        db_session.rollback()
        errors = {"reviewer": f"{err.detail} Read it again, then mark it reviewed."}
        return _overview(
            visit,
            services,
            db_session,
            clinic,
            language,
            errors=errors,
            reviewer=reviewer,
            status_code=err.status,
        )
    db_session.commit()
    url = visit.request.url_for("clinic_wording", clinic_id=clinic.id)
    return visit.redirect(str(url.include_query_params(language=language, reviewed=1)))


# -- one message: its versions, a new one, hearing one ---------------------------------


def _message_page(
    visit: Visit,
    services: Services,
    db_session: Session,
    clinic: Clinic,
    key: tuple[str, str, str],
    **extra: Any,
) -> Response:
    language, kind, variant = key
    versions = list_versions(db_session, clinic.id, (kind, variant), language)
    errors: dict[str, str] = extra.pop("errors", {})
    in_use = versions[-1] if versions else None
    context = {
        "title": f"{KIND_LABELS[kind]}, {VARIANT_LABELS[variant].lower()}: {clinic.display_name}",
        "clinic": clinic,
        "language": language,
        "kind": kind,
        "variant": variant,
        "in_use": in_use,
        "shipped_text": shipped_sample(kind, language, variant),
        "versions": list(reversed(versions)),
        "slots": [(slot, SLOT_HINTS[slot]) for slot in slots_for(kind, variant)],
        "errors": errors,
        "text": in_use.text if in_use else "",
        "saved": visit.request.query_params.get("saved"),
        "heard": None,
        **extra,
    }
    status_code: int = context.pop("status_code", 422 if errors else 200)
    return visit.page("wording_message.html", context, status_code=status_code)


MESSAGE_PATH = "/clinics/{clinic_id}/wording/{language}/{kind}/{variant}"


@router.get(MESSAGE_PATH, name="wording_message", response_class=HTMLResponse)
def message_page(
    visit: StaffVisit,
    services: ServicesDep,
    db_session: SessionDep,
    clinic_id: str,
    language: str,
    kind: str,
    variant: str,
) -> Response:
    caller = caller_of(visit)
    clinic = _clinic(db_session, clinic_id)
    _message(services, language, kind, variant)
    audit(db_session, caller.id, "wording.read", "clinic", clinic.id, {"language": language})
    db_session.commit()
    return _message_page(visit, services, db_session, clinic, (language, kind, variant))


@router.post(MESSAGE_PATH, response_class=HTMLResponse)
def save_message(
    visit: CheckedVisit,
    services: ServicesDep,
    db_session: SessionDep,
    clinic_id: str,
    language: str,
    kind: str,
    variant: str,
    text: Annotated[str, Form()] = "",
) -> Response:
    """Save the next version once every gate passes; a failing gate is shown on the text."""
    caller = caller_of(visit)
    clinic = _clinic(db_session, clinic_id)
    _message(services, language, kind, variant)
    key = (language, kind, variant)
    try:
        body = WordingIn.model_validate({"text": text})
        renderer = services.pipeline.renderer
        version = save_wording(
            db_session, caller, renderer, clinic.id, (kind, variant), language, body.text
        )
    except ValidationError as err:
        problem = validation_problem_from(err.errors())
        errors = {"text": "; ".join(error.message for error in problem.errors)}
        return _message_page(visit, services, db_session, clinic, key, errors=errors, text=text)
    except ValidationProblem as problem:  # a gate failed: nothing was written
        errors = {"text": "; ".join(error.message for error in problem.errors)}
        return _message_page(visit, services, db_session, clinic, key, errors=errors, text=text)
    except Problem as err:  # saved by someone else at the same moment
        db_session.rollback()
        errors = {"text": err.detail}
        return _message_page(
            visit, services, db_session, clinic, key, errors=errors, text=text, status_code=409
        )
    db_session.commit()
    url = visit.request.url_for(
        "wording_message", clinic_id=clinic.id, language=language, kind=kind, variant=variant
    )
    return visit.redirect(f"{url}?saved={version.number}")


@router.post(MESSAGE_PATH + "/hear", name="wording_hear", response_class=HTMLResponse)
def hear_message(
    visit: CheckedVisit,
    services: ServicesDep,
    db_session: SessionDep,
    clinic_id: str,
    language: str,
    kind: str,
    variant: str,
    number: Annotated[int | None, Form()] = None,
) -> Response:
    """Hear a version (or the text in use) said with sample facts, as ``POST /v1/previews``
    with ``clinic.id`` and ``wording_version`` would say it."""
    caller = caller_of(visit)
    clinic = _clinic(db_session, clinic_id)
    _message(services, language, kind, variant)
    form = sample_form(PreviewForm(kind=kind, language=language, variant=variant, clinic=clinic.id))
    try:
        result = make_preview(db_session, caller, form.parse(number), services.pipeline)
    except ValidationProblem as problem:
        message = "; ".join(f"{error.field} {error.message}" for error in problem.errors)
        raise ConsoleRefusal(422, f"This version cannot be heard: {message}.") from problem
    audio = result.rendered.audio
    audio_url = services.links.audio_for_page(audio.key, audio.format.value, visit.request.url.path)
    heard = {"preview": result, "audio_url": audio_url, "number": number}
    key = (language, kind, variant)
    return _message_page(visit, services, db_session, clinic, key, heard=heard)
