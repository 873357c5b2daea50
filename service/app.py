"""The FastAPI application: routes, error handling and the process's long-lived parts.

The lifespan makes the database, the queue, the renderer and the channels once; on the
embedded defaults it also runs the sweeper, so one process is the whole service; with
``TELLWELL_MLLP_PORT`` it also runs the HL7 MLLP listener (docs/hl7.md).
"""

from __future__ import annotations

import logging
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
    worklist,
)
from service.api import audit as audit_api
from service.clock import SYSTEM_CLOCK, Clock
from service.config import Settings, get_settings
from service.db import Database
from service.deps import Services
from service.errors import BodySizeLimit, install_problem_handlers
from service.intake.fhir import routes as fhir
from service.intake.hl7.group import storing_handler
from service.intake.hl7.listener import MllpListener
from service.rate_limits import RateLimiter
from service.security import KeyRing
from workers import jobs
from workers.pipeline import Pipeline
from workers.sweeper import SweeperThread

log = logging.getLogger(__name__)


async def _start_mllp(settings: Settings, pipeline: Pipeline) -> MllpListener | None:
    """With ``TELLWELL_MLLP_PORT``, the HL7 listener storing into this process's pipeline."""
    if settings.mllp_port is None:
        return None
    handler = storing_handler(pipeline)
    listener = MllpListener(handler.handle)
    host, port = await listener.start(settings.mllp_host, settings.mllp_port)
    log.info("mllp: listening on %s:%d", host, port)
    return listener


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
        mllp = await _start_mllp(settings, pipeline)
        try:
            yield
        finally:
            if mllp:
                await mllp.close()
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
    app.include_router(worklist.router)
    console.install(app, settings, clock)
    fhir.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    metrics.install(app)
    return app
