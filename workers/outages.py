"""Riding out an outage of Redis or the database: log it once, wait with backoff, resume.

A worker meets an outage again and again while it lasts (every heartbeat, every job, every
sweep). Logging each of those would bury the one line an operator needs, so ``Outage``
logs when the part stops answering and when it answers again (with how long it was gone),
and nothing in between. ``Backoff`` spaces the reconnection attempts: quickly at first,
then no more often than its cap, so a long outage costs the server nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

FIRST_RETRY_WAIT_S = 0.5
"""The first wait before trying an unreachable Redis or database again."""
RETRY_WAIT_FACTOR = 2.0
"""Each next wait is this many times the one before, up to the cap."""


@dataclass
class Backoff:
    """Capped exponential waits: ``first_s``, twice that, ... never more than ``max_s``."""

    max_s: float
    first_s: float = FIRST_RETRY_WAIT_S
    factor: float = RETRY_WAIT_FACTOR
    _next_s: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._next_s = min(self.first_s, self.max_s)

    def next_wait_s(self) -> float:
        wait_s = self._next_s
        self._next_s = min(self._next_s * self.factor, self.max_s)
        return wait_s


class Outage:
    """Whether ``part`` ("redis", "database") is down as ``noticed_by`` sees it, logged once
    each way.

    Thread-safe: the API process runs jobs in several threads, which share one.
    Only the exception's type (its cause's, if wrapped) is logged, never its message: it
    may quote a query's values.
    """

    def __init__(
        self, part: str, noticed_by: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.part = part
        self.noticed_by = noticed_by
        self._clock = clock
        self._since: float | None = None
        self._lock = threading.Lock()

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def down(self, err: BaseException) -> None:
        with self._lock:
            if self._since is not None:
                return
            self._since = self._clock()
        log.warning(
            "%s: %s unreachable (%s); waiting for it, nothing is lost meanwhile",
            self.noticed_by,
            self.part,
            type(err.__cause__ or err).__name__,
        )

    def up(self) -> None:
        with self._lock:
            if self._since is None:
                return
            gone_s = self._clock() - self._since
            self._since = None
        log.warning(
            "%s: %s reachable again after %.1f s; resuming", self.noticed_by, self.part, gone_s
        )


def wait_until_reachable(
    ping: Callable[[], object],
    outage: Outage,
    backoff: Backoff,
    unreachable: tuple[type[BaseException], ...],
    sleep: Callable[[float], object] = time.sleep,
    deadline_s: float | None = None,
) -> bool:
    """Ping until it answers (True), waiting with ``backoff`` between tries.

    Gives up (False) once ``deadline_s`` seconds have passed, when one is given: a job
    must end before its own timeout.
    """
    started = time.monotonic()
    backoff.reset()
    while True:
        try:
            ping()
        except unreachable as err:
            outage.down(err)
        else:
            outage.up()
            return True
        wait_s = backoff.next_wait_s()
        if deadline_s is not None and time.monotonic() - started + wait_s > deadline_s:
            return False
        sleep(wait_s)
