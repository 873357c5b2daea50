"""Realistic sample facts for previews, docs and tests.

Fixed dates (not "now") so a preview, a snapshot and a test say the same thing every day.
The appointment is the one in API.md: 2026-12-03 14:30 in Chicago (20:30 UTC), a Thursday,
three days after ``SAMPLE_TODAY``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from templates.errors import UnknownTemplate
from templates.render import KINDS, MessageFacts

SAMPLE_TODAY = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
"""The day the samples pretend it is (a Monday)."""

SAMPLE_APPOINTMENT = datetime(2026, 12, 3, 20, 30, tzinfo=UTC)
"""Thursday, December 3, 2:30 PM in America/Chicago."""

SAMPLE_PREVIOUS_START = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
"""For appointment_changed: the visit was Tuesday, December 1, 10 AM in America/Chicago."""

# Free text arrives in the patient's language from the clinic; names and numbers do not change.
_FREE_TEXT = {
    "en": ("Second floor, suite 210", "Bring your medicine list."),
    "es": ("Segundo piso, consultorio 210", "Traiga su lista de medicinas."),
    "fr": ("Deuxième étage, bureau 210", "Apportez la liste de vos médicaments."),
    "de": ("Zweiter Stock, Raum 210", "Bringen Sie die Liste Ihrer Medikamente mit."),
    "it": ("Secondo piano, stanza 210", "Porti la lista delle sue medicine."),
    "pt": ("Segundo andar, sala 210", "Traga a lista dos seus remédios."),
    "pl": ("Drugie piętro, pokój 210", "Proszę przynieść listę leków."),
    "ru": ("Второй этаж, кабинет 210", "Возьмите с собой список лекарств."),
    "vi": ("Tầng hai, phòng 210", "Xin mang theo danh sách thuốc."),
    "zh": ("二楼210室", "请带上您的药物清单。"),
    "yue": ("二樓210室", "請帶埋你嘅藥物清單。"),
    "ja": ("2階、210号室", "お薬の一覧をお持ちください。"),
    "ko": ("2층 210호", "드시는 약 목록을 가져오세요."),
    "ar": ("الطَّابِقُ الثَّانِي، غُرْفَةُ 210", "أَحْضِرُوا قَائِمَةَ أَدْوِيَتِكُمْ."),
    "ur": ("دوسری منزل، کمرہ 210", "اپنی دواؤں کی فہرست ساتھ لائیں۔"),
    "fa": ("طبقه‌ی دوم، اتاق 210", "فهرست داروهایتان را بیاورید."),
    "hi": ("दूसरी मंज़िल, कमरा 210", "अपनी दवाओं की सूची साथ लाएँ।"),
    "bn": ("দোতলা, ঘর 210", "আপনার ওষুধের তালিকা সঙ্গে আনুন।"),
    "tl": ("Ikalawang palapag, silid 210", "Dalhin ang listahan ng inyong gamot."),
    "so": ("Dabaqa labaad, qolka 210", "Keen liiska daawooyinkaaga."),
    "ht": ("Dezyèm etaj, biwo 210", "Pote lis medikaman ou yo."),
    "uk": ("Другий поверх, кабінет 210", "Візьміть із собою список ліків."),
    "el": ("Δεύτερος όροφος, γραφείο 210", "Φέρτε τη λίστα με τα φάρμακά σας."),
    "tr": ("İkinci kat, oda 210", "İlaç listenizi getirin."),
    "nl": ("Tweede verdieping, kamer 210", "Neem de lijst van uw medicijnen mee."),
    "ro": ("Etajul doi, camera 210", "Aduceți lista cu medicamentele dumneavoastră."),
    "sq": ("Kati i dytë, dhoma 210", "Sillni listën e ilaçeve tuaja."),
    "hr": ("Drugi kat, soba 210", "Ponesite popis svojih lijekova."),
    "cs": ("Druhé patro, místnost 210", "Přineste si seznam svých léků."),
    "sk": ("Druhé poschodie, miestnosť 210", "Prineste si zoznam svojich liekov."),
    "hu": ("Második emelet, 210-es szoba", "Hozza magával a gyógyszerei listáját."),
    "ka": ("მეორე სართული, ოთახი 210", "წამოიღეთ თქვენი წამლების სია."),
    "hy": ("Երկրորդ հարկ, սենյակ 210", "Բերեք ձեր դեղերի ցանկը։"),
    "pa": ("ਦੂਜੀ ਮੰਜ਼ਿਲ, ਕਮਰਾ 210", "ਆਪਣੀਆਂ ਦਵਾਈਆਂ ਦੀ ਸੂਚੀ ਨਾਲ ਲਿਆਓ।"),
    "gu": ("બીજો માળ, રૂમ 210", "તમારી દવાઓની યાદી સાથે લાવો."),
    "ne": ("दोस्रो तल्ला, कोठा 210", "आफ्नो औषधिको सूची ल्याउनुहोस्।"),
    "mr": ("दुसरा मजला, खोली 210", "तुमच्या औषधांची यादी सोबत आणा."),
    "ta": ("இரண்டாம் மாடி, அறை 210", "உங்கள் மருந்துப் பட்டியலைக் கொண்டு வாருங்கள்."),
    "te": ("రెండో అంతస్తు, గది 210", "మీ మందుల జాబితా తీసుకురండి."),
    "ml": ("രണ്ടാം നില, മുറി 210", "നിങ്ങളുടെ മരുന്നുകളുടെ പട്ടിക കൊണ്ടുവരിക."),
    "ms": ("Tingkat dua, bilik 210", "Bawa senarai ubat anda."),
    "id": ("Lantai dua, ruang 210", "Bawa daftar obat Anda."),
}


def sample_facts(kind: str, language: str = "en") -> MessageFacts:
    """Sample facts for ``kind``; ``language`` picks the clinic's free text (English if none)."""
    location, instructions = _FREE_TEXT.get(language, _FREE_TEXT["en"])
    common = MessageFacts(
        patient_name="María López",
        clinic_name="Riverside Clinic",
        clinic_phone="+13125550100",
        timezone="America/Chicago",
    )
    visit = replace(
        common,
        appointment_start=SAMPLE_APPOINTMENT,
        provider="Dr. Chen",
        location=location,
        instructions=instructions,
    )
    if kind == "appointment_reminder":
        return visit
    if kind == "appointment_changed":
        return replace(visit, previous_start=SAMPLE_PREVIOUS_START)
    if kind == "appointment_cancelled":
        # Where and what to bring no longer matter once the visit is off.
        return replace(visit, location=None, instructions=None)
    if kind == "result_ready":
        return replace(common, ordered_by="Dr. Chen")
    if kind == "follow_up":
        return common
    raise UnknownTemplate(language, kind, "*", f"no sample facts; kinds {KINDS}")
