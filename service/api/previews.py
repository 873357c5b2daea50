"""``/v1/previews``: staff hear exactly what a patient would, and nothing is delivered."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from service.api.responses import AUTH, JSON_BODY, problems
from service.deps import ServicesDep, SessionDep, Staff
from service.schemas import PreviewOut, PreviewRequest
from workers.previews import make_preview

router = APIRouter(prefix="/v1/previews", tags=["previews"])


@router.post(
    "",
    operation_id="create_preview",
    response_model=PreviewOut,
    responses=problems(*AUTH, *JSON_BODY),
)
def post_preview(
    body: PreviewRequest,
    caller: Staff,
    session: SessionDep,
    services: ServicesDep,
) -> PreviewOut:
    preview = make_preview(session, caller, body, services.pipeline)
    audio = preview.rendered.audio
    return PreviewOut.model_validate(  # validated: variant and engine are closed sets
        dict(
            text=preview.rendered.message.text,
            variant=preview.variant,
            language=preview.language,
            engine=audio.engine,
            voice=audio.voice,
            duration_s=audio.duration_s,
            reading_grade=preview.reading_grade,
            reviewed=preview.reviewed,
            audio_url=services.links.audio(audio.key, audio.format.value),
            warnings=preview.warnings,
            wording_version=preview.wording_version,
            profile=asdict(preview.rendered.profile),
            hearing_s=preview.rendered.hearing_s,
        )
    )
