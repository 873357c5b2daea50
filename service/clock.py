"""What time it is, as one object passed to whatever reads the time.

The service runs on ``SYSTEM_CLOCK``. Tests pass a clock they move by hand, so expiries,
leases and retries are tested without sleeping.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Now, as an aware UTC datetime (records, leases, retries)."""
        ...

    def time(self) -> float:
        """Seconds since the epoch (signed links)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (in-memory caches)."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


SYSTEM_CLOCK: Clock = SystemClock()

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def timestamp(moment: datetime) -> str:
    """A moment as every answer and webhook gives it: RFC 3339 in UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)
