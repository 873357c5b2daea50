"""Every catalog language, spoken from its own script: audio of plausible length, and
espeak-ng's phonemes show it is read in that language (not spelled out, not English)."""

from __future__ import annotations

import re

import pytest

from templates import render_message, sample_facts
from tests.support.voices import voice_of
from voices import AudioFormat, Catalog, Speaker
from voices.scripts import for_script, phrases, sentences

# A sample is one or two short sentences: at 150 words per minute (or the syllable
# rate of a language without spaces) that is 2 to 12 s; outside it, audio is cut or stuck.
PLAUSIBLE_SAMPLE_S = (2.0, 12.0)

OFFLINE = [v.code for v in Catalog.load().languages() if v.code != "tl"]


@pytest.fixture(scope="module")
def speaker(tmp_path_factory, catalog, espeak):
    """espeak-ng only: every offline language has an espeak voice in its chain."""
    return Speaker(tmp_path_factory.mktemp("audio"), catalog=catalog, engines={"espeak": espeak})


@pytest.mark.parametrize("language", OFFLINE)
def test_every_language_speaks_its_sample_at_a_plausible_length(speaker, catalog, language):
    sample = catalog.get(language).sample

    spoken = speaker.speak(sample, language, "normal", AudioFormat.PHONE)

    assert spoken.language == language and spoken.engine == "espeak"
    assert PLAUSIBLE_SAMPLE_S[0] <= spoken.duration_s <= PLAUSIBLE_SAMPLE_S[1], spoken


# espeak-ng joins the letter names of a word it spells with "_" ("g'am@_'EpsIl,0n_..." is
# "gamma epsilon": Greek read by the English voice, one join per 10 phoneme characters);
# words read as words have few (Japanese, the most, one per 20 in a whole call).
SPELLING_JOINS_MAX = 1 / 13
_SPELLING_JOIN = re.compile(r"_(?=['\w,])")
_LANGUAGE_SWITCH = re.compile(r"\([a-z]{2,3}(-[a-z]+)?\)")


def misreadings(text: str, phonemes: str) -> list[str]:
    """How espeak-ng's phonemes for ``text`` show it was not read in the voice's language.

    A switch to another language's rules ("(en)"), a script it names instead of reading
    ("Chinese letter"), words spelled out letter by letter, or text skipped.
    """
    found = []
    if switch := _LANGUAGE_SWITCH.search(phonemes):
        found.append(f"switches to {switch[0]}")
    if "letter" in phonemes.lower() or "tS'aIni:z" in phonemes:
        found.append("names a script")
    if len(_SPELLING_JOIN.findall(phonemes)) > SPELLING_JOINS_MAX * len(phonemes):
        found.append("spells words out")
    if len(phonemes) <= len(text) / 3:
        found.append("skips text")
    return found


def test_misreadings_are_caught(espeak):
    """The check itself fails on what it must catch, with real espeak-ng output."""
    greek, georgian = "Γεια σας, εδώ η κλινική.", "გამარჯობა, ეს არის კლინიკა."
    assert "spells words out" in misreadings(greek, espeak.phonemes(greek, "en-us"))
    assert "switches to (ka)" in misreadings(georgian, espeak.phonemes(georgian, "ru"))
    assert "switches to (en)" in misreadings("3 1 2", espeak.phonemes("3 1 2", "ne"))
    assert misreadings(greek, espeak.phonemes(greek, "el")) == []


@pytest.mark.parametrize("language", OFFLINE)
def test_sample_is_read_in_its_own_language(espeak, catalog, language):
    """espeak-ng marks a switch to another language's rules as "(en)" and so on, and
    spells what it cannot read ("Chinese letter"): neither may happen in a sample.

    The clinic's English name, left in Latin letters, may be read the English way (the
    Vietnamese voice does): it is taken out, so the language's own words are checked."""
    voice = voice_of(catalog, language, "espeak")
    text = for_script(catalog.get(language).sample.replace("Riverside", ""), voice.script)

    phonemes = espeak.phonemes(text, voice.voice)

    assert misreadings(text, phonemes) == [], phonemes


@pytest.mark.parametrize("language", OFFLINE)
def test_a_whole_call_is_read_in_its_own_language(espeak, catalog, language):
    """Every sentence of a call, not only the sample: the menu, the dates and times as the
    locale writes them, the digits of the phone number. The patient's, clinic's and
    doctor's names are in Latin letters in every script, so they are taken out."""
    voice = voice_of(catalog, language, "espeak")
    kind = "appointment_changed"  # the most facts: two dates and times, a provider, a place
    said = render_message(kind, language, "call", sample_facts(kind, language)).spoken
    for name in ("Riverside Clinic", "María López", "Chen"):
        said = said.replace(name, "")
    text = for_script(said, voice.script)

    phonemes = espeak.phonemes(text, voice.voice)

    assert misreadings(text, phonemes) == [], phonemes


