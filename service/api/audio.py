"""``/v1/audio/{token}``: rendered audio behind a signed, expiring link.

The token names the audio by its content hash only, so a link says nothing about the
patient. Responses are never cached by browsers or proxies. The bytes come from the audio
store (``service/audio_store.py``): local files are sent as files, audio in a shared store
(database, S3) is read there, a Range cut by the store itself.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from service.api.responses import AUDIO_RANGE_HEADER, AUDIO_RESPONSES, AudioFileResponse
from service.audio_store import AudioStore, LocalAudioStore
from service.deps import ServicesDep, SessionDep
from service.errors import Problem
from service.links import LinkError
from service.models import AudioAsset, audit

router = APIRouter(prefix="/v1/audio", tags=["audio"])

AUDIO_HEADERS = {"Cache-Control": "no-store"}


def _gone() -> Problem:
    return Problem(410, "Gone", "This audio has been deleted.", slug="audio-gone")


@router.get(
    "/{token}",
    operation_id="get_audio",
    response_class=AudioFileResponse,
    responses=AUDIO_RESPONSES,
    openapi_extra={"parameters": [AUDIO_RANGE_HEADER]},
)
def get_audio(token: str, request: Request, session: SessionDep, services: ServicesDep) -> Response:
    try:
        audio_key, audio_format = services.links.open_audio(token)
    except LinkError as err:
        raise Problem(403, "Forbidden", f"This audio link is {err}.", slug="audio-link") from err
    asset = session.get(AudioAsset, (audio_key, audio_format))
    store = services.pipeline.audio_store
    size = store.size(audio_key, audio_format) if asset is not None else None
    if asset is None or asset.purged_at is not None or size is None:
        raise _gone()
    audit(session, None, "audio.read", "audio", audio_key)
    session.commit()
    if isinstance(store, LocalAudioStore):
        return AudioFileResponse(
            store.path(audio_key, audio_format),
            media_type=asset.media_type,
            headers=AUDIO_HEADERS,
            content_disposition_type="inline",
        )
    return _stored_audio(store, audio_key, audio_format, size, asset.media_type, request)


def _stored_audio(
    store: AudioStore, key: str, fmt: str, size: int, media_type: str, request: Request
) -> Response:
    """The audio, or the one byte range asked for, read from a shared store. Several
    ranges at once get the whole file (RFC 9110 lets a server ignore ``Range``)."""
    headers = {**AUDIO_HEADERS, "Accept-Ranges": "bytes", "Content-Disposition": "inline"}
    wanted = request.headers.get("range")
    ranges = AudioFileResponse._parse_range_header(wanted, size) if wanted else []
    if len(ranges) == 1:
        start, end = ranges[0]
        part = store.read(key, fmt, start, end)
        if len(part) != end - start:
            raise _gone()  # deleted between the size and the read
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        return Response(part, status_code=206, headers=headers, media_type=media_type)
    whole = store.read(key, fmt)
    if len(whole) != size:
        raise _gone()
    return Response(whole, headers=headers, media_type=media_type)
