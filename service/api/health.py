"""Health: ``/healthz`` says the process is up, ``/readyz`` that it can do its work."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.api.responses import problems
from service.db import Database
from service.deps import ServicesDep
from service.schemas import Health, Readiness, ReadinessChecks
from workers.queue import JobQueue

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz", response_model=Health, responses=problems())
def healthz() -> Health:
    return Health(status="ok")


def dependency_checks(db: Database, queue: JobQueue) -> dict[str, str]:
    """``ok`` or why not, for the database and the job queue (``/readyz``, ``tellwell check``)."""
    checks: dict[str, str] = {}
    for name, ping in (("database", db.ping), ("queue", queue.ping)):
        try:
            ping()
            checks[name] = "ok"
        except Exception as err:
            checks[name] = f"unreachable ({type(err).__name__})"
    return checks


@router.get(
    "/readyz",
    operation_id="readyz",
    response_model=Readiness,
    responses={
        503: {"model": Readiness, "description": "Not ready: `checks` says what is unreachable."},
        **problems(),
    },
)
def readyz(services: ServicesDep) -> JSONResponse:
    checks = dependency_checks(services.db, services.pipeline.queue)
    ready = all(v == "ok" for v in checks.values())
    readiness = Readiness(
        status="ok" if ready else "unavailable", checks=ReadinessChecks.model_validate(checks)
    )
    return JSONResponse(readiness.model_dump(mode="json"), status_code=200 if ready else 503)
