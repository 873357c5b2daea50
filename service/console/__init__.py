"""The staff console at ``/console/``: preview, listen to and follow every message.

Server-rendered pages (Jinja2), a stylesheet and no build step. ``install`` adds the
routes, the static files, the session cookie's codec and the session store to an app.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from service.clock import Clock
from service.config import Settings
from service.console import (
    appointments_page,
    audit_page,
    clinics_page,
    lexicon_page,
    wording_page,
    worklist_page,
)
from service.console.routes import ConsoleRefusal, router, show_refusal
from service.console.sessions import SessionCodec, SessionStore

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI, settings: Settings, clock: Clock) -> None:
    app.state.console_sessions = SessionCodec(
        settings.signing_key(),
        idle_s=settings.console_idle_timeout_s,
        https_only=settings.public_base_url.startswith("https://"),
    )
    app.state.console_session_store = SessionStore(
        clock, idle_s=settings.console_idle_timeout_s, max_s=settings.console_session_max_s
    )
    app.include_router(router)
    app.include_router(audit_page.router)
    app.include_router(clinics_page.router)
    app.include_router(appointments_page.router)
    app.include_router(lexicon_page.router)
    app.include_router(wording_page.router)
    app.include_router(worklist_page.router)
    app.add_exception_handler(ConsoleRefusal, show_refusal)
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console_static")
