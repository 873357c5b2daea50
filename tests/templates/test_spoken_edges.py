"""Days and times said right at the edges: the year when it is needed, midnight and noon, the
days clocks change, and the turn of the year, in the patient's zone and several languages.

Each case renders the real appointment_reminder (or appointment_changed) for the ear and
checks the words a patient hears.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from templates import render_message, sample_facts
from templates.errors import BrokenTemplate
from templates.locales import language_codes, load_profile
from templates.speech import YEARLESS_AHEAD, says_year, spoken_time

NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
CHICAGO = "America/Chicago"
TODAY = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
"""The day these messages are rendered on (a Wednesday)."""


def heard(
    language: str,
    start: datetime,
    zone: str,
    *,
    today: datetime | None = TODAY,
    kind: str = "appointment_reminder",
    previous: datetime | None = None,
) -> str:
    facts = replace(
        sample_facts(kind, language),
        appointment_start=start,
        timezone=zone,
        previous_start=previous,
    )
    return render_message(kind, language, "app", facts, today=today).spoken


FAR = datetime(2030, 12, 3, 20, 30, tzinfo=UTC)
"""Four years ahead: a Tuesday. Without the year it sounds like tomorrow's December 3."""


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "Tuesday, December third, 2030"),
        ("es", "martes, 3 de diciembre de 2030"),
        ("fr", "mardi 3 décembre 2030"),
        ("de", "Dienstag, 3. Dezember 2030"),
        ("pt", "terça-feira, 3 de dezembro de 2030"),
        ("zh", "2030年12月3日星期二"),
        ("ja", "2030年12月3日火曜日"),
        ("ko", "2030년 12월 3일 화요일"),
        ("ar", "الثلاثاء، 3 ديسمبر 2030"),
        ("ru", "вторник, 3 декабря 2030"),
        ("vi", "Thứ Ba, 3 tháng 12 2030"),
        ("ht", "madi 3 desanm 2030"),
    ],
)
def test_a_day_years_ahead_is_said_with_its_year(language: str, said: str) -> None:
    assert said in heard(language, FAR, CHICAGO)


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "Thursday, March fourth,"),
        ("es", "jueves, 4 de marzo,"),
        ("de", "Donnerstag, 4. März,"),
        ("zh", "3月4日星期四"),
        ("ar", "الخميس، 4 مارس،"),
        ("ht", "jedi 4 mas,"),
    ],
)
def test_a_day_in_the_coming_months_is_said_without_it(language: str, said: str) -> None:
    march = datetime(2027, 3, 4, 15, 0, tzinfo=UTC)
    spoken = heard(language, march, CHICAGO)
    assert said in spoken
    assert "2027" not in spoken


def test_the_year_appears_past_ten_months_on_the_patients_calendar() -> None:
    last_yearless = TODAY + YEARLESS_AHEAD
    assert not says_year(last_yearless, TODAY, CHICAGO)
    assert says_year(last_yearless + timedelta(days=1), TODAY, CHICAGO)
    assert "2027" in heard("en", last_yearless + timedelta(days=1), CHICAGO)
    assert "2027" not in heard("en", last_yearless, CHICAGO)


def test_without_a_render_day_the_year_is_never_said() -> None:
    assert "2030" not in heard("en", FAR, CHICAGO, today=None)


def test_a_moved_visit_says_the_year_of_an_old_time_long_past() -> None:
    start = datetime(2027, 1, 12, 15, 0, tzinfo=UTC)
    long_ago = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)
    recent = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    spoken = heard("en", start, CHICAGO, kind="appointment_changed", previous=long_ago)
    assert "Tuesday, June second, 2026" in spoken
    assert "Tuesday, January twelfth," in spoken
    spoken = heard("es", start, CHICAGO, kind="appointment_changed", previous=recent)
    assert "lunes, 30 de noviembre," in spoken
    assert "2026" not in spoken