def test_mandarin_is_read_as_pinyin_tones_not_english_numbers(espeak, catalog):
    """The cmn voice on Hanzi says English words and tone digits; the pinyin voice on
    pypinyin's output gives Mandarin syllables with tone contours (35, 214, 51)."""
    sample = catalog.get("zh").sample
    wrong = espeak.phonemes(sample, "cmn")
    right = espeak.phonemes(for_script(sample, "pinyin"), voice_of(catalog, "zh", "espeak").voice)

    assert "(en)" in wrong
    assert "(en)" not in right and re.search(r"214|51|35", right)
    assert not re.search(r"[\u4e00-\u9fff]", for_script(sample, "pinyin"))


def test_japanese_kanji_become_kana_before_espeak_reads_them(espeak, catalog):
    sample = catalog.get("ja").sample
    kana = for_script(sample, "kana")

    assert not re.search(r"[\u4e00-\u9fff]", kana)  # no kanji left
    assert "じゅうじ" in kana  # 十時, ten o'clock (pykakasi alone says "とき")
    assert for_script("10時", "kana") == "10じ"
    assert "(en)" in espeak.phonemes(sample, "ja")  # kanji alone: "Chinese letter"
    assert "(en)" not in espeak.phonemes(kana, "ja")


def test_arabic_sample_carries_its_vowels(catalog, espeak):
    """Diacritics (harakat) are what give espeak-ng the short vowels."""
    sample = catalog.get("ar").sample
    assert re.search(r"[\u064b-\u0652]", sample)
    bare = re.sub(r"[\u064b-\u0652\u0670]", "", sample)
    assert espeak.phonemes(sample, "ar") != espeak.phonemes(bare, "ar")


def test_nepali_digits_are_read_in_nepali_not_english(espeak, catalog):
    """espeak-ng's Nepali voice reads Latin digits with English rules; the catalog has the
    engine fed Devanagari digits, while the transcript keeps the digits the keypad shows."""
    voice = voice_of(catalog, "ne", "espeak")
    said = "हाम्रो नम्बर 3 1 2, 5 5 5, 0 1 0 0 हो।"

    assert voice.script == "devanagari-digits"
    assert for_script(said, voice.script) == "हाम्रो नम्बर ३ १ २, ५ ५ ५, ० १ ० ० हो।"
    assert "(en)" in espeak.phonemes(said, voice.voice)
    assert "(en)" not in espeak.phonemes(for_script(said, voice.script), voice.voice)


def test_sentences_split_on_every_scripts_full_stop():
    assert sentences("One. Two? Three!") == ["One.", "Two?", "Three!"]
    assert sentences("您好。明天见。") == ["您好。", "明天见。"]
    assert sentences("नमस्ते। कल मिलेंगे।") == ["नमस्ते।", "कल मिलेंगे।"]
    assert sentences("Բարև ձեզ։ Վաղը։") == ["Բարև ձեզ։", "Վաղը։"]
    assert sentences("It costs 2.5 dollars.") == ["It costs 2.5 dollars."]


def test_a_title_or_an_initial_does_not_end_a_sentence():
    assert sentences("Hello, Mr. John A. Smith. See you.") == [
        "Hello, Mr. John A. Smith.",
        "See you.",
    ]
    assert sentences("Hola, Sra. García. Hasta pronto.") == ["Hola, Sra. García.", "Hasta pronto."]
    assert sentences("Come to St. Mary Clinic, Dr. Chen's office.") == [
        "Come to St. Mary Clinic, Dr. Chen's office."
    ]
    # A capital letter after a word in lower case is a room or a wing, and ends its sentence.
    assert sentences("Go to room B. Then wait.") == ["Go to room B.", "Then wait."]
    assert sentences("I. Am.") == ["I.", "Am."]


def test_phrases_split_after_a_comma_colon_or_semicolon_and_keep_the_mark():
    assert phrases("Again, that is Monday, June third, at 9 AM, with Doctor Chen.") == [
        "Again,",
        "that is Monday,",
        "June third,",
        "at 9 AM,",
        "with Doctor Chen.",
    ]
    assert phrases("Please come to: room 4; ask at the desk.") == [
        "Please come to:",
        "room 4;",
        "ask at the desk.",
    ]
    assert phrases("It costs 1,000 dollars.") == ["It costs 1,000 dollars."]
