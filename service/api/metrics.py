"""``GET /metrics`` for Prometheus, and the middleware that counts and times every request.

Requests are labelled by their route's template (``/v1/reminders/{reminder_id}``), never
by the path they came with, so no id or signed token becomes a label. The endpoint is
open unless ``TELLWELL_METRICS_TOKEN`` is set; it serves aggregates only, never PHI.
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.deps import ServicesDep
from service.errors import Problem
from service.metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS, UNMATCHED_ROUTE, api_scrape

METRICS_PATH = "/metrics"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Any other method is labelled ``OTHER``: a label must not take whatever a client sends."""

router = APIRouter()
_bearer = HTTPBearer(auto_error=False)


async def _scraper(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    token = services.settings.metrics_token.get_secret_value()
    if not token:
        return
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise Problem(
            401,
            "Unauthorized",
            "Send the metrics token as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.get(METRICS_PATH, include_in_schema=False, dependencies=[Depends(_scraper)])
async def metrics(services: ServicesDep) -> Response:
    scrape = api_scrape(services.db, services.pipeline.queue, services.pipeline.clock)
    # The record gauges query the database and Redis: off the event loop.
    body = await run_in_threadpool(generate_latest, scrape)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class RequestMetrics:
    """Counts every HTTP request by method, route template and status, and times it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "OTHER"
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_REQUEST_SECONDS.labels(method, route).observe(time.perf_counter() - started)


def install(app: FastAPI) -> None:
    """Serve ``/metrics`` and measure every request, including those refused early."""
    app.include_router(router)
    app.add_middleware(RequestMetrics)