def test_new_years_eve_and_day_keep_their_local_year() -> None:
    # 04:30 UTC on January 1 is still December 31 in New York: said without a year, the
    # coming December 31; 05:30 UTC is January 1 there, also the coming one.
    eve = datetime(2027, 1, 1, 4, 30, tzinfo=UTC)
    day = datetime(2027, 1, 1, 5, 30, tzinfo=UTC)
    assert "Thursday, December thirty-first, at 11:30 PM" in heard("en", eve, NEW_YORK)
    assert "Friday, January first, at 12:30 AM" in heard("en", day, NEW_YORK)
    assert "jueves, 31 de diciembre, a las 11:30 de la noche" in heard("es", eve, NEW_YORK)
    assert "Donnerstag, 31. Dezember, um 23:30" in heard("de", eve, NEW_YORK)
    # Said on January 1, 2028, the same eve is a year back: its year is said.
    later = datetime(2028, 1, 1, 15, 0, tzinfo=UTC)
    assert "Thursday, December thirty-first, 2026" in heard("en", eve, NEW_YORK, today=later)


@pytest.mark.parametrize(
    ("language", "midnight", "noon"),
    [
        ("en", "at midnight.", "at noon."),
        ("es", "12 de la madrugada", "12 del mediodía"),
        ("fr", "00:00", "12:00"),
        ("de", "00:00", "12:00"),
        ("ru", "00:00", "12:00"),
        ("zh", "午夜12时", "中午12时"),
        ("ja", "午前0時", "午後0時"),
        ("ar", "12 بعد منتصف الليل", "12 ظهرًا"),
        ("hi", "मध्यरात्रि 12 बजे", "दोपहर 12 बजे"),
        ("ml", "അർദ്ധരാത്രി 12", "ഉച്ച 12"),
    ],
)
def test_midnight_and_noon(language: str, midnight: str, noon: str) -> None:
    day = datetime(2027, 3, 4, 5, 0, tzinfo=UTC)  # 00:00 in New York (EST, UTC-5)
    assert midnight in heard(language, day, NEW_YORK)
    assert noon in heard(language, day + timedelta(hours=12), NEW_YORK)


def test_english_says_midnight_and_noon_only_on_the_exact_minute() -> None:
    midnight = datetime(2027, 3, 4, 5, 0, tzinfo=UTC)
    at_midnight = heard("en", midnight, NEW_YORK)
    assert "Thursday, March fourth, at midnight." in at_midnight
    assert "12 AM" not in at_midnight
    assert "at 12:30 AM." in heard("en", midnight + timedelta(minutes=30), NEW_YORK)
    assert "at 11:59 AM." in heard("en", midnight + timedelta(hours=11, minutes=59), NEW_YORK)
    assert "at 12:01 PM." in heard("en", midnight + timedelta(hours=12, minutes=1), NEW_YORK)
    # The transcript (for the eye) says it the same way.
    facts = replace(sample_facts("appointment_reminder", "en"), appointment_start=midnight)
    facts = replace(facts, timezone=NEW_YORK)
    assert "at midnight." in render_message("appointment_reminder", "en", "app", facts).text


def test_midnight_on_the_days_clocks_change() -> None:
    # New York falls back on November 7, 2027 at 2:00, so that day's midnight is still EDT.
    fall = datetime(2027, 11, 7, 4, 0, tzinfo=UTC)
    said = heard("en", fall, NEW_YORK, today=fall - timedelta(days=7))
    assert "Sunday, November seventh, at midnight" in said
    # Santiago springs forward at midnight (September 5, 2027: 24:00 -> 01:00): that day
    # has no midnight, so the same instant is said as the 1 AM it is on the clock.
    spring = datetime(2027, 9, 5, 4, 0, tzinfo=UTC)
    santiago = heard("en", spring, "America/Santiago", today=spring - timedelta(days=7))
    assert "Sunday, September fifth, at 1 AM" in santiago
    assert "midnight" not in santiago


@pytest.mark.parametrize("language", language_codes())
def test_midnight_and_noon_are_said_in_words_not_letters(language: str) -> None:
    """A day period cut to one letter (Malayalam CLDR's "അ" for midnight) is read as a
    letter's name: no word of a time said at midnight or noon is a lone letter (outside
    Latin script, where "e" and "a" are words)."""
    day = datetime(2027, 3, 4, 5, 0, tzinfo=UTC)
    profile = load_profile(language)
    assert profile is not None
    for moment in (day, day + timedelta(hours=12)):
        said = spoken_time(
            moment,
            profile.locale,
            NEW_YORK,
            skeleton=profile.time_skeleton,
            day_periods=dict(profile.day_periods),
            clock_words=dict(profile.clock_words),
        )
        letters = [
            w
            for w in said.split()
            if len(w) == 1 and w.isalpha() and not unicodedata.name(w).startswith("LATIN")
        ]
        assert not letters, said


