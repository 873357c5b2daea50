"""Time zones chosen from the current clock, so a call sent "now" is inside its window."""

from __future__ import annotations

from datetime import UTC, datetime

MIDDAY_HOUR = 13
"""The local hour (24 h clock) ``daytime_zone`` aims for: far from both window edges."""
HOURS_PER_DAY = 24


def daytime_zone(now: datetime | None = None) -> str:
    """An IANA zone where it is now mid-day, so a call sent "now" is inside the window."""
    now = now or datetime.now(UTC)
    offset = (MIDDAY_HOUR - now.hour) % HOURS_PER_DAY
    offset = offset - HOURS_PER_DAY if offset > HOURS_PER_DAY // 2 else offset
    # Etc/GMT signs are inverted: Etc/GMT-5 is five hours ahead of UTC.
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"
