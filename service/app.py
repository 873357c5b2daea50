"""The FastAPI application: routes, error handling and the process's long-lived parts.

The lifespan makes the database, the queue, the renderer and the channels once; on the
embedded defaults it also runs the sweeper, so one process is the whole service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service import console, listen
from service.api import (
    appointments,
    audio,
    clinic_words,
    clinics,
    docs,
    health,
    languages,
    metrics,
    opt_outs,
    patients,
    previews,
    reminders,
    twilio,
)
from service.api import audit as audit_api
from service.clock import SYSTEM_CLOCK, Clock
from service.config import Settings, get_settings
from service.db import Database
from service.deps import Services
from service.errors import BodySizeLimit, install_problem_handlers
from service.intake.fhir import routes as fhir
from service.rate_limits import RateLimiter
from service.security import KeyRing
from workers import jobs
from workers.sweeper import SweeperThread


def create_app(
    settings: Settings | None = None,
    *,
    run_sweeper: bool | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> FastAPI:
    """The app; ``run_sweeper`` defaults to on for the in-process queue, off with Redis."""
    settings = settings or get_settings()
    sweeper_wanted = (not settings.redis_url) if run_sweeper is None else run_sweeper

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database.from_settings(settings)
        pipeline = jobs.build_pipeline(settings, db, clock)
        jobs.install(pipeline)
        rate_limiter = RateLimiter.from_settings(
            settings.rate_limit_per_second,
            settings.rate_limit_burst,
            clock,
            settings.redis_url,
            namespace=settings.queue_name,
        )
        app.state.services = Services(
            settings=settings,
            db=db,
            pipeline=pipeline,
            key_ring=KeyRing(clock=clock.monotonic),
            rate_limiter=rate_limiter,
        )
        sweeper = SweeperThread(pipeline) if sweeper_wanted else None
        if sweeper:
            sweeper.start()
        try:
            yield
        finally:
            if sweeper:
                sweeper.stop()
            pipeline.queue.close()
            await rate_limiter.close()
            jobs.install(None)
            db.dispose()

    app = FastAPI(
        title="Tellwell",
        version="1",
        summary="Voice reminders and result notices, spoken in the patient's language.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    docs.install(app)
    install_problem_handlers(app)
    for module in (reminders, previews, languages, audio, health, twilio, opt_outs, listen):
        app.include_router(module.router)
    app.include_router(patients.router)
    app.include_router(audit_api.router)
    app.include_router(clinics.router)
    app.include_router(appointments.router)
    app.include_router(clinic_words.router)
    console.install(app, settings, clock)
    fhir.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    metrics.install(app)
    return app
