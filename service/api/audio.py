"""``/v1/audio/{token}``: rendered audio behind a signed, expiring link.

The token names the audio by its content hash only, so a link says nothing about the
patient. Responses are never cached by browsers or proxies.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from service.api.responses import AUDIO_RANGE_HEADER, AUDIO_RESPONSES, AudioFileResponse
from service.deps import ServicesDep, SessionDep
from service.errors import Problem
from service.links import LinkError
from service.models import AudioAsset, audit

router = APIRouter(prefix="/v1/audio", tags=["audio"])


@router.get(
    "/{token}",
    operation_id="get_audio",
    response_class=AudioFileResponse,
    responses=AUDIO_RESPONSES,
    openapi_extra={"parameters": [AUDIO_RANGE_HEADER]},
)
def get_audio(token: str, session: SessionDep, services: ServicesDep) -> AudioFileResponse:
    try:
        audio_key, audio_format = services.links.open_audio(token)
    except LinkError as err:
        raise Problem(403, "Forbidden", f"This audio link is {err}.", slug="audio-link") from err
    asset = session.get(AudioAsset, (audio_key, audio_format))
    path = Path(asset.path) if asset is not None else None
    if asset is None or asset.purged_at is not None or path is None or not path.exists():
        raise Problem(410, "Gone", "This audio has been deleted.", slug="audio-gone")
    audit(session, None, "audio.read", "audio", audio_key)
    session.commit()
    return AudioFileResponse(
        path,
        media_type=asset.media_type,
        headers={"Cache-Control": "no-store"},
        content_disposition_type="inline",
    )
