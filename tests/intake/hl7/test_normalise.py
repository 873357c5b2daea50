"""A patient's language and phone as sent, read as one of our voices and a number to call."""

from __future__ import annotations

import pytest

from service.intake.hl7.parse import parse_schedule_message
from service.intake.hl7.phones import choose_phone
from service.intake.hl7.schedule import Location, PhoneNumber
from service.intake.language import read_language
from templates.locales import language_codes
from tests.support.hl7 import sample

HOME = Location("PID", 13)
WORK = Location("PID", 14)


@pytest.mark.parametrize(
    ("parts", "code"),
    [
        (["spa"], "es"),
        (["SPA", "", "Spanish", ""], "es"),  # SPA^Spanish^HL70296
        (["ara", "eng", "", "English-us"], "ar"),  # ara^^HL70296^eng^English-us
        (["es"], "es"),
        (["en-US"], "en"),
        (["Spanish"], "es"),
        (["ger"], "de"),  # ISO 639-2/B
        (["deu"], "de"),  # ISO 639-2/T
        (["fre"], "fr"),
        (["chi"], "zh"),
        (["yue"], "yue"),
        (["Cantonese"], "yue"),
        (["tgl"], "tl"),  # CLDR says "fil"; our folder is "tl"
        (["Tagalog"], "tl"),
        (["hat"], "ht"),
        (["Haitian Creole"], "ht"),
        (["vie"], "vi"),
        (["Arabic_QWI"], "ar"),  # the FHIR Converter sample's second repetition
        (["español"], "es"),  # a language's own name
        (["", "", "", "Russian"], "ru"),
    ],
)
def test_languages_as_senders_write_them(parts: list[str], code: str) -> None:
    reading = read_language(parts)
    assert (reading.code, reading.recognised) == (code, code)
    assert code in language_codes()


def test_a_language_we_have_no_voice_for_is_recognised_and_said_so() -> None:
    reading = read_language(["heb", "", "Hebrew", ""])
    assert (reading.code, reading.recognised) == (None, "he")
    assert reading.reason == "we have no voice for this language"


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        (["xx"], "the language is not one we recognise"),
        (["New Norwegian"], "the language is not one we recognise"),
        (["", ""], "no language is given"),
    ],
)
def test_unreadable_languages_say_why(parts: list[str], reason: str) -> None:
    reading = read_language(parts)
    assert (reading.code, reading.reason) == (None, reason)


def test_the_language_of_each_sample_patient() -> None:
    arabic = parse_schedule_message(sample("fhir-converter-11SIU_S14-v2.4.hl7"))
    assert read_language(arabic.patient.language.in_reading_order).code == "ar"
    spanish = parse_schedule_message(sample("own-siu_s12-v2.5.1-tq1.hl7"))
    assert read_language(spanish.patient.language.in_reading_order).code == "es"


def phone(number: str, use: str = "", equipment: str = "", where: Location = HOME) -> PhoneNumber:
    return PhoneNumber(where, number, use, equipment)


def test_a_cell_comes_before_home_and_home_before_other_personal_numbers() -> None:
    phones = [
        phone("617-555-0111", "ORN", "PH"),
        phone("617-555-0122", "PRN", "PH"),
        phone("617-555-0133", "PRN", "CP"),
    ]
    assert choose_phone(phones, "US").e164 == "+16175550133"
    assert choose_phone(phones[:2], "US").e164 == "+16175550122"
    assert choose_phone(phones[:1], "US").e164 == "+16175550111"


def test_work_fax_pager_and_email_are_never_called() -> None:
    phones = [
        phone("617-555-0101", "WPN", "PH"),
        phone("617-555-0102", "PRN", "FX"),
        phone("617-555-0103", "BPN", "BP"),
        phone("", "NET", "Internet"),
        phone("617-555-0104", "PRN", "CP", where=WORK),  # PID-14 is the business number
    ]
    choice = choose_phone(phones, "US")
    assert choice.e164 is None
    assert choice.reason == "only work, fax, pager or e-mail contacts are given"


def test_local_numbers_are_read_with_the_clinics_country() -> None:
    assert choose_phone([phone("(617)555-0100")], "US").e164 == "+16175550100"
    assert choose_phone([phone("020 7946 0018")], "GB").e164 == "+442079460018"
    # The same digits are no number in another country: the reason names the country.
    choice = choose_phone([phone("020 7946 0018")], "US")
    assert (choice.e164, choice.reason) == (None, "no phone number is a valid number for US")
    assert choose_phone([phone("+44 20 7946 0018")], "US").e164 == "+442079460018"


def test_a_number_with_an_extension_is_not_the_patients_own() -> None:
    assert choose_phone([phone("(617)555-0188 X12")], "US").e164 is None


def test_no_number_at_all() -> None:
    assert choose_phone([], "US").reason == "no phone number is given"


def test_the_sample_patients_numbers() -> None:
    # 2.3 plain strings: the cell repetition wins over the first (home) one.
    plain = parse_schedule_message(sample("own-siu_s12-v2.3-plain-phones.hl7"))
    assert choose_phone(plain.patient.phones, "US").e164 == "+16175550177"
    # XTN country/area/local: the CP repetition, not PRN/PH, not the e-mail, not work.
    xtn = parse_schedule_message(sample("own-siu_s12-v2.5.1-tq1.hl7"))
    assert choose_phone(xtn.patient.phones, "US").e164 == "+16175550145"
    # UK: PRN 01234 (home) and PRS 07123 (a mobile by its numbering plan): the mobile.
    uk = parse_schedule_message(sample("patientsknowbest-siu_s12-v2.4.hl7"))
    chosen = choose_phone(uk.patient.phones, "GB")
    assert chosen.e164 == "+447123456789"
    assert chosen.source is not None and chosen.source.use == "PRS"
    # Qatar: local eight-digit numbers without any codes.
    qatar = parse_schedule_message(sample("fhir-converter-11SIU_S14-v2.4.hl7"))
    assert choose_phone(qatar.patient.phones, "QA").e164 == "+97455566068"
    # Only a fax and a work number.
    none = parse_schedule_message(sample("own-siu_s15-v2.6-no-reachable-phone.hl7"))
    assert choose_phone(none.patient.phones, "US").e164 is None
