"""Problem details (RFC 9457) for every error the API gives.

A caller always gets ``application/problem+json`` with ``type``, ``title``, ``status``,
``detail`` and ``errors: [{field, message}]`` naming each bad field (empty when no field is
at fault). ``ProblemDetails`` is that body, and the OpenAPI document describes it as the
``Problem`` schema, so a generated client parses every error it can be given.

Exception tree::

    ServiceError                 root of everything the service raises on purpose
    └── Problem                  an HTTP problem the caller should see
        └── ValidationProblem    422 naming each bad field
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.dataclasses import dataclass
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.db import DATABASE_UNREACHABLE

if TYPE_CHECKING:  # FastAPI itself only where an app is built: a worker raises these too
    from fastapi import FastAPI, Request

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://tellwell.dev/problems/"
DATABASE_RETRY_AFTER_S = 5
"""Retry-After of a 503 while the database is unreachable: a restart or failover is short."""
PROBLEM_SCHEMA_NAME = "Problem"
COMPONENT_SCHEMAS = "#/components/schemas/"
PROBLEM_SCHEMA_REF = COMPONENT_SCHEMAS + PROBLEM_SCHEMA_NAME
JSON_MEDIA_TYPE = "application/json"

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """Root of the service's own exceptions."""


@dataclass(frozen=True)
class FieldError:
    """One bad field: its dotted path in the request (``patient.phone``) and what is wrong."""

    field: str
    message: str


class ProblemDetails(BaseModel):
    """The body of every error answer: RFC 9457 problem details plus ``errors``."""

    model_config = ConfigDict(title=PROBLEM_SCHEMA_NAME)

    type: str = Field(
        description="A URI naming the kind of problem.", json_schema_extra={"format": "uri"}
    )
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(ge=400, le=599, description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, and what to do.")
    errors: list[FieldError] = Field(
        description="Each bad field and what is wrong with it; empty when no field is at fault."
    )


class Problem(ServiceError):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
        errors: Sequence[FieldError] = (),
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.slug = slug or title.lower().replace(" ", "-")
        self.headers = headers or {}
        self.errors = list(errors)

    def body(self) -> dict[str, Any]:
        details = ProblemDetails(
            type=PROBLEM_TYPE_BASE + self.slug,
            title=self.title,
            status=self.status,
            detail=self.detail,
            errors=self.errors,
        )
        return details.model_dump(mode="json")


class ValidationProblem(Problem):
    def __init__(self, errors: Sequence[FieldError]) -> None:
        if len(errors) == 1:
            # "patient.phone is required", but "channel: Input should be 'phone' or 'app'".
            field, message = errors[0].field, errors[0].message
            detail = f"{field} {message}." if message[:1].islower() else f"{field}: {message}."
        else:
            detail = f"Please correct: {', '.join(e.field for e in errors)}."
        super().__init__(422, "Invalid request", detail, slug="validation", errors=errors)


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.body(),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )


SHAPE_TAG_MARK = "<shape>"
"""Marks a tagged union's branch name, which pydantic puts in an error's location."""


def shape_tag(name: str) -> str:
    """The tag of one shape of a tagged union (``schemas.ClinicChoice``): a location part
    that names which shape was read, not a field, so ``_field_name`` leaves it out."""
    return f"{SHAPE_TAG_MARK}{name}"


def _field_name(loc: Sequence[int | str]) -> str:
    parts = [str(p) for p in loc if not str(p).startswith(SHAPE_TAG_MARK)]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _message(error: dict[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "is not a known field"
    if error["type"] == "missing":
        return "is required"
    return str(error["msg"]).removeprefix("Value error, ")


def _is_json(content_type: str | None) -> bool:
    """What FastAPI parses as JSON: ``application/json`` and ``application/*+json``."""
    if content_type is None:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == JSON_MEDIA_TYPE or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _json_syntax_error(error: dict[str, Any], document: Any) -> FieldError:
    """Where the JSON broke, as an editor counts (line and column from 1), and why."""
    position = error["loc"][-1]
    reason = error.get("ctx", {}).get("error", "")
    if not isinstance(document, str) or not isinstance(position, int):
        return FieldError("body", f"is not valid JSON ({reason})")
    line = document.count("\n", 0, position) + 1
    column = position - document.rfind("\n", 0, position)
    return FieldError("body", f"is not valid JSON at line {line}, column {column} ({reason})")


def _body_error(error: dict[str, Any], content_type: str | None) -> FieldError | None:
    """A whole-body refusal caused by the Content-Type, said as such (FastAPI reads only JSON)."""
    if tuple(error["loc"]) != ("body",) or error["type"] == "missing" or _is_json(content_type):
        return None
    sent = "none was sent" if content_type is None else f"not {content_type}"
    return FieldError("body", f"needs the header Content-Type: {JSON_MEDIA_TYPE} ({sent})")


def validation_problem_from(
    errors: Sequence[Any], content_type: str | None = JSON_MEDIA_TYPE, body: Any = None
) -> ValidationProblem:
    """A 422 naming each bad field of pydantic's ``errors``; ``content_type`` and ``body`` are
    the request's, to explain a body refused."""
    fields: list[FieldError] = []
    for error in errors:
        if error["type"] == "json_invalid":
            fields.append(_json_syntax_error(error, body))
        else:
            fields.append(
                _body_error(error, content_type)
                or FieldError(_field_name(error["loc"]), _message(error))
            )
    return ValidationProblem(fields)


HTTP_TITLES = {400: "Bad request", 404: "Not found", 405: "Method not allowed"}


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error as a problem, and describe that answer in the OpenAPI document."""
    from fastapi.exceptions import RequestValidationError

    async def on_problem(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        content_type = request.headers.get("content-type")
        return problem_response(validation_problem_from(exc.errors(), content_type, exc.body))

    async def on_http(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        title = HTTP_TITLES.get(exc.status_code, "Error")
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
    app.openapi = _with_problem_schemas(app.openapi)  # type: ignore[method-assign]


def problem_schemas() -> dict[str, Any]:
    """``Problem`` and the schemas it refers to, as OpenAPI component schemas."""
    schema = ProblemDetails.model_json_schema(ref_template=COMPONENT_SCHEMAS + "{model}")
    referred: dict[str, Any] = schema.pop("$defs", {})
    return {PROBLEM_SCHEMA_NAME: schema, **referred}


def _with_problem_schemas(make_openapi: Callable[[], dict[str, Any]]) -> Callable[[], Any]:
    """FastAPI adds a component schema only for models in ``response_model``/``model``, and
    those it files under the route's own media type; problems are declared by reference
    (``service.api.responses``), so their schemas are added here, once."""

    def openapi() -> dict[str, Any]:
        document = make_openapi()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(problem_schemas())
        return document

    return openapi


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
