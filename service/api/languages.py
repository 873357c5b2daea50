"""``/v1/languages``: what the running configuration can both write and speak, who reviewed
the shipped wording of each, and the written languages it cannot speak, with the reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.clinic_words import offered_language, review_out
from service.api.responses import ANY_KEY, AUTH, JSON_BODY, problem, problems
from service.clinic_words import record_review, review_of
from service.deps import AnyCaller, Reviewer, ServicesDep, SessionDep
from service.models import audit
from service.schemas import LanguageOut, ReviewIn, ReviewOut
from templates import load_profile, shipped_wording_hash

router = APIRouter(prefix="/v1/languages", tags=["languages"])


@router.get(
    "",
    operation_id="list_languages",
    response_model=list[LanguageOut],
    responses=problems(*ANY_KEY, 422),
)
def get_languages(
    _caller: AnyCaller,
    services: ServicesDep,
    session: SessionDep,
    include_unavailable: Annotated[
        bool,
        Query(description="Also list the written languages this server cannot speak, and why."),
    ] = False,
) -> list[LanguageOut]:
    """The languages this server can write and speak; with ``include_unavailable``, also the
    written ones it cannot speak, and why."""
    # Opt-in: clients of the first contract rely on every listed code being requestable.
    answers = []
    for lang in services.pipeline.renderer.languages():
        review = review_of(session, None, lang.voice.code)
        answers.append(
            LanguageOut.model_validate(  # validated: engine and kinds are closed sets
                dict(
                    code=lang.voice.code,
                    name=lang.voice.name,
                    native_name=lang.voice.native_name,
                    engine=lang.voice.engine,
                    voice=lang.voice.voice,
                    reviewed=lang.reviewed or review is not None,
                    kinds=lang.kinds,
                    version=shipped_wording_hash(lang.voice.code),
                    review=review_out(review),
                )
            )
        )
    for silent in services.pipeline.renderer.unavailable() if include_unavailable else []:
        review = review_of(session, None, silent.code)
        profile = load_profile(silent.code)
        answers.append(
            LanguageOut(
                code=silent.code,
                name=silent.name,
                native_name=silent.native_name,
                engine=None,
                voice=None,
                reviewed=bool(profile and profile.reviewed) or review is not None,
                kinds=[],
                version=shipped_wording_hash(silent.code),
                review=review_out(review),
                available=False,
                unavailable_reason=silent.reason,
            )
        )
    return answers


@router.post(
    "/{language}/reviews",
    operation_id="review_language",
    response_model=ReviewOut,
    status_code=201,
    responses=problems(
        *AUTH,
        *JSON_BODY,
        specific={
            404: problem(404, "The language is not offered."),
            409: problem(409, "The shipped wording changed since that version was read."),
        },
    ),
)
def post_review(
    language: str, body: ReviewIn, caller: Reviewer, session: SessionDep, services: ServicesDep
) -> ReviewOut:
    """A reviewer signs the shipped wording of ``language`` at ``version`` (its hash)."""
    offered_language(services, language)
    now = services.pipeline.clock.now()
    row = record_review(session, caller, language, None, body.version, body.reviewer, now)
    audit(session, caller.id, "wording.review", "language", language, {"version": row.wording_hash})
    session.commit()
    review = review_out(row)
    assert review is not None
    return review
