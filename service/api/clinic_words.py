"""``/v1/clinics/{clinic_id}/lexicon`` and ``/wording``: a clinic's pronunciations and text.

Staff (and reviewers and admins) may edit both: saying a provider's name right and wording
a message for the clinic's patients is front-desk work. Every change is gated or checked
before anything is stored and written to the audit log under the caller's key; the words
themselves are not in the audit log (a lexicon entry may be a provider's name).
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from service.api.responses import AUTH, JSON_BODY, Responses, problem, problems
from service.clinic_words import (
    clinic_or_404,
    delete_lexicon_entry,
    find_version,
    is_reviewed,
    lexicon_rows,
    list_versions,
    newest_versions,
    put_lexicon_entry,
    review_of,
    sign_clinic_wording,
    wording_hash,
)
from service.deps import Reviewer, Services, ServicesDep, SessionDep, Staff
from service.errors import Problem
from service.models import ClinicLexiconEntry, WordingReview, WordingVersion, audit
from service.schemas import (
    AuditionIn,
    AuditionOut,
    ClinicWordingOut,
    Kind,
    LexiconEntryIn,
    LexiconEntryOut,
    LexiconOut,
    ReviewIn,
    ReviewOut,
    Sound,
    Variant,
    WordingIn,
    WordingVersionList,
    WordingVersionOut,
)
from voices import SpokenAudio
from workers.clinic_words import audition, save_wording

router = APIRouter(prefix="/v1/clinics/{clinic_id}", tags=["clinic words"])

NOT_FOUND: Responses = {404: problem(404, "No such clinic, language, message or entry.")}
CONFLICT: Responses = {
    409: problem(409, "Saved by someone else at the same moment; send it again.")
}


def offered_language(services: Services, language: str, kind: str | None = None) -> None:
    """404 unless the running configuration writes and speaks ``language`` (and ``kind``)."""
    offered = services.pipeline.renderer.language(language)
    if offered is None:
        raise Problem(
            404, "Not found", f"Language {language!r} is not offered.", slug="no-language"
        )
    if kind is not None and kind not in offered.kinds:
        raise Problem(
            404, "Not found", f"Kind {kind!r} is not written in {language!r}.", slug="no-kind"
        )


def entry_out(row: ClinicLexiconEntry) -> LexiconEntryOut:
    return LexiconEntryOut(
        id=row.id,
        written=row.written,
        spoken=row.spoken,
        match_case=row.match_case,
        updated_at=row.updated_at,
    )


def version_out(row: WordingVersion) -> WordingVersionOut:
    return WordingVersionOut.model_validate(  # validated: kind and variant are closed sets
        dict(
            id=row.id,
            clinic_id=row.clinic_id,
            kind=row.kind,
            language=row.language,
            variant=row.variant,
            number=row.number,
            text=row.text,
            created_at=row.created_at,
        )
    )


def review_out(row: WordingReview | None) -> ReviewOut | None:
    if row is None:
        return None
    return ReviewOut(
        reviewer=row.reviewer,
        reviewed_at=row.reviewed_at,
        version=row.wording_hash,
        clinic_id=row.clinic_id,
    )


def sound(services: Services, audio: SpokenAudio) -> Sound:
    return Sound.model_validate(  # validated: engine is a closed set
        dict(
            audio_url=services.links.audio(audio.key, audio.format.value),
            duration_s=audio.duration_s,
            engine=audio.engine,
            voice=audio.voice,
        )
    )


# -- lexicon ---------------------------------------------------------------------------


@router.get(
    "/lexicon/{language}",
    operation_id="list_clinic_lexicon",
    response_model=LexiconOut,
    responses=problems(*AUTH, specific=NOT_FOUND),
)
def get_lexicon(
    clinic_id: str, language: str, caller: Staff, session: SessionDep, services: ServicesDep
) -> LexiconOut:
    clinic = clinic_or_404(session, clinic_id)
    offered_language(services, language)
    entries = [entry_out(row) for row in lexicon_rows(session, clinic.id, language)]
    audit(session, caller.id, "lexicon.read", "clinic", clinic.id, {"language": language})
    return LexiconOut(clinic_id=clinic.id, language=language, entries=entries)


@router.put(
    "/lexicon/{language}",
    operation_id="put_clinic_lexicon_entry",
    response_model=LexiconEntryOut,
    status_code=200,
    responses={
        201: {"description": "A new entry.", "model": LexiconEntryOut},
        **problems(*AUTH, *JSON_BODY, specific={**NOT_FOUND, **CONFLICT}),
    },
)
def put_lexicon(
    clinic_id: str,
    language: str,
    body: LexiconEntryIn,
    caller: Staff,
    session: SessionDep,
    services: ServicesDep,
) -> JSONResponse:
    """Set how one written form is said (one entry per written form: a new one replaces)."""
    clinic = clinic_or_404(session, clinic_id)
    offered_language(services, language)
    row, created = put_lexicon_entry(
        session, clinic.id, language, body.written, body.spoken, body.match_case
    )
    action = "lexicon.create" if created else "lexicon.update"
    audit(session, caller.id, action, "clinic", clinic.id, {"language": language, "entry": row.id})
    session.commit()
    answer = entry_out(row).model_dump(mode="json")
    return JSONResponse(answer, status_code=201 if created else 200)


@router.delete(
    "/lexicon/{language}/{entry_id}",
    operation_id="delete_clinic_lexicon_entry",
    status_code=204,
    responses=problems(*AUTH, specific=NOT_FOUND),
)
def delete_lexicon(
    clinic_id: str,
    language: str,
    entry_id: str,
    caller: Staff,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    clinic = clinic_or_404(session, clinic_id)
    offered_language(services, language)
    delete_lexicon_entry(session, clinic.id, language, entry_id)
    audit(
        session,
        caller.id,
        "lexicon.delete",
        "clinic",
        clinic.id,
        {"language": language, "entry": entry_id},
    )
    session.commit()
    return Response(status_code=204)


@router.post(
    "/lexicon/{language}/audition",
    operation_id="audition_clinic_lexicon_entry",
    response_model=AuditionOut,
    responses=problems(*AUTH, *JSON_BODY, specific=NOT_FOUND),
)
def post_audition(
    clinic_id: str,
    language: str,
    body: AuditionIn,
    caller: Staff,
    session: SessionDep,
    services: ServicesDep,
) -> AuditionOut:
    """Hear the word as written and as it would be said, through the language's own voice.

    Nothing is saved but the audio (reached by a signed, expiring link) and an audit entry.
    """
    clinic = clinic_or_404(session, clinic_id)
    offered_language(services, language)
    heard = audition(
        session, caller, services.pipeline, clinic.id, language, body.written, body.spoken
    )
    return AuditionOut(written=sound(services, heard.written), spoken=sound(services, heard.spoken))


# -- wording ---------------------------------------------------------------------------


@router.get(
    "/wording/{language}",
    operation_id="get_clinic_wording",
    response_model=ClinicWordingOut,
    responses=problems(*AUTH, specific=NOT_FOUND),
)
def get_wording(
    clinic_id: str, language: str, caller: Staff, session: SessionDep, services: ServicesDep
) -> ClinicWordingOut:
    """The wording this clinic's patients hear in ``language`` now: its version and review."""
    clinic = clinic_or_404(session, clinic_id)
    offered_language(services, language)
    newest = newest_versions(session, clinic.id, language)
    audit(session, caller.id, "wording.read", "clinic", clinic.id, {"language": language})
    return ClinicWordingOut(
        clinic_id=clinic.id,
        language=language,
        version=wording_hash(session, clinic.id, language),
        reviewed=is_reviewed(session, clinic.id, language),
        review=review_out(review_of(session, clinic.id, language)),
        messages=[version_out(newest[key]) for key in sorted(newest)],
    )


