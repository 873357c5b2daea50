"""Health: ``/healthz`` says the process is up, ``/readyz`` that it can do its work."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(services: ServicesDep) -> JSONResponse:
    checks: dict[str, str] = {}
    for name, ping in (("database", services.db.ping), ("queue", services.pipeline.queue.ping)):
        try:
            ping()
            checks[name] = "ok"
        except Exception as err:
            checks[name] = f"unreachable ({type(err).__name__})"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
