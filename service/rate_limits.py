"""Per-API-key rate limits, so one runaway scheduling system cannot starve the others.

Each key gets a token bucket kept as one number, its "theoretical arrival time" (the
generic cell rate algorithm): a request moves it on by one interval (1 / rate), and is
refused while that would put it more than ``burst`` intervals ahead of now. One number
per key, updated in one step.

With Redis (``TELLWELL_REDIS_URL``) the buckets live there, so every API replica draws on
the same bucket: a Lua script does the read, the check and the write in one round trip.
The time comes from the replica's clock (the injectable ``Clock``); replicas' clocks
agree to well under an interval, which is all the bucket needs. Without Redis, the
buckets live in memory. If Redis does not answer, the limiter falls back to the memory
buckets (each replica limits on its own) and tries Redis again a few seconds later: a
scheduler must never get a 500 because the limiter's store is down.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass

import redis.asyncio
from redis.exceptions import RedisError

from service.clock import Clock

log = logging.getLogger(__name__)

REDIS_TIMEOUT_S = 0.25
"""A request waits at most this long for the shared bucket before the memory one is used."""
REDIS_RETRY_AFTER_S = 5.0
"""After Redis failed, the memory buckets are used this long before Redis is tried again."""
MEMORY_BUCKETS_MAX = 10_000
"""More keys than this at once is not a set of schedulers: the memory buckets start over."""
KEY_PREFIX = "tellwell:rate-limit:"

_TAKE = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tat < now then tat = now end
local next_tat = tat + interval
local wait = next_tat - tolerance - now
if wait > 0 then return wait end
redis.call('SET', KEYS[1], string.format('%.0f', next_tat),
           'PX', math.ceil((next_tat - now) / 1000) + 1)
return 0
"""
"""All times in integer microseconds; returns how long to wait, 0 when the request may go."""


@dataclass(frozen=True)
class Limit:
    per_second: float
    """0 or less: no limit."""
    burst: int

    @property
    def enabled(self) -> bool:
        return self.per_second > 0

    @property
    def interval_s(self) -> float:
        return 1.0 / self.per_second

    @property
    def tolerance_s(self) -> float:
        """How far ahead of now a bucket may run: ``burst`` requests at once from idle."""
        return self.burst * self.interval_s

    def describe(self) -> str:
        requests = "request" if self.per_second == 1 else "requests"
        return f"{self.per_second:g} {requests} per second, in bursts of up to {self.burst}"


def retry_after_s(wait_s: float) -> int:
    """The ``Retry-After`` header: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(wait_s))


class MemoryBuckets:
    """The buckets of one process."""

    def __init__(self) -> None:
        self._arrival: dict[str, float] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float, limit: Limit) -> float:
        """Seconds to wait before ``key`` may make a request; 0.0 and counted if it may now."""
        with self._lock:
            arrival = max(self._arrival.get(key, now), now) + limit.interval_s
            wait = arrival - limit.tolerance_s - now
            if wait > 0:
                return wait
            if len(self._arrival) >= MEMORY_BUCKETS_MAX and key not in self._arrival:
                self._arrival.clear()
            self._arrival[key] = arrival
            return 0.0


class RedisBuckets:
    """The buckets every API replica shares, in Redis."""

    def __init__(self, url: str, namespace: str) -> None:
        self.prefix = f"{KEY_PREFIX}{namespace}:"
        self._redis = redis.asyncio.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
        )
        self._take = self._redis.register_script(_TAKE)

    async def take(self, key: str, now: float, limit: Limit) -> float:
        """As ``MemoryBuckets.take``; raises RedisError when Redis does not answer."""
        wait_us = await self._take(
            keys=[self.prefix + key],
            args=[round(now * 1e6), round(limit.interval_s * 1e6), round(limit.tolerance_s * 1e6)],
        )
        return int(wait_us) / 1e6

    async def close(self) -> None:
        await self._redis.aclose()


class RateLimiter:
    """Decides whether an API key may make a request now."""

    def __init__(self, limit: Limit, clock: Clock, shared: RedisBuckets | None = None) -> None:
        self.limit = limit
        self.clock = clock
        self.shared = shared
        self.memory = MemoryBuckets()
        self._shared_retry_at: float | None = None
        """Set while Redis is failing: the monotonic time to try it again."""

    @classmethod
    def from_settings(
        cls, per_second: float, burst: int, clock: Clock, redis_url: str, namespace: str
    ) -> RateLimiter:
        shared = RedisBuckets(redis_url, namespace) if redis_url else None
        return cls(Limit(per_second, burst), clock, shared)

    async def wait_s(self, key_id: str) -> float:
        """Seconds ``key_id`` must wait; 0.0 when this request may go (and is counted)."""
        if not self.limit.enabled:
            return 0.0
        now = self.clock.time()
        if self.shared is not None and self._shared_usable():
            try:
                wait = await self.shared.take(key_id, now, self.limit)
            except (RedisError, OSError) as err:
                self._shared_failed(err)
            else:
                self._shared_answered()
                return wait
        return self.memory.take(key_id, now, self.limit)

    def _shared_usable(self) -> bool:
        return self._shared_retry_at is None or self.clock.monotonic() >= self._shared_retry_at

    def _shared_failed(self, err: Exception) -> None:
        if self._shared_retry_at is None:
            log.warning(
                "rate limits: Redis is not answering (%s); limiting per process until it is",
                type(err).__name__,
            )
        self._shared_retry_at = self.clock.monotonic() + REDIS_RETRY_AFTER_S

    def _shared_answered(self) -> None:
        if self._shared_retry_at is not None:
            log.info("rate limits: Redis answers again; limits are shared again")
            self._shared_retry_at = None

    async def close(self) -> None:
        if self.shared is not None:
            await self.shared.close()
