"""Facts said the way a person says them, in the patient's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from templates import (
    InvalidFact,
    Title,
    display_phone,
    render_message,
    sample_facts,
    spoken_date,
    spoken_person,
    spoken_phone,
    spoken_time,
)
from templates.speech import time_as_numbers

CHICAGO = "America/Chicago"
APPOINTMENT = datetime(2026, 12, 3, 20, 30, tzinfo=UTC)


def test_20_30_utc_is_said_as_2_30_pm_in_chicago() -> None:
    assert spoken_time(APPOINTMENT, "en_US", CHICAGO) == "2:30 PM"
    assert spoken_date(APPOINTMENT, "en_US", CHICAGO) == "Thursday, December 3"


def test_an_evening_visit_keeps_its_local_day() -> None:
    late = datetime(2026, 12, 4, 2, 30, tzinfo=UTC)  # Friday in UTC, Thursday night in Chicago
    assert spoken_date(late, "en_US", CHICAGO) == "Thursday, December 3"
    assert spoken_time(late, "en_US", CHICAGO) == "8:30 PM"


def test_an_offset_datetime_is_converted_too() -> None:
    from_scheduler = datetime(2026, 12, 3, 14, 30, tzinfo=timezone(timedelta(hours=-6)))
    assert spoken_time(from_scheduler, "en_US", "America/New_York") == "3:30 PM"


def test_daylight_saving_is_followed() -> None:
    july = datetime(2026, 7, 9, 19, 30, tzinfo=UTC)  # CDT is UTC-5
    assert spoken_time(july, "en_US", CHICAGO) == "2:30 PM"


def test_on_the_hour_a_12_hour_clock_drops_the_minutes() -> None:
    nine = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    assert spoken_time(nine, "en_US", CHICAGO) == "9 AM"
    assert spoken_time(nine, "es_US", CHICAGO, skeleton="Bhm") == "9 de la mañana"
    assert spoken_time(nine, "es", CHICAGO) == "9:00"


def test_spanish_dates_and_times() -> None:
    assert spoken_date(APPOINTMENT, "es_US", CHICAGO) == "jueves, 3 de diciembre"
    assert spoken_time(APPOINTMENT, "es_US", CHICAGO, skeleton="Bhm") == "2:30 de la tarde"
    # Without a chosen form, Spain's own locale pattern is the 24-hour clock.
    assert spoken_time(APPOINTMENT, "es", CHICAGO) == "14:30"


def test_other_locales_come_from_babel_not_from_tables() -> None:
    assert spoken_date(APPOINTMENT, "de", CHICAGO) == "Donnerstag, 3. Dezember"
    assert spoken_date(APPOINTMENT, "fr", CHICAGO) == "jeudi 3 décembre"


def test_phone_digits_are_said_one_by_one_in_groups() -> None:
    said = spoken_phone("+13125550100", "en_US")
    assert said == "3 1 2, 5 5 5, 0 1 0 0"
    assert all(len(word) == 1 for word in said.replace(",", "").split())


def test_phone_is_shown_in_the_national_format() -> None:
    assert display_phone("+13125550100") == "(312) 555-0100"
    assert display_phone("+13125550100", "en_US") == "(312) 555-0100"


def test_a_number_abroad_keeps_its_country_code() -> None:
    assert display_phone("+525512345678", "en_US") == "+52 55 1234 5678"
    assert spoken_phone("+525512345678", "es_US") == "+ 5 2, 5 5, 1 2 3 4, 5 6 7 8"


@pytest.mark.parametrize("bad", ["3125550100", "+1 call us", "+1312", ""])
def test_a_phone_that_is_not_e164_is_refused(bad: str) -> None:
    with pytest.raises(InvalidFact, match="clinic_phone"):
        spoken_phone(bad, "en_US")


def test_a_naive_datetime_or_unknown_zone_is_refused() -> None:
    with pytest.raises(InvalidFact, match="time zone"):
        spoken_time(datetime(2026, 12, 3, 14, 30), "en_US", CHICAGO)
    with pytest.raises(InvalidFact, match="timezone"):
        spoken_date(APPOINTMENT, "en_US", "Mars/Olympus_Mons")


def test_titles_are_expanded_for_the_ear_only() -> None:
    english = [Title("Dr.", "Doctor")]
    spanish = [Title("Dr.", "doctor", "el"), Title("Dra.", "doctora", "la")]
    assert spoken_person("Dr. Chen", english, for_ear=True) == "Doctor Chen"
    assert spoken_person("Dr. Chen", english, for_ear=False) == "Dr. Chen"
    assert spoken_person("Dr Chen", english, for_ear=True) == "Doctor Chen"
    assert spoken_person("Dra. Ruiz", spanish, for_ear=True, article=True) == "la doctora Ruiz"
    assert spoken_person("Dr. Chen", spanish, for_ear=False, article=True) == "el Dr. Chen"
    assert spoken_person("Ana Ruiz, NP", spanish, for_ear=True, article=True) == "Ana Ruiz, NP"
    assert spoken_person("Drew Park", english, for_ear=True) == "Drew Park"


def test_a_quoted_h_in_a_24_hour_pattern_is_not_mistaken_for_12_hours() -> None:
    # Canadian French writes "14 h 30": the quoted 'h' is a letter, not an hour field.
    assert spoken_time(APPOINTMENT, "fr_CA", CHICAGO) == "14 h 30"


def test_english_says_the_day_as_an_ordinal_for_the_ear() -> None:
    assert spoken_date(APPOINTMENT, "en_US", CHICAGO, ordinal=True) == "Thursday, December third"
    first = datetime(2026, 10, 1, 15, 0, tzinfo=UTC)
    assert spoken_date(first, "en_US", CHICAGO, ordinal=True) == "Thursday, October first"
    twenty_second = datetime(2026, 12, 22, 15, 0, tzinfo=UTC)
    said = spoken_date(twenty_second, "en_US", CHICAGO, ordinal=True)
    assert said == "Tuesday, December twenty-second"


def test_a_language_babel_lacks_uses_the_calendar_from_its_profile() -> None:
    from templates import load_profile

    haitian = load_profile("ht")
    assert haitian is not None and haitian.calendar is not None
    assert spoken_date(APPOINTMENT, "fr", CHICAGO, calendar=haitian.calendar) == "jedi 3 desanm"


def test_the_rendered_call_says_ordinals_only_to_the_ear() -> None:
    from templates import render_message, sample_facts

    message = render_message(
        "appointment_reminder", "en", "call", sample_facts("appointment_reminder")
    )
    assert message.text.count("Thursday, December 3,") == 2
    assert message.spoken.count("Thursday, December third,") == 2
    assert "Doctor Chen" in message.spoken and "Dr. Chen" in message.text


def test_a_voice_that_reads_the_clock_separator_gets_the_time_as_two_numbers() -> None:
    """Croatian espeak-ng says "14:30" as "fourteen colon thirty"; Indonesian "14.30" as
    "fourteen point thirty". For their ear the time is "14 30", and "10:00" is "10"."""
    assert time_as_numbers("14:30") == "14 30" and time_as_numbers("10:00") == "10"
    assert time_as_numbers("14.30") == "14 30"
    assert time_as_numbers("3. prosinca, u 14:30") == "3. prosinca, u 14 30"
    croatian = render_message(
        "appointment_reminder", "hr", "call", sample_facts("appointment_reminder", "hr")
    )
    assert "u 14:30" in croatian.text and "u 14 30" in croatian.spoken
    indonesian = render_message(
        "appointment_changed", "id", "voicemail", sample_facts("appointment_changed", "id")
    )
    assert "pukul 14.30" in indonesian.text and "pukul 14 30" in indonesian.spoken