@router.post(
    "/wording/{language}/{kind}/{variant}",
    operation_id="create_clinic_wording_version",
    response_model=WordingVersionOut,
    status_code=201,
    responses=problems(*AUTH, *JSON_BODY, specific={**NOT_FOUND, **CONFLICT}),
)
def post_wording(
    clinic_id: str,
    language: str,
    kind: Kind,
    variant: Variant,
    body: WordingIn,
    caller: Staff,
    session: SessionDep,
    services: ServicesDep,
) -> WordingVersionOut:
    """Save the next version, once it passes every gate; a failing gate is a 422 naming it.

    A new version is unreviewed: the language's wording for this clinic changed.
    """
    clinic = clinic_or_404(session, clinic_id)
    offered_language(services, language, kind)
    key = (kind.value, variant.value)
    renderer = services.pipeline.renderer
    version = save_wording(session, caller, renderer, clinic.id, key, language, body.text)
    session.commit()
    return version_out(version)


@router.get(
    "/wording/{language}/{kind}/{variant}",
    operation_id="list_clinic_wording_versions",
    response_model=WordingVersionList,
    responses=problems(*AUTH, 422, specific=NOT_FOUND),
)
def get_versions(
    clinic_id: str,
    language: str,
    kind: Kind,
    variant: Variant,
    caller: Staff,
    session: SessionDep,
    services: ServicesDep,
) -> WordingVersionList:
    """Every version, oldest first; the last is in use. Empty: the shipped text is used."""
    clinic = clinic_or_404(session, clinic_id)
    offered_language(services, language, kind)
    rows = list_versions(session, clinic.id, (kind, variant), language)
    audit(session, caller.id, "wording.read", "clinic", clinic.id, {"language": language})
    return WordingVersionList(items=[version_out(row) for row in rows])


@router.get(
    "/wording/{language}/{kind}/{variant}/{number}",
    operation_id="get_clinic_wording_version",
    response_model=WordingVersionOut,
    responses=problems(*AUTH, 422, specific=NOT_FOUND),
)
def get_version(
    clinic_id: str,
    language: str,
    kind: Kind,
    variant: Variant,
    number: int,
    caller: Staff,
    session: SessionDep,
    services: ServicesDep,
) -> WordingVersionOut:
    clinic = clinic_or_404(session, clinic_id)
    offered_language(services, language, kind)
    row = find_version(session, clinic.id, (kind, variant), language, number)
    if row is None:
        raise Problem(404, "Not found", f"There is no version {number}.", slug="no-version")
    audit(session, caller.id, "wording.read", "clinic", clinic.id, {"language": language})
    return version_out(row)


@router.post(
    "/wording/{language}/reviews",
    operation_id="review_clinic_wording",
    response_model=ReviewOut,
    status_code=201,
    responses=problems(
        *AUTH,
        *JSON_BODY,
        specific={
            **NOT_FOUND,
            409: problem(409, "The wording changed since that version was read."),
        },
    ),
)
def post_clinic_review(
    clinic_id: str,
    language: str,
    body: ReviewIn,
    caller: Reviewer,
    session: SessionDep,
    services: ServicesDep,
) -> ReviewOut:
    """A reviewer signs the version (``GET .../wording/{language}``) they read."""
    clinic = clinic_or_404(session, clinic_id)
    offered_language(services, language)
    now = services.pipeline.clock.now()
    row = sign_clinic_wording(
        session, caller, clinic.id, language, body.version, body.reviewer, now
    )
    session.commit()
    review = review_out(row)
    assert review is not None
    return review
