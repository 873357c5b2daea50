"""Previews: the one way staff hear a message before it goes out, for the API and the console.

A preview renders through the render job's own entry point (``Renderer.render``) and
stores the audio as the job does (``store_audio``), so staff hear exactly what the patient
will; it records in the audit log which key asked.
Nothing is delivered and no reminder is written. The warnings tell staff what to fix
before a patient hears it.

With ``clinic.id`` the preview uses the clinic's words (lexicon and wording) as a reminder
from that clinic would, or a chosen older version (``wording_version``); when the clinic
requires reviewed wording and the language's is not, the preview speaks the clinic's
default language and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from service.clinic_words import ClinicWords, find_version, is_reviewed, words_for
from service.clinics import resolve_clinic
from service.errors import FieldError, ValidationProblem
from service.models import WordingVersion, audit
from service.reminders import OTHER_LANGUAGE_REFUSED, check_message, other_language_text
from service.schemas import PreviewRequest
from service.security import Caller
from templates import READING_GRADE_MAX, voicemail_findings
from voices import AudioFormat
from workers.pipeline import Pipeline, store_audio
from workers.rendering import VARIANT_FOR_CHANNEL, RenderedMessage, message_facts


@dataclass(frozen=True)
class Preview:
    rendered: RenderedMessage
    variant: str
    language: str
    reading_grade: float | None
    reviewed: bool
    warnings: list[str]
    wording_version: int | None = None


def make_preview(
    session: Session, caller: Caller, request: PreviewRequest, pipeline: Pipeline
) -> Preview:
    """Render ``request`` as the patient would hear it; commits the audio and the audit entry.

    Raises ``ValidationProblem`` for facts the templates or the configuration refuse
    (a clinic by id is filled from its record first, as for a reminder).
    """
    renderer = pipeline.renderer
    clinic = resolve_clinic(session, caller, request)
    check_message(request, renderer.offered_kinds, need_contact=False)
    variant = request.variant or VARIANT_FOR_CHANNEL[request.channel]
    words = clinic_words(session, request, variant)
    refused = clinic is not None and clinic.refuse_other_language_text
    other_language = other_language_text(request, words.language, refuse=False)
    facts = request.facts()
    rendered = renderer.render(
        request.kind,
        words.language,
        variant,
        facts,
        AudioFormat.PREVIEW,
        words,
        today=pipeline.clock.now(),
    )
    audio = rendered.audio
    store_audio(session, audio, pipeline.audio_store)
    audit(session, caller.id, "preview.render", "audio", audio.key)
    reviewed = is_reviewed(session, request.clinic_id, words.language)
    session.commit()
    language = renderer.language(words.language)
    grade = renderer.reading_grade(rendered.message)
    warnings = list(other_language)
    if other_language and refused:
        warnings.append(f"This clinic refuses such reminders: {OTHER_LANGUAGE_REFUSED}.")
    if words.fell_back_from:
        warnings.append(
            f"The clinic speaks only reviewed wording, and the {words.fell_back_from} wording "
            f"is not reviewed: the patient hears the clinic's default language, {words.language}."
        )
    limit_s = rendered.profile.hearing_max_s
    if rendered.hearing_s > limit_s:
        warnings.append(
            f"The message lasts {rendered.hearing_s:.0f} s, over {limit_s:.0f} s: shorten it."
        )
    if grade is not None and grade > READING_GRADE_MAX:
        warnings.append(
            f"Reading grade {grade:.1f} is above {READING_GRADE_MAX:.0f}: use simpler words."
        )
    if variant == "voicemail":
        findings = voicemail_findings(rendered.message, message_facts(facts))
        warnings.extend(f"Voicemail: {finding}." for finding in findings)
    # The voices layer reports when it spoke with a fallback engine (an online voice that
    # timed out); staff must know the patient would hear another voice.
    if audio.fallback_from:
        warnings.append(
            f"Spoken by the fallback engine ({audio.engine}), not {audio.fallback_from}."
        )
    return Preview(
        rendered=rendered,
        variant=variant,
        language=words.language,
        reading_grade=grade,
        reviewed=reviewed or bool(language and language.reviewed),
        warnings=warnings,
        wording_version=rendered.wording.number if rendered.wording else None,
    )


def clinic_words(session: Session, request: PreviewRequest, variant: str) -> ClinicWords:
    """The words a reminder from the clinic would use, or the pinned ``wording_version``."""
    clinic_id = request.clinic_id  # known to exist: resolve_clinic checked it
    pinned: WordingVersion | None = None
    if request.wording_version is not None:
        if clinic_id is None:
            raise ValidationProblem([FieldError("wording_version", "needs clinic.id")])
        key = (request.kind.value, variant)
        pinned = find_version(session, clinic_id, key, request.language, request.wording_version)
        if pinned is None:
            raise ValidationProblem(
                [FieldError("wording_version", "is not a version of this message's wording")]
            )
    return words_for(session, clinic_id, request.language, pinned=pinned)