def test_clock_words_must_name_a_time(tmp_path: Path) -> None:
    folder = tmp_path / "xx"
    folder.mkdir()
    (folder / "language.json").write_text(
        json.dumps({"name": "X", "locale": "en_US", "clock_words": {"noon": "noon"}}),
        encoding="utf-8",
    )
    with pytest.raises(BrokenTemplate, match="clock_words"):
        load_profile("xx", tmp_path)


def test_arabic_never_calls_the_first_hour_after_midnight_evening() -> None:
    # CLDR's Arabic names 00:00-01:00 "في المساء" ("in the evening"): a patient would come
    # twelve hours off. The profile says "after midnight" instead.
    half_past = heard("ar", datetime(2027, 3, 4, 5, 30, tzinfo=UTC), NEW_YORK)
    assert "12:30 بعد منتصف الليل" in half_past
    assert "المساء" not in half_past
    assert "11:30 مساءً" in heard("ar", datetime(2027, 3, 4, 4, 30, tzinfo=UTC), NEW_YORK)


@pytest.mark.parametrize(
    ("moment", "zone", "en", "es", "de"),
    [
        # New York springs forward on Sunday March 14, 2027 at 2:00 EST -> 3:00 EDT.
        (
            datetime(2027, 3, 14, 6, 30, tzinfo=UTC),
            NEW_YORK,
            "1:30 AM",
            "1:30 de la madrugada",
            "01:30",
        ),
        (
            datetime(2027, 3, 14, 7, 30, tzinfo=UTC),
            NEW_YORK,
            "3:30 AM",
            "3:30 de la madrugada",
            "03:30",
        ),
        (datetime(2027, 3, 14, 16, 0, tzinfo=UTC), NEW_YORK, "noon", "12 del mediodía", "12:00"),
        # ... and falls back on Sunday November 7, 2027: 1:30 comes twice, both said so.
        (
            datetime(2027, 11, 7, 5, 30, tzinfo=UTC),
            NEW_YORK,
            "1:30 AM",
            "1:30 de la madrugada",
            "01:30",
        ),
        (
            datetime(2027, 11, 7, 6, 30, tzinfo=UTC),
            NEW_YORK,
            "1:30 AM",
            "1:30 de la madrugada",
            "01:30",
        ),
        (datetime(2027, 11, 7, 15, 0, tzinfo=UTC), NEW_YORK, "10 AM", "10 de la mañana", "10:00"),
        # Berlin: March 28, 2027 (2:00 CET -> 3:00 CEST), October 31, 2027 (3:00 -> 2:00).
        (
            datetime(2027, 3, 28, 0, 30, tzinfo=UTC),
            BERLIN,
            "1:30 AM",
            "1:30 de la madrugada",
            "01:30",
        ),
        (
            datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
            BERLIN,
            "3:30 AM",
            "3:30 de la madrugada",
            "03:30",
        ),
        (datetime(2027, 3, 28, 8, 0, tzinfo=UTC), BERLIN, "10 AM", "10 de la mañana", "10:00"),
        (
            datetime(2027, 10, 31, 0, 30, tzinfo=UTC),
            BERLIN,
            "2:30 AM",
            "2:30 de la madrugada",
            "02:30",
        ),
        (
            datetime(2027, 10, 31, 1, 30, tzinfo=UTC),
            BERLIN,
            "2:30 AM",
            "2:30 de la madrugada",
            "02:30",
        ),
        (datetime(2027, 10, 31, 9, 0, tzinfo=UTC), BERLIN, "10 AM", "10 de la mañana", "10:00"),
    ],
)
def test_the_days_clocks_change_say_the_local_time(
    moment: datetime, zone: str, en: str, es: str, de: str
) -> None:
    a_week_before = moment - timedelta(days=7)
    english, spanish, german = (
        heard(lang, moment, zone, today=a_week_before) for lang in ("en", "es", "de")
    )
    assert f"Sunday, {_month_day(moment, zone)}, at {en}." in english
    assert f"domingo, {_dia(moment, zone)}, a la" in spanish
    assert es in spanish
    assert f"um {de}" in german


def _month_day(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    ordinals = {7: "seventh", 14: "fourteenth", 28: "twenty-eighth", 31: "thirty-first"}
    return f"{local:%B} {ordinals[local.day]}"


def _dia(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    months = {3: "marzo", 10: "octubre", 11: "noviembre"}
    return f"{local.day} de {months[local.month]}"
