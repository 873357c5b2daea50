"""The console's pronunciation page: staff type a word and how to say it, hear both through
the language's own voice, and only then save it to the clinic's lexicon.

The same rules as ``/v1/clinics/{clinic_id}/lexicon`` (``service.clinic_words``,
``workers.clinic_words.audition``); the audio is reached by signed links relative to the
page, as the preview's is.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from service.clinic_words import delete_lexicon_entry, lexicon_rows, put_lexicon_entry
from service.clinics import find_clinic
from service.console.forms import field_errors
from service.console.routes import (
    CheckedVisit,
    ConsoleRefusal,
    StaffVisit,
    Visit,
    caller_of,
    clinic_options,
    language_options,
)
from service.deps import Services, ServicesDep, SessionDep
from service.errors import Problem, validation_problem_from
from service.models import audit
from service.schemas import LexiconEntryIn
from workers.clinic_words import audition

router = APIRouter(prefix="/console", include_in_schema=False)


def _show(
    visit: Visit,
    services: Services,
    db_session: Session,
    clinic: str,
    language: str,
    **extra: Any,
) -> Response:
    clinics = clinic_options(db_session)
    languages = language_options(services)
    errors: dict[str, str] = extra.pop("errors", {})
    status_code: int = extra.pop("status_code", 422 if errors else 200)
    clinic = clinic or (clinics[0][0] if clinics else "")
    language = language or (languages[0][0] if languages else "")
    entries = []
    if find_clinic(db_session, clinic) is not None and services.pipeline.renderer.language(
        language
    ):
        entries = lexicon_rows(db_session, clinic, language)
    context = {
        "title": "Pronunciations",
        "clinic_options": clinics,
        "language_options": languages,
        "clinic": clinic,
        "language": language,
        "entries": entries,
        "errors": errors,
        "written": "",
        "spoken": "",
        "match_case": False,
        "audition": None,
        "saved": None,
        **extra,
    }
    return visit.page("lexicon.html", context, status_code=status_code)


def _chosen(services: Services, db_session: Session, clinic: str, language: str) -> None:
    if find_clinic(db_session, clinic) is None:
        raise ConsoleRefusal(404, "There is no such clinic.")
    if services.pipeline.renderer.language(language) is None:
        raise ConsoleRefusal(404, "This language is not offered.")


@router.get("/lexicon", name="lexicon", response_class=HTMLResponse)
def lexicon_page(
    visit: StaffVisit,
    services: ServicesDep,
    db_session: SessionDep,
    clinic: Annotated[str, Query()] = "",
    language: Annotated[str, Query()] = "",
) -> Response:
    return _show(visit, services, db_session, clinic, language)


@router.post("/lexicon", response_class=HTMLResponse)
def lexicon_post(
    visit: CheckedVisit,
    services: ServicesDep,
    db_session: SessionDep,
    clinic: Annotated[str, Form()],
    language: Annotated[str, Form()],
    written: Annotated[str, Form()] = "",
    spoken: Annotated[str, Form()] = "",
    match_case: Annotated[bool, Form()] = False,
    action: Annotated[str, Form()] = "audition",
) -> Response:
    """``audition``: hear both, nothing saved; ``save``: store the entry."""
    caller = caller_of(visit)
    _chosen(services, db_session, clinic, language)
    typed = {"written": written, "spoken": spoken, "match_case": match_case}
    try:
        entry = LexiconEntryIn.model_validate(typed)
    except ValidationError as err:
        problem = validation_problem_from(err.errors())
        return _show(
            visit, services, db_session, clinic, language, errors=field_errors(problem), **typed
        )
    if action == "save":
        try:
            put_lexicon_entry(
                db_session, clinic, language, entry.written, entry.spoken, entry.match_case
            )
        except Problem as err:
            raise ConsoleRefusal(err.status, err.detail) from err
        audit(db_session, caller.id, "lexicon.update", "clinic", clinic, {"language": language})
        db_session.commit()
        return _show(visit, services, db_session, clinic, language, saved=entry.written)
    heard = audition(
        db_session, caller, services.pipeline, clinic, language, entry.written, entry.spoken
    )
    page = visit.request.url.path
    links = services.links
    urls = {
        name: links.audio_for_page(audio.key, audio.format.value, page)
        for name, audio in (("written", heard.written), ("spoken", heard.spoken))
    }
    return _show(
        visit,
        services,
        db_session,
        clinic,
        language,
        audition={"urls": urls, "written": heard.written, "spoken": heard.spoken},
        **typed,
    )


@router.post("/lexicon/delete", name="lexicon_delete", response_class=HTMLResponse)
def lexicon_delete(
    visit: CheckedVisit,
    services: ServicesDep,
    db_session: SessionDep,
    clinic: Annotated[str, Form()],
    language: Annotated[str, Form()],
    entry_id: Annotated[str, Form()],
) -> Response:
    caller = caller_of(visit)
    _chosen(services, db_session, clinic, language)
    try:
        delete_lexicon_entry(db_session, clinic, language, entry_id)
    except Problem as err:
        raise ConsoleRefusal(err.status, err.detail) from err
    detail = {"language": language, "entry": entry_id}
    audit(db_session, caller.id, "lexicon.delete", "clinic", clinic, detail)
    db_session.commit()
    url = visit.request.url_for("lexicon").include_query_params(clinic=clinic, language=language)
    return visit.redirect(str(url))
