"""``/v1/previews``: staff hear exactly what a patient would, and nothing is delivered."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import ServicesDep, SessionDep, Staff
from service.models import audit
from service.reminders import check_message
from service.schemas import PreviewOut, PreviewRequest
from voices import AudioFormat
from workers.pipeline import store_audio
from workers.rendering import VARIANT_FOR_CHANNEL

router = APIRouter(prefix="/v1/previews", tags=["previews"])


@router.post("", response_model=PreviewOut)
def post_preview(
    body: PreviewRequest,
    caller: Staff,
    session: SessionDep,
    services: ServicesDep,
) -> PreviewOut:
    renderer = services.pipeline.renderer
    check_message(body, renderer, need_contact=False)
    variant = body.variant or VARIANT_FOR_CHANNEL[body.channel]
    rendered = renderer.render(body.kind, body.language, variant, body.facts(), AudioFormat.PREVIEW)
    audio = rendered.audio
    store_audio(session, audio)
    audit(session, caller.id, "preview.render", "audio", audio.key)
    session.commit()
    language = renderer.language(body.language)
    return PreviewOut(
        text=rendered.message.text,
        variant=variant,
        language=body.language,
        engine=audio.engine,
        voice=audio.voice,
        duration_s=audio.duration_s,
        reading_grade=renderer.reading_grade(rendered.message),
        reviewed=bool(language and language.reviewed),
        audio_url=services.links.audio(services.audio_links.token(audio.key, audio.format.value)),
    )
