"""What each JSON route says it answers, declared once and used in the route decorators.

FastAPI on its own documents only the success answer and its own 422 shape in
``application/json``; a client generated from that crashes on our real errors. Here every
error a route can give is an RFC 9457 problem in ``application/problem+json`` (the
``Problem`` schema, ``service.errors.ProblemDetails``), plus a ``default`` for the
unexpected (a 500 is a bug, but it is still a problem). Audio is described with its media
types and byte ranges, and answered by ``AudioFileResponse`` so that a bad range is a
problem too, not Starlette's plain text.

tests/service/test_openapi_coverage.py derives from the code which statuses each route can
give and fails when one is missing here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import FileResponse, MalformedRangeHeader, RangeNotSatisfiable

from service.errors import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA_REF, Problem
from voices import AudioFormat

Responses = dict[int | str, dict[str, Any]]

AUDIO_MEDIA_TYPES = tuple(sorted({fmt.media_type for fmt in AudioFormat}))
BINARY = {"schema": {"type": "string", "format": "binary"}}

PROBLEM_DESCRIPTIONS: dict[int, str] = {
    400: "The request body could not be read (it is not UTF-8 text).",
    401: "No API key was sent, or it is not a valid one.",
    403: "The API key's role may not do this.",
    404: "There is no such resource, or it is not this key's to see.",
    413: "The request body is over the size limit.",
    416: "The requested byte range is outside the file.",
    422: "A field is missing or wrong; `errors` names each one and what is wrong.",
    429: "This API key sent more requests than its rate limit; wait `Retry-After` seconds.",
    503: "The database is not answering; send the same request again after `Retry-After`.",
}
"""What a status usually means; a status that means something particular on a route (409,
410) is described there."""
PROBLEM_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "How to authenticate: Bearer.",
            "schema": {"type": "string"},
        }
    },
    416: {
        "Content-Range": {
            "description": "The file's size, as bytes */SIZE.",
            "schema": {"type": "string"},
        }
    },
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer"},
    },
}
PROBLEM_HEADERS[429] = PROBLEM_HEADERS[503] = RETRY_AFTER
UNEXPECTED = "Anything unexpected (a 500 is a bug on our side), as a problem."

DATABASE = (503,)
"""What a route that reads or writes the database adds: it may be unreachable for a while."""
AUTH = (401, 403, 429, *DATABASE)
"""What a route behind ``service.deps.require`` adds: no valid key, the wrong role, the
key's rate limit, and the database that holds the keys."""
ANY_KEY = (401, 429, *DATABASE)
"""What a route open to every role adds: the same, less the wrong role."""
JSON_BODY = (400, 413, 422)
"""What a route with a JSON body adds: unreadable, too large, or invalid."""


def problem(
    status: int, description: str | None = None, headers: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One problem answer; ``description`` says what it means on this route.

    Each call makes new dicts: FastAPI merges into what it is given.
    """
    return {
        "description": description or PROBLEM_DESCRIPTIONS[status],
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
        "headers": {**PROBLEM_HEADERS.get(status, {}), **(headers or {})},
    }


def problems(*statuses: int, specific: Responses | None = None) -> Responses:
    """Problem answers for ``statuses`` with their usual meaning, plus ``default``.

    ``specific`` holds the answers whose meaning is particular to the route
    (``{409: problem(409, "Too late to cancel.")}``).
    """
    answers: Responses = {status: problem(status) for status in statuses}
    answers.update(specific or {})
    answers["default"] = problem(500, UNEXPECTED)
    return answers


AUDIO_RANGE_HEADER = {
    "name": "Range",
    "in": "header",
    "required": False,
    "description": "A byte range, as bytes=START-END (read by the file response itself).",
    "schema": {"type": "string", "examples": ["bytes=0-1023"]},
}
AUDIO_HEADERS = {
    "Cache-Control": {"description": "Always no-store.", "schema": {"type": "string"}},
    "Accept-Ranges": {"description": "bytes", "schema": {"type": "string"}},
}
AUDIO_RESPONSES: Responses = {
    200: {
        "description": "The whole audio file.",
        "content": dict.fromkeys(AUDIO_MEDIA_TYPES, BINARY),
        "headers": AUDIO_HEADERS,
    },
    206: {
        "description": "The byte range asked for (several ranges: multipart/byteranges).",
        "content": dict.fromkeys((*AUDIO_MEDIA_TYPES, "multipart/byteranges"), BINARY),
        "headers": {
            **AUDIO_HEADERS,
            "Content-Range": {
                "description": "The range sent, as bytes START-END/SIZE.",
                "schema": {"type": "string"},
            },
        },
    },
    **problems(
        416,
        *DATABASE,
        specific={
            400: problem(400, "The Range header is malformed."),
            403: problem(403, "The audio link is forged or has expired."),
            410: problem(410, "The audio has been deleted; this link will not work again."),
        },
    ),
}


class AudioFileResponse(FileResponse):
    """A file response whose refused ``Range`` is a problem (Starlette answers plain text)."""

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader as err:
            detail = f"This Range cannot be served ({err.content.rstrip('.')})."
            raise Problem(400, "Bad range", detail, slug="bad-range") from err
        except RangeNotSatisfiable as err:
            raise Problem(
                416,
                "Range not satisfiable",
                f"The range starts beyond the file's {file_size} bytes.",
                slug="range-not-satisfiable",
                headers={"Content-Range": f"bytes */{file_size}"},
            ) from err
