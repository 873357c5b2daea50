"""HL7 v2 values that need more than splitting: date/times and durations.

The ``hl7`` library's own ``parse_datetime`` is not used: it accepts trailing garbage
(its pattern is not anchored) and gets negative offsets under an hour wrong ("-0030"
becomes +00:30), and an appointment time must be exact.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from service.intake.hl7.schedule import Timestamp

_DTM = re.compile(
    r"(?P<year>\d{4})(?:(?P<month>\d{2})(?:(?P<day>\d{2})(?:(?P<hour>\d{2})"
    r"(?:(?P<minute>\d{2})(?:(?P<second>\d{2})(?:\.(?P<fraction>\d{1,4}))?)?)?)?)?)?"
    r"(?P<offset>[+-]\d{4})?"
)
_PRECISIONS = ("year", "month", "day", "hour", "minute", "second")
MAX_OFFSET = timedelta(hours=14)
"""The widest UTC offset in use (Kiribati, +14:00); anything wider is a typing error."""


def read_timestamp(text: str) -> Timestamp:
    """Read a DTM (or the first component of a TS); ValueError when it is not one.

    Aware with the offset when one is written, naive (the sender's local time) without.
    """
    match = _DTM.fullmatch(text.strip())
    if match is None:
        raise ValueError("not an HL7 date/time (YYYYMMDD[HHMM[SS]][+/-ZZZZ])")
    parts = match.groupdict()
    precision = next(p for p in reversed(_PRECISIONS) if parts[p] is not None)
    fraction = parts["fraction"] or ""
    try:
        value = datetime(
            int(parts["year"]),
            int(parts["month"] or 1),
            int(parts["day"] or 1),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            int(fraction.ljust(6, "0")) if fraction else 0,
        )
    except ValueError:  # datetime's own messages quote the value ("year 0 is out of range")
        raise ValueError("not a valid date and time") from None
    if parts["offset"]:
        value = value.replace(tzinfo=_offset(parts["offset"]))
    return Timestamp(value, precision)


def _offset(text: str) -> timezone:
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[3:5])
    if minutes >= 60:
        raise ValueError("offset minutes out of range")
    offset = sign * timedelta(hours=hours, minutes=minutes)
    if abs(offset) > MAX_OFFSET:
        raise ValueError("offset out of range")
    return timezone(offset)


_UNITS = {
    "s": timedelta(seconds=1),
    "sec": timedelta(seconds=1),
    "second": timedelta(seconds=1),
    "seconds": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "min": timedelta(minutes=1),
    "mins": timedelta(minutes=1),
    "minute": timedelta(minutes=1),
    "minutes": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "hr": timedelta(hours=1),
    "hrs": timedelta(hours=1),
    "hour": timedelta(hours=1),
    "hours": timedelta(hours=1),
    "d": timedelta(days=1),
    "day": timedelta(days=1),
    "days": timedelta(days=1),
}
"""Duration units as senders write them: ISO+ / UCUM (min, h, s, d) and plain words.

HL7 leaves SCH-10 and AIS-8 to the sender; "m" is minutes there (nobody books months).
"""
_AMOUNT = re.compile(r"\d{1,9}(?:\.\d{1,6})?")
MAX_AMOUNT = 100_000
"""Larger than any duration in any unit we read; keeps the arithmetic in range."""
MAX_DURATION = timedelta(days=1)
"""An appointment longer than this is a unit error, not a visit."""


def read_duration(amount: str, unit: str) -> timedelta:
    """``amount`` in ``unit`` (a code or a word); ValueError when either is unreadable."""
    if not _AMOUNT.fullmatch(amount.strip()):
        raise ValueError("the duration is not a number")
    quantity = float(amount.strip())
    if quantity > MAX_AMOUNT:
        raise ValueError("the duration is out of range")
    step = _UNITS.get(unit.strip().lower()) if unit.strip() else timedelta(minutes=1)
    if step is None:
        raise ValueError("the duration unit is not one we read")
    duration = quantity * step
    if not timedelta(0) < duration <= MAX_DURATION:
        raise ValueError("the duration is out of range")
    return duration
