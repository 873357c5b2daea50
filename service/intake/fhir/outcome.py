"""Errors as FHIR ``OperationOutcome`` resources: the status of the service's ``Problem``,
each bad element named by a FHIRPath ``expression``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.db import DATABASE_UNREACHABLE
from service.errors import DATABASE_RETRY_AFTER_S, FieldError, Problem, ValidationProblem

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
ISSUE_CODES = {
    400: "structure",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-costly",
    422: "invalid",
    429: "throttled",
    503: "transient",
}
"""HTTP status -> OperationOutcome issue type (http://hl7.org/fhir/issue-type)."""
FIELD_PATHS = {
    "patient.name": "Patient.name",
    "patient.phone": "Patient.telecom",
    "patient.app_recipient_id": "Patient.telecom",
    "patient.language": "Patient.communication.language",
    "patient.timezone": "Patient",
    "start": "Appointment.start",
    "version": "Appointment.meta.versionId",
    "updated_at": "Appointment.meta.lastUpdated",
    "provider": "Appointment.participant",
    "location": "Appointment.participant",
    "instructions": "Appointment.patientInstruction",
    "language": "Patient.communication.language",
    "channel": "CommunicationRequest.medium",
    "send_at": "CommunicationRequest.occurrenceDateTime",
    "appointment.start": "Appointment.start",
}
"""The field names of the appointment and reminder stores (``schemas.AppointmentRequest``,
``schemas.ReminderRequest``) as FHIRPath."""


def fhir_path(resource_type: str, loc: Sequence[int | str]) -> str:
    """A pydantic error location as FHIRPath: ("participant", 0, "actor") ->
    ``Appointment.participant[0].actor``."""
    path = resource_type
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def invalid(resource_type: str, error: ValidationError) -> ValidationProblem:
    """A model's refusal as a 422 naming each element."""
    errors = []
    for detail in error.errors():
        message = "is not a known element" if detail["type"] == "extra_forbidden" else detail["msg"]
        errors.append(FieldError(fhir_path(resource_type, detail["loc"]), message))
    return ValidationProblem(errors)


def outcome_body(problem: Problem) -> dict[str, Any]:
    code = ISSUE_CODES.get(problem.status, "processing" if problem.status < 500 else "exception")
    issues: list[dict[str, Any]] = [
        {
            "severity": "error",
            "code": code,
            "diagnostics": f"{FIELD_PATHS.get(e.field, e.field)} {e.message}",
            "expression": [FIELD_PATHS.get(e.field, e.field)],
        }
        for e in problem.errors
    ] or [{"severity": "error", "code": code, "diagnostics": problem.detail}]
    outcome = OperationOutcome.model_validate({"resourceType": "OperationOutcome", "issue": issues})
    return outcome.model_dump(mode="json", exclude_none=True)


def warning_outcome(warnings: Sequence[FieldError]) -> dict[str, Any]:
    """An OperationOutcome of warnings on a resource that was stored (free text in another
    language than the patient's), each naming its element as FHIRPath."""
    issues = [
        {
            "severity": "warning",
            "code": "business-rule",
            "diagnostics": f"{FIELD_PATHS.get(w.field, w.field)} {w.message}",
            "expression": [FIELD_PATHS.get(w.field, w.field)],
        }
        for w in warnings
    ] or [{"severity": "information", "code": "informational", "diagnostics": "Stored."}]
    outcome = OperationOutcome.model_validate({"resourceType": "OperationOutcome", "issue": issues})
    return outcome.model_dump(mode="json", exclude_none=True)


def outcome_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        outcome_body(problem),
        status_code=problem.status,
        media_type=FHIR_JSON,
        headers=problem.headers,
    )


def install_outcome_handlers(app: FastAPI) -> None:
    """Every error of the FHIR app answered as an OperationOutcome."""

    async def on_problem(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return outcome_response(exc)

    async def on_validation(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = []
        for error in exc.errors():
            loc = [p for p in error["loc"] if p not in {"body", "query", "path"}]
            where = ".".join(str(p) for p in loc) or "body"
            errors.append(FieldError(where, str(error["msg"])))
        return outcome_response(ValidationProblem(errors))

    async def on_http(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return outcome_response(
            Problem(exc.status_code, "Error", str(exc.detail), headers=dict(exc.headers or {}))
        )

    async def on_unreachable(_request: Request, exc: Exception) -> Response:
        log.warning("database unreachable: %s", type(exc).__name__)
        return outcome_response(
            Problem(
                503,
                "Service unavailable",
                "The database is not answering; please try again shortly.",
                headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
            )
        )

    async def on_unexpected(_request: Request, exc: Exception) -> Response:
        log.error("unhandled %s", type(exc).__name__)  # the type only: no PHI in logs
        return outcome_response(Problem(500, "Internal error", "Something went wrong."))

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    for unreachable in DATABASE_UNREACHABLE:
        app.add_exception_handler(unreachable, on_unreachable)
    app.add_exception_handler(Exception, on_unexpected)
