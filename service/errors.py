"""Problem details (RFC 9457) for every error the API gives.

A caller always gets ``application/problem+json`` with ``type``, ``title``, ``status`` and
``detail``; validation problems add ``errors: [{field, message}]`` naming each bad field.

Exception tree::

    ServiceError                 root of everything the service raises on purpose
    └── Problem                  an HTTP problem the caller should see
        └── ValidationProblem    422 naming each bad field
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.db import DATABASE_UNREACHABLE

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://tellwell.dev/problems/"
DATABASE_RETRY_AFTER_S = 5
"""Retry-After of a 503 while the database is unreachable: a restart or failover is short."""

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """Root of the service's own exceptions."""


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class Problem(ServiceError):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.slug = slug or title.lower().replace(" ", "-")
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {
            "type": PROBLEM_TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }


class ValidationProblem(Problem):
    def __init__(self, errors: Sequence[FieldError], **extra: Any) -> None:
        fields = ", ".join(e.field for e in errors)
        super().__init__(
            422,
            "Invalid request",
            f"Please correct: {fields}.",
            slug="validation",
            errors=[{"field": e.field, "message": e.message} for e in errors],
            **extra,
        )


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.body(),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )


def _field_name(loc: Sequence[int | str]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _message(error: dict[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "is not a known field"
    if error["type"] == "missing":
        return "is required"
    if error["type"] == "json_invalid":
        return "is not valid JSON"
    return str(error["msg"]).removeprefix("Value error, ")


def validation_problem_from(exc: RequestValidationError) -> ValidationProblem:
    errors = [FieldError(_field_name(e["loc"]), _message(e)) for e in exc.errors()]
    return ValidationProblem(errors)


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(exc)

    async def on_validation(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(validation_problem_from(exc))

    async def on_http(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return problem_response(
            Problem(exc.status_code, title, str(exc.detail), headers=dict(exc.headers or {}))
        )

    async def on_unexpected(_request: Request, exc: Exception) -> Response:
        # Only the exception type reaches the log: its message may quote a patient's data.
        log.error("unhandled %s", type(exc).__name__)
        return problem_response(
            Problem(500, "Internal error", "Something went wrong on our side.", slug="internal")
        )

    async def on_database_unreachable(_request: Request, exc: Exception) -> Response:
        # The caller did nothing wrong and nothing was half-stored (the transaction rolled
        # back): a 503 with Retry-After tells a scheduling system to send it again.
        log.warning("database unreachable: %s", type(exc).__name__)
        return problem_response(
            Problem(
                503,
                "Service unavailable",
                "The database is not answering; please try again shortly.",
                slug="database-unavailable",
                headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
            )
        )

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    for unreachable in DATABASE_UNREACHABLE:
        app.add_exception_handler(unreachable, on_database_unreachable)
    app.add_exception_handler(Exception, on_unexpected)


class BodySizeLimit:
    """Refuses request bodies over a limit with a problem+json 413.

    Starlette's own limiter answers in plain text, which would break the error contract.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                too_large = True
                raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # Once over the limit, whatever the app answers (FastAPI turns the read error
            # into a 400) is dropped in favour of our 413.
            if not too_large:
                await send(message)

        with contextlib.suppress(_BodyTooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if too_large:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = Problem(
            413,
            "Request body too large",
            f"The request body is over the limit of {self.max_bytes} bytes.",
            slug="body-too-large",
        )
        await problem_response(problem)(scope, receive, send)


class _BodyTooLarge(Exception):
    pass
