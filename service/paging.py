"""Opaque keyset cursors shared by the paginated lists (reminders, the audit log).

A cursor names the last row of a page by its sort key (a timestamp and an id), so the next
page starts right after it and pages never skip or repeat a row while new rows arrive.
"""

from __future__ import annotations

import base64
from datetime import datetime

from service.errors import FieldError, ValidationProblem


def encode_cursor(at: datetime, last_id: str | int) -> str:
    raw = f"{at.isoformat()}|{last_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (timestamp, id) a cursor names; a 422 on ``cursor`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, last_id = raw.split("|", 1)
        return datetime.fromisoformat(at), last_id
    except (ValueError, UnicodeDecodeError) as err:
        raise ValidationProblem(
            [FieldError("cursor", "is not a cursor from a previous page")]
        ) from err
