"""``/listen/{token}``: the patient's accessible page for one message.

Server-rendered, with no front-end build: the transcript and the browser's own ``<audio
controls>`` work without JavaScript; a small script adds a large play/pause button. The
token is signed and expires, and names the reminder by its opaque id only, so the URL
carries no PHI. The page is never cached and sends no referrer, so the token leaks nowhere.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from service.deps import ServicesDep, SessionDep
from service.errors import Problem
from service.links import LinkError
from service.models import Reminder, audit

router = APIRouter(tags=["pages"])
templates = Jinja2Templates(directory=Path(__file__).parent)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}
UNAVAILABLE = {
    403: "This link has expired or is not valid. Please ask your clinic for a new one.",
    410: "This message is no longer available. Please ask your clinic for a new one.",
}


@router.get("/listen/{token}", response_class=HTMLResponse, include_in_schema=False)
def listen(
    token: str, request: Request, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    try:
        reminder_id = services.links.open_listen(token)
    except LinkError:
        return unavailable(request, 403)
    reminder = session.get(Reminder, reminder_id)
    asset = reminder.audio if reminder is not None else None
    if reminder is None or asset is None or asset.purged_at is not None:
        return unavailable(request, 410)
    audit(session, None, "listen.read", "reminder", reminder.id)
    session.commit()
    return templates.TemplateResponse(
        request,
        "listen.html",
        {
            "language": reminder.language,
            "transcript": reminder.message_text or "",
            "audio_url": services.links.audio_for_page(asset.key, asset.format, request.url.path),
            "audio_media_type": asset.media_type,
        },
        headers=PAGE_HEADERS,
    )


@router.post("/listen/{token}/ended", status_code=204, include_in_schema=False)
def listened(token: str, session: SessionDep, services: ServicesDep) -> Response:
    """The page played the message to the end (its ``ended`` event): a real answer, so
    the reminder's escalation stops. The page's own token is the only credential."""
    try:
        reminder_id = services.links.open_listen(token)
    except LinkError:
        raise Problem(403, "Forbidden", "This link has expired or is not valid.") from None
    if session.get(Reminder, reminder_id) is None:
        raise Problem(410, "Gone", "This message is no longer available.")
    services.pipeline.answered(session, reminder_id, "listened to the end on the listen page")
    audit(session, None, "listen.ended", "reminder", reminder_id)
    session.commit()
    return Response(status_code=204)


def unavailable(request: Request, status_code: int) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "listen.html",
        {"language": "en", "problem": UNAVAILABLE[status_code]},
        status_code=status_code,
        headers=PAGE_HEADERS,
    )
