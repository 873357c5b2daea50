"""A clinic's free text in another language than the message is found, and short text is not.

The detector is lingua with its real models; the examples are what clinics type.
"""

from __future__ import annotations

import pytest

from templates import FREE_TEXT_FACTS, foreign_text
from templates.text_language import reads_as_other_language, word_count

ISSUE_EXAMPLE = {"location": "Second floor, suite 210", "instructions": "Bring your medicine list."}
"""The Spanish message of issue 15 that the Spanish voice read in English."""

IN_ITS_LANGUAGE: dict[str, tuple[str, str]] = {
    "en": ("Building B, second floor", "Do not eat after midnight."),
    "es": ("Edificio B, segundo piso", "No coma nada después de la medianoche."),
    "fr": ("Rez-de-chaussée, porte 4", "Apportez la liste de vos médicaments."),
    "de": ("Zweiter Stock, Zimmer 210", "Bitte bringen Sie Ihre Medikamentenliste mit."),
    "pt": ("Segundo andar, sala 210", "Não coma depois da meia-noite."),
    "ru": ("Второй этаж, кабинет 210", "Возьмите список лекарств."),
    "zh": ("二楼210室", "请带上您的药物清单。"),
    "ja": ("東京病院 3階", "お薬手帳を持ってきてください。"),
    "ko": ("서울병원 3층 접수처", "약 목록을 가져오세요."),
    "ar": ("الطابق الثاني، الجناح 210", "لا تأكل بعد منتصف الليل."),
    "fa": ("طبقه‌ی دوم، اتاق 210", "فهرست داروهایتان را بیاورید."),
    "ur": ("دوسری منزل، کمرہ 210", "اپنی دواؤں کی فہرست ساتھ لائیں۔"),
    "hi": ("दूसरी मंज़िल, कमरा 210", "अपनी दवाओं की सूची साथ लाएँ।"),
    "vi": ("Tầng hai, phòng 210", "Mang theo danh sách thuốc của bạn."),
    "tl": ("Ikalawang palapag, silid 210", "Dalhin ang listahan ng inyong gamot."),
    "pl": ("Drugie piętro, pokój 210", "Proszę zabrać listę leków."),
}


def test_the_issue_example_is_found_in_both_fields() -> None:
    found = foreign_text(ISSUE_EXAMPLE, "es")
    assert [(f.fact, f.language, f.language_name) for f in found] == [
        ("location", "en", "English"),
        ("instructions", "en", "English"),
    ]


@pytest.mark.parametrize("language", sorted(IN_ITS_LANGUAGE))
def test_text_in_the_message_language_is_not_flagged(language: str) -> None:
    location, instructions = IN_ITS_LANGUAGE[language]
    assert foreign_text({"location": location, "instructions": instructions}, language) == []


@pytest.mark.parametrize(
    ("message_language", "text_language"),
    [
        ("es", "en"),
        ("en", "es"),
        ("en", "fr"),
        ("fr", "en"),
        ("en", "zh"),
        ("zh", "en"),
        ("en", "ar"),
        ("ar", "en"),
        ("en", "ru"),
        ("ru", "en"),
        ("es", "ru"),
        ("de", "fr"),
        ("hi", "ur"),
        ("zh", "ja"),
        ("vi", "de"),
    ],
)
def test_instructions_in_another_language_are_flagged_with_that_language(
    message_language: str, text_language: str
) -> None:
    instructions = IN_ITS_LANGUAGE[text_language][1]
    found = foreign_text({"instructions": instructions}, message_language)
    assert [(f.fact, f.language) for f in found] == [("instructions", text_language)]
    assert found[0].confidence >= 0.4


@pytest.mark.parametrize("language", ["en", "es", "fr", "de", "pt", "zh", "ar", "ru", "ja"])
@pytest.mark.parametrize(
    "short",
    [
        "Suite 210",
        "Room 4B",
        "Piso 3",
        "Salle 12",
        "Bâtiment B",
        "Clínica Riverside",
        "3階",
        "B-12",
    ],
)
def test_room_numbers_and_short_names_are_never_flagged(language: str, short: str) -> None:
    assert foreign_text({"location": short}, language) == []


def test_close_languages_sharing_a_phrase_are_not_flagged() -> None:
    # Spanish and Portuguese share "Segundo piso, suite 210": lingua is not sure enough.
    spanish = "Segundo piso, suite 210. Traiga su lista de medicamentos."
    assert reads_as_other_language(spanish, "pt") is None


def test_chinese_characters_alone_are_not_called_chinese_in_a_japanese_message() -> None:
    assert reads_as_other_language("東京中央病院 三階 受付", "ja") is None
    assert reads_as_other_language("東京中央病院 三階 受付", "en") == ("zh", 1.0)


def test_a_language_lingua_does_not_know_is_not_judged() -> None:
    # Haitian Creole: lingua has no model and would call it French.
    assert foreign_text({"instructions": "Pote lis medikaman ou yo."}, "ht") == []
    assert foreign_text(ISSUE_EXAMPLE, "ht") == []


def test_cantonese_counts_chinese_text_as_its_own() -> None:
    assert foreign_text({"instructions": "請帶埋你嘅藥物清單。"}, "yue") == []
    assert [f.language for f in foreign_text(ISSUE_EXAMPLE, "yue")] == ["en", "en"]


def test_names_are_not_judged() -> None:
    assert FREE_TEXT_FACTS == ("location", "instructions")
    facts = {"provider": "Dr. Jonathan Whitfield-Smith", "clinic_name": "Main Street Family Clinic"}
    assert foreign_text(facts, "es") == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Suite 210", 1),
        ("Second floor, suite 210", 3),
        ("二楼210室", 3),
        ("お薬手帳", 4),
        ("अपनी दवाओं की सूची", 4),
        ("B 12 C", 0),
    ],
)
def test_words_are_counted_per_script(text: str, words: int) -> None:
    assert word_count(text) == words
