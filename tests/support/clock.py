"""A clock for tests: the real time plus whatever the test has skipped.

Time keeps running, so code that reads the system time directly stays consistent with it;
``skip`` jumps ahead, so an expiry or a lease is reached without sleeping.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class OffsetClock:
    def __init__(self) -> None:
        self.offset_s = 0.0

    def skip(self, seconds: float) -> None:
        """Move this clock ``seconds`` ahead of the real time (cumulative)."""
        self.offset_s += seconds

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset_s)

    def time(self) -> float:
        return time.time() + self.offset_s

    def monotonic(self) -> float:
        return time.monotonic() + self.offset_s
