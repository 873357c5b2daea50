"""``/listen/{token}``: the patient's accessible page for one message.

Server-rendered, with no front-end build: the transcript and the browser's own ``<audio
controls>`` work without JavaScript; a small script adds a large play/pause button. The
token is signed and expires, and names the reminder by its opaque id only, so the URL
carries no PHI. The page is never cached and sends no referrer, so the token leaks nowhere.

A follow-up's question (``service.follow_ups``) is answered here too, with one large
button per answer key, a plain form that needs no script: the app and the text's listen
link get the same answer a key on a call gives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from service.deps import ServicesDep, SessionDep
from service.errors import Problem
from service.follow_ups import answer_for, question_of, record_answer
from service.links import LinkError
from service.models import IN_THE_LOOP, Attempt, AudioAsset, Reminder, Status, audit
from templates import FOLLOW_UP_ANSWERS

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
    422: "That is not an answer to this question. Please go back and choose again.",
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
    text, asset = _message(reminder) if reminder is not None else ("", None)
    if reminder is None or asset is None or asset.purged_at is not None:
        return unavailable(request, 410)
    audit(session, None, "listen.read", "reminder", reminder.id)
    session.commit()
    return templates.TemplateResponse(
        request,
        "listen.html",
        {
            "language": reminder.language,
            "transcript": text,
            "audio_url": services.links.audio_for_page(asset.key, asset.format, request.url.path),
            "audio_media_type": asset.media_type,
            "answer_keys": _answer_keys(reminder),
            "answered": reminder.follow_up_answer is not None,
            "token": token,
        },
        headers=PAGE_HEADERS,
    )


def _message(reminder: Reminder) -> tuple[str, AudioAsset | None]:
    """The app variant (``Reminder.app_message``): a call's menu ("press 1...") cannot be
    acted on here. A call's reminder whose link predates its app variant shows the call."""
    app_message = reminder.app_message()
    if app_message is not None:
        return app_message
    return reminder.message_text or "", reminder.audio


ANSWERABLE = frozenset({Status.DELIVERED, *IN_THE_LOOP})
"""Where a follow-up can be answered on its page: delivered, or still in its loop. A
text's link opened is the text delivered, whether or not the carrier has said so yet
(many never do), so its patient is not told the question cannot be answered."""


def _answer_keys(reminder: Reminder) -> list[str]:
    """The keys an unanswered follow-up takes (``ANSWERABLE``); none for any other message."""
    if reminder.kind != "follow_up" or reminder.follow_up_answer is not None:
        return []
    if reminder.status not in ANSWERABLE:
        return []
    return sorted(FOLLOW_UP_ANSWERS.get(question_of(reminder), {}))


@router.post("/listen/{token}/answer", include_in_schema=False)
def answer(
    token: str,
    key: Annotated[str, Form(max_length=1)],
    request: Request,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """The follow-up answered on the page: recorded as a key on a call would be (the
    first answer wins), then back to the page, which thanks the patient."""
    try:
        reminder_id = services.links.open_listen(token)
    except LinkError:
        return unavailable(request, 403)
    reminder = session.get(Reminder, reminder_id)
    attempt = session.scalars(
        select(Attempt)
        .where(Attempt.reminder_id == reminder_id)
        .order_by(Attempt.started_at.desc())
    ).first()
    if reminder is None or attempt is None:
        return unavailable(request, 410)
    given = answer_for(question_of(reminder), key) if reminder.kind == "follow_up" else None
    if given is None:
        return unavailable(request, 422)
    if reminder.status in IN_THE_LOOP:
        # Reached, by the page's own link: delivered first, as a call's answer is.
        services.pipeline.answered(session, reminder_id, "opened on the listen page")
    if record_answer(session, reminder, attempt, given, services.pipeline.clock.now()):
        audit(session, None, "listen.answer", "reminder", reminder_id)
    session.commit()
    # Relative, so a path prefix in front of the service is kept (…/listen/<token>).
    return RedirectResponse(f"../{token}", status_code=303, headers=PAGE_HEADERS)


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
