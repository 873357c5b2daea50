"""Opaque keyset cursors shared by the paginated lists (reminders, the audit log).

A cursor names the last row of a page by its sort key (a timestamp and an id), so the next
page starts right after it and pages never skip or repeat a row while new rows arrive.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime

from service.errors import FieldError, ValidationProblem

CURSOR_MAX_CHARS = 200
"""A cursor is a timestamp and an id, base64: far shorter. Longer is not one of ours."""


def encode_cursor(at: datetime, last_id: str | int) -> str:
    raw = f"{at.isoformat()}|{last_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(
    cursor: str, is_id: Callable[[str], bool], parameter: str = "cursor"
) -> tuple[datetime, str]:
    """The (timestamp, id) a cursor names, strictly as ``encode_cursor`` makes them (an
    aware timestamp, an id ``is_id`` accepts); a 422 on ``parameter`` for anything else,
    before any query sees it."""
    refused = ValidationProblem([FieldError(parameter, "is not a cursor from a previous page")])
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at_text, last_id = raw.split("|", 1)
        at = datetime.fromisoformat(at_text)
    except (ValueError, UnicodeDecodeError) as err:
        raise refused from err
    if at.tzinfo is None or not is_id(last_id):
        raise refused
    return at, last_id
