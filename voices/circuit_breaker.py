"""A circuit breaker: after failures in a row, stop asking a server for a while.

An online engine that is down costs every render its whole time bound before the
offline voice speaks. After ``failure_threshold`` failures in a row the breaker opens and
renders skip the engine at once; after ``cooldown_s`` it lets one trial request through
(half-open): a success closes it, a failure opens it for another cool-down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

__all__ = ["BreakerState", "CircuitBreaker"]

BreakerState = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    """Counts failures in a row; safe to share between threads.

    ``monotonic`` is the clock it reads (a test's clock it can move by hand).
    """

    def __init__(
        self,
        failure_threshold: int,
        cooldown_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or cooldown_s <= 0:
            raise ValueError("a breaker needs a threshold of at least 1 and a positive cool-down")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            if self._trial_in_flight or self._cooled_down():
                return "half-open"
            return "open"

    def allow(self) -> bool:
        """Whether a request may go now; after the cool-down, only one (the trial) does."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._trial_in_flight or not self._cooled_down():
                return False
            self._trial_in_flight = True
            return True

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._trial_in_flight or self._failures >= self.failure_threshold:
                self._opened_at = self._monotonic()
            self._trial_in_flight = False

    def _cooled_down(self) -> bool:
        assert self._opened_at is not None
        return self._monotonic() - self._opened_at >= self.cooldown_s
