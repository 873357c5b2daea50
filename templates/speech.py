"""Facts said the way a person says them, per locale.

A speech engine reads "12/03 14:30 +13125550100" badly and a low-literacy reader stumbles
on it too. These helpers turn facts into words people use: "Thursday, December 3",
"2:30 PM" / "2:30 de la tarde", "3 1 2, 5 5 5, 0 1 0 0". Dates and times come from Babel's
CLDR data (patterns and skeletons), never from hand tables, so a new locale works without
code. Every time is converted to the patient's own time zone before it is said.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, get_period_id, match_skeleton
from num2words import num2words

from templates.errors import InvalidFact
from templates.locales import Calendar, Title

DATE_SKELETON = "MMMMEEEEd"
"""Weekday, month name and day, no year: an appointment is days or months away."""
DATE_YEAR_SKELETON = "yMMMMEEEEd"
"""The same with the year, for a day the listener would otherwise place in the wrong one."""
YEARLESS_AHEAD = timedelta(days=300)
"""A day up to ~10 months ahead is heard as the coming one: "Thursday, March 4" said in
December means next March. Later than that, "Tuesday, December 3" for a day two years
ahead would be heard as this December, so the year is said."""
YEARLESS_BEHIND = timedelta(days=60)
"""A day up to two months past (the old time of a moved visit) is heard as the recent one;
further back, the year is said."""

# CLDR pattern fields (outside quotes) for weekday and month: Babel matches skeletons but,
# unlike ICU, does not widen the matched fields, and "Thu" is harder to hear than "Thursday".
_PATTERN_TOKEN = re.compile(r"'[^']*'|E+|c+|M+|L+|[^'EcML]+")
_QUOTED = re.compile(r"'[^']*'")


def _locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale)
    except (UnknownLocaleError, ValueError) as err:
        raise InvalidFact("locale", f"{locale!r} is not a known locale") from err


@cache
def _closest_skeleton(where: Locale, wanted: str) -> str | None:
    """The locale's CLDR skeleton closest to ``wanted``. babel scores every skeleton of
    the locale on each call (a few ms, twice per reminder); the answer never changes."""
    return match_skeleton(wanted, where.datetime_skeletons.keys())


def _spaces(text: str) -> str:
    """CLDR uses narrow no-break spaces ("2:30\u202fPM"); speech engines want plain ones."""
    return " ".join(text.split())


def patient_zone(timezone: str) -> ZoneInfo:
    """The IANA zone named ``timezone``; a misspelt zone would shift every time said."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise InvalidFact("timezone", f"{timezone!r} is not an IANA time zone") from err


