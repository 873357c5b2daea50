"""Outbound pace: no more calls per second than the Twilio account allows, across workers.

Every worker reserves its slot from one schedule kept in Redis: a Lua script reads Redis's
own clock, hands out the next free slot and pushes the schedule on by one interval, all in
one atomic step, so any number of workers on any number of machines together stay at the
configured rate. Without Redis (the embedded set-up) the same schedule lives in memory.
"""

from __future__ import annotations

import threading
import time

import redis

PACE_KEY_TTL_MS = 60_000
"""The schedule forgets itself after a quiet minute; nothing else ever cleans it."""

_RESERVE = """
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local interval_us = tonumber(ARGV[1])
local next_us = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot_us = math.max(now_us, next_us)
redis.call('SET', KEYS[1], tostring(slot_us + interval_us), 'PX', ARGV[2])
return slot_us - now_us
"""


class Pacer:
    """Hands out send slots at most ``per_second`` apart; ``per_second <= 0`` means no limit."""

    def __init__(
        self, per_second: float, connection: redis.Redis | None = None, key: str = "pace"
    ) -> None:
        self.interval_us = round(1_000_000 / per_second) if per_second > 0 else 0
        self.key = key
        self._script = connection.register_script(_RESERVE) if connection is not None else None
        self._lock = threading.Lock()
        self._next = 0.0

    def wait_for_slot(self) -> float:
        """Block until this caller may send; returns the seconds it waited."""
        if not self.interval_us:
            return 0.0
        delay = self._reserve()
        if delay > 0:
            time.sleep(delay)
        return delay

    def _reserve(self) -> float:
        if self._script is not None:
            delay_us = int(self._script(keys=[self.key], args=[self.interval_us, PACE_KEY_TTL_MS]))
            return delay_us / 1_000_000
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval_us / 1_000_000
            return slot - now
