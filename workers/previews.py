"""Previews: the one way staff hear a message before it goes out, for the API and the console.

A preview renders through the render job's own entry point (``Renderer.render``) and
stores the audio as the job does (``store_audio``), so staff hear exactly what the patient
will; it records in the audit log which key asked.
Nothing is delivered and no reminder is written. The warnings tell staff what to fix
before a patient hears it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from service.call_policy import CALL_MESSAGE_MAX_S
from service.clinics import resolve_clinic
from service.models import audit
from service.reminders import check_message
from service.schemas import PreviewRequest
from service.security import Caller
from templates import voicemail_findings
from voices import AudioFormat
from workers.pipeline import Pipeline, store_audio
from workers.rendering import VARIANT_FOR_CHANNEL, RenderedMessage, message_facts

READING_GRADE_MAX = 6.0
"""Plain language for patients: no harder than US school grade 6."""


@dataclass(frozen=True)
class Preview:
    rendered: RenderedMessage
    variant: str
    language: str
    reading_grade: float | None
    reviewed: bool
    warnings: list[str]


def make_preview(
    session: Session, caller: Caller, request: PreviewRequest, pipeline: Pipeline
) -> Preview:
    """Render ``request`` as the patient would hear it; commits the audio and the audit entry.

    Raises ``ValidationProblem`` for facts the templates or the configuration refuse
    (a clinic by id is filled from its record first, as for a reminder).
    """
    renderer = pipeline.renderer
    resolve_clinic(session, caller, request)
    check_message(request, renderer.offered_kinds, need_contact=False)
    variant = request.variant or VARIANT_FOR_CHANNEL[request.channel]
    facts = request.facts()
    rendered = renderer.render(request.kind, request.language, variant, facts, AudioFormat.PREVIEW)
    audio = rendered.audio
    store_audio(session, audio)
    audit(session, caller.id, "preview.render", "audio", audio.key)
    session.commit()
    language = renderer.language(request.language)
    grade = renderer.reading_grade(rendered.message)
    warnings: list[str] = []
    if audio.duration_s > CALL_MESSAGE_MAX_S:
        warnings.append(
            f"The message lasts {audio.duration_s:.0f} s, over {CALL_MESSAGE_MAX_S:.0f} s: "
            "shorten it."
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
        language=request.language,
        reading_grade=grade,
        reviewed=bool(language and language.reviewed),
        warnings=warnings,
    )