def local_moment(moment: datetime, timezone: str | None = None) -> datetime:
    """``moment`` in the patient's time zone; a naive datetime is refused, not guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidFact("appointment_start", "it has no time zone, so its local time is unknown")
    return moment if timezone is None else moment.astimezone(patient_zone(timezone))


def _widen(pattern: str) -> str:
    """Weekday and month names in full ("EEE" -> "EEEE"); numeric months ("M") stay numbers."""
    out = []
    for token in _PATTERN_TOKEN.findall(pattern):
        if token[0] in "Ec" and len(token) != 4:
            out.append(token[0] * 4)
        elif token in ("MMM", "LLL"):
            out.append(token + token[0])
        else:
            out.append(token)
    return "".join(out)


def _ordinal_day(pattern: str, day: int, language: str) -> str:
    """``pattern`` with its day field replaced by the spelled ordinal ("third").

    Babel has no spelled-out numbers, so num2words says the ordinal; only the day field
    (outside quoted literals) changes, the locale's order and punctuation stay.
    """
    try:
        word = num2words(day, lang=language, to="ordinal")
    except NotImplementedError as err:
        raise InvalidFact("locale", f"no spelled ordinals for language {language!r}") from err
    literal = "'" + word.replace("'", "''") + "'"
    return "".join(
        part if part.startswith("'") else re.sub(r"d+", literal, part)
        for part in re.findall(r"'[^']*'|[^']+", pattern)
    )


def says_year(moment: datetime, today: datetime | None, timezone: str | None = None) -> bool:
    """Whether the day needs its year to be heard right: when it is more than
    ``YEARLESS_AHEAD`` after ``today`` or more than ``YEARLESS_BEHIND`` before it, counted
    in days on the patient's calendar. Without ``today`` (no "now" known) the year is not
    said."""
    if today is None:
        return False
    day = local_moment(moment, timezone).date()
    now = local_moment(today, timezone).date()
    return not -YEARLESS_BEHIND <= day - now <= YEARLESS_AHEAD


def spoken_date(
    moment: datetime,
    locale: str,
    timezone: str | None = None,
    *,
    ordinal: bool = False,
    calendar: Calendar | None = None,
    today: datetime | None = None,
) -> str:
    """The day as said aloud: "Thursday, December 3" (en_US), "jueves, 3 de diciembre" (es).

    Uses the locale's own CLDR pattern for weekday + month + day, with names in full; with
    the year ("Tuesday, December 3, 2030") when ``says_year`` says the listener needs it
    (``today``: the day it is said). With ``ordinal`` the day is a spelled ordinal, as
    English speakers say it: "Thursday, December third" (for the ear; the eye reads
    "December 3" faster). A ``calendar`` from the language profile stands in where CLDR
    has no names for the language.
    """
    when = local_moment(moment, timezone)
    with_year = says_year(moment, today, timezone)
    if calendar is not None:
        pattern = calendar.date_with_year if with_year else calendar.date
        return pattern.format(
            weekday=calendar.weekdays[when.weekday()],
            day=when.day,
            month=calendar.months[when.month - 1],
            year=when.year,
        )
    where = _locale(locale)
    wanted = DATE_YEAR_SKELETON if with_year else DATE_SKELETON
    skeleton = _closest_skeleton(where, wanted)
    pattern = _widen(where.datetime_skeletons[skeleton].pattern) if skeleton else "EEEE d MMMM"
    if ordinal:
        pattern = _ordinal_day(pattern, when.day, where.language)
    return _spaces(format_datetime(when, pattern, locale=where))


def spoken_time(
    moment: datetime,
    locale: str,
    timezone: str | None = None,
    *,
    skeleton: str | None = None,
    day_periods: Mapping[str, str] | None = None,
    clock_words: Mapping[str, str] | None = None,
) -> str:
    """The clock time as said aloud, in the patient's time zone.

    By default the locale's own short time pattern decides 12- or 24-hour ("2:30 PM" for
    en_US, "14:30" for es). ``skeleton`` picks another CLDR form, e.g. "Bhm" for
    "2:30 de la tarde". On the hour a 12-hour clock drops the minutes ("9 AM"), as people
    say it; a 24-hour clock keeps them ("14:00"). ``day_periods`` (from the language
    profile) replaces CLDR's word for a day period where it misleads: Arabic's CLDR calls
    00:30 "في المساء" ("in the evening"), which sends a patient twelve hours off.
    ``clock_words`` (from the profile) says a whole time as a word where the language
    has one that fits its sentences: English "at noon", "at midnight" for "12 PM"/"12 AM",
    which many listeners place twelve hours off.
    """
    where = _locale(locale)
    when = local_moment(moment, timezone)
    word = (clock_words or {}).get(f"{when:%H:%M}")
    if word:
        return word
    if skeleton is None:
        short = where.time_formats["short"].pattern
        skeleton = "hm" if re.search(r"[hK]", _QUOTED.sub("", short)) else "Hm"
    if when.minute == 0 and re.search(r"[hK]", skeleton):
        skeleton = skeleton.replace("m", "")
    match = _closest_skeleton(where, skeleton)
    pattern = where.datetime_skeletons[match].pattern if match else where.time_formats["short"]
    pattern = _wide_day_periods(str(pattern))
    if day_periods:
        pattern = _own_day_period(pattern, get_period_id(when, locale=where), day_periods)
    return _spaces(format_datetime(when, pattern, locale=where))


def _own_day_period(pattern: str, period: str, day_periods: Mapping[str, str]) -> str:
    """``pattern`` with its flexible day period ("B") said as ``day_periods[period]``."""
    word = day_periods.get(period)
    if word is None:
        return pattern
    literal = "'" + word.replace("'", "''") + "'"
    parts = re.split(f"({_QUOTED.pattern})", pattern)
    return "".join(part if part.startswith("'") else re.sub(r"B+", literal, part) for part in parts)


_CLOCK = re.compile(r"\b(\d{1,2})[:.](\d{2})\b")


def time_as_numbers(said: str) -> str:
    """A clock time as two numbers, for a voice that reads its separator aloud.

    espeak-ng's Croatian says "14:30" as "fourteen colon thirty" and its Indonesian says
    "14.30" as "fourteen point thirty"; people say "fourteen thirty", and "ten" for 10:00.
    """
    return _CLOCK.sub(lambda m: m[1] if m[2] == "00" else f"{m[1]} {m[2]}", said)


def _wide_day_periods(pattern: str) -> str:
    """Say the day period in full: Arabic's abbreviated morning is the lone letter "ص",
    which a voice reads as a letter name and a listener cannot place."""
    parts = re.split(f"({_QUOTED.pattern})", pattern)
    return "".join(
        part if part.startswith("'") else re.sub(r"B+", "BBBB", re.sub(r"a+", "aaaa", part))
        for part in parts
    )


def _parse_phone(e164: str) -> phonenumbers.PhoneNumber:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException as err:
        raise InvalidFact("clinic_phone", "not an E.164 number such as +13125550100") from err
    if not phonenumbers.is_possible_number(number):
        raise InvalidFact("clinic_phone", "not a possible phone number")
    return number


def _format_phone(e164: str, locale: str | None) -> str:
    """National form when the number is in the locale's country; else with the country code.

    A patient dialling from the same country needs no "+1"; one abroad does.
    """
    number = _parse_phone(e164)
    territory = _locale(locale).territory if locale else None
    home = territory is None or territory == phonenumbers.region_code_for_number(number)
    style = phonenumbers.PhoneNumberFormat
    return phonenumbers.format_number(number, style.NATIONAL if home else style.INTERNATIONAL)


def display_phone(e164: str, locale: str | None = None) -> str:
    """The number as a patient reads it in a transcript: "(312) 555-0100"."""
    return _format_phone(e164, locale)


def spoken_phone(e164: str, locale: str) -> str:
    """The number as said for someone to write down: "3 1 2, 5 5 5, 0 1 0 0".

    Each digit is its own word, so a speech engine never says "three hundred twelve"; the
    groups are the country's usual ones (from phonenumbers), with a comma for a pause.
    """
    written = _format_phone(e164, locale)
    groups = [" ".join(group) for group in re.findall(r"\d+", written)]
    said = ", ".join(groups)
    return f"+ {said}" if written.startswith("+") else said


def _title_of(name: str, titles: Sequence[Title]) -> tuple[Title | None, str]:
    for title in titles:
        bare = re.escape(title.written.rstrip("."))
        found = re.match(rf"{bare}\.?\s+", name, flags=re.IGNORECASE)
        if found:
            return title, name[found.end() :]
    return None, name


def spoken_person(
    name: str,
    titles: Sequence[Title],
    *,
    for_ear: bool,
    article: bool = False,
) -> str:
    """A titled name for the eye ("Dr. Chen") or the ear ("Doctor Chen").

    With ``article`` a language that needs one before a titled name gets it ("el Dr. Chen",
    "la doctora Ruiz"); a name without a title gets none ("Ana Ruiz").
    """
    name = " ".join(name.split())
    title, rest = _title_of(name, titles)
    if title is None:
        return name
    said = f"{title.spoken if for_ear else title.written} {rest}"
    return f"{title.article} {said}" if article and title.article else said
