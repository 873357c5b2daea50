"""Speaker: the front door, end to end with real espeak-ng and ffmpeg, and its cache."""

from __future__ import annotations

import hashlib
import logging
import re
import stat
import threading
import time

import numpy as np
import pytest

from tests.support.voices import (
    distinct_phrases,
    level_dbfs,
    level_envelope_db,
    mp3_pieces,
    spectrogram,
    voice_of,
)
from voices import (
    AudioFormat,
    Catalog,
    InvalidRate,
    InvalidText,
    Speaker,
    SpokenAudio,
    UnknownLanguage,
    cached_files,
)
from voices.audio import SENTENCE_PAUSE_S, decode_to_wav, encode_pcm, read_wav
from voices.scripts import for_script
from voices.speaker import composed


@pytest.fixture
def speaker(tmp_path, catalog, counting_espeak):
    return Speaker(tmp_path / "audio", catalog=catalog, engines={"espeak": counting_espeak})


@pytest.mark.parametrize("fmt", list(AudioFormat))
@pytest.mark.parametrize("language", ["en", "es"])
def test_sample_sentences_become_playable_files(
    speaker, samples, ffprobe, decoded_seconds, language, fmt
):
    spoken = speaker.speak(samples.by_language[language], language, "normal", fmt)

    assert spoken.path == speaker.cache_dir / spoken.key[:2] / f"{spoken.key}.{fmt.extension}"
    probe = ffprobe(spoken.path)
    assert probe.channels == 1
    assert probe.sample_rate == fmt.sample_rate_hz
    low, high = samples.plausible_s
    assert low <= spoken.duration_s <= high
    assert decoded_seconds(spoken.path) == pytest.approx(spoken.duration_s, abs=0.05)
    assert (spoken.language, spoken.engine, spoken.format, spoken.media_type) == (
        language,
        "espeak",
        fmt,
        fmt.media_type,
    )
    assert spoken.voice == speaker.voice_for(language).voice


def test_slow_rate_takes_longer_than_normal(speaker, samples):
    normal = speaker.speak(samples.en, "en", "normal")
    slow = speaker.speak(samples.en, "en", "slow")

    # 150/125 words per minute: the slow message runs about a fifth longer.
    assert slow.duration_s > normal.duration_s * 1.1
    assert slow.key != normal.key


def test_repeat_request_is_served_from_the_cache_without_the_engine(
    speaker, counting_espeak, samples
):
    started = time.perf_counter()
    first = speaker.speak(samples.en, "en", "normal", AudioFormat.PHONE)
    rendered_s = time.perf_counter() - started
    started = time.perf_counter()
    again = speaker.speak(samples.en, "en", "normal", AudioFormat.PHONE)
    cached_s = time.perf_counter() - started

    assert again == first
    assert counting_espeak.calls == distinct_phrases(samples.en)
    assert cached_s < rendered_s / 5


def test_a_title_or_an_initial_stays_in_one_phrase_with_the_name(speaker, counting_espeak):
    speaker.speak("Hello, Mr. John A. Smith. Your visit is on Monday.", "en")

    # Cut after "Mr." or "A.", the name was spoken as sentences of its own, each falling
    # and followed by the pause between sentences.
    assert counting_espeak.texts == ["Hello,", "Mr. John A. Smith.", "Your visit is on Monday."]


def test_an_app_message_reuses_the_mp3_of_the_sentences_it_shares(speaker, decoded_seconds):
    shared = "Your visit is on Monday at nine. Please bring your medication list."
    first = speaker.speak(f"Hello, Ana Lopez. {shared}", "en", fmt=AudioFormat.APP)
    before = set(speaker.cache_dir.rglob("*.mp3"))
    second = speaker.speak(f"Hello, Ana Perez. {shared}", "en", fmt=AudioFormat.APP)

    # The message and its one new sentence; the two it shares were encoded once, for both
    # (the two messages' levels round to the same step, MP3_PIECE_GAIN_STEP_DB).
    assert len(set(speaker.cache_dir.rglob("*.mp3")) - before) == 2
    assert second.path.read_bytes()[-2000:] == first.path.read_bytes()[-2000:]
    assert decoded_seconds(second.path) == pytest.approx(second.duration_s, abs=0.05)


# What a crash can leave of a cached phrase or piece, written without waiting for the disk.
DAMAGE = {
    "empty": lambda whole: b"",
    "cut short": lambda whole: whole[: len(whole) // 2],
    "overwritten": lambda whole: b"not audio" + whole[9:],
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_sentence_piece_is_encoded_again_not_left_out(speaker, damage):
    text = "Hello, Ana Lopez. Your visit is on Monday at nine. Please bring your list."
    first = speaker.speak(text, "en", fmt=AudioFormat.APP)
    intact = first.path.read_bytes()
    pieces = [path for path in speaker.cache_dir.rglob("*.mp3") if path != first.path]
    assert len(pieces) == 3
    for piece in pieces:
        piece.write_bytes(damage(piece.read_bytes()))
    first.path.unlink()  # the message is made again from its pieces

    assert speaker.speak(text, "en", fmt=AudioFormat.APP).path.read_bytes() == intact


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_phrase_is_spoken_again_not_cut(
    tmp_path, catalog, counting_espeak, samples, damage
):
    def fresh_speaker() -> Speaker:  # nothing in memory: phrases are read from the cache
        return Speaker(tmp_path / "audio", catalog=catalog, engines={"espeak": counting_espeak})

    first = fresh_speaker().speak(samples.en, "en", fmt=AudioFormat.PHONE)
    intact = first.path.read_bytes()
    phrases = [path for path in (tmp_path / "audio").rglob("*.wav") if path != first.path]
    assert len(phrases) == distinct_phrases(samples.en)
    for phrase in phrases:
        phrase.write_bytes(damage(phrase.read_bytes()))
    first.path.unlink()  # the message is made again from its phrases

    again = fresh_speaker().speak(samples.en, "en", fmt=AudioFormat.PHONE)

    assert again.path.read_bytes() == intact
    assert counting_espeak.calls == 2 * distinct_phrases(samples.en)


def test_phrases_whose_files_were_erased_are_spoken_anew_not_from_memory(
    speaker, counting_espeak, samples
):
    first = speaker.speak(samples.en, "en", fmt=AudioFormat.PHONE)
    for path in cached_files(first.path):  # as erasing the patient does
        path.unlink()

    again = speaker.speak(samples.en, "en", fmt=AudioFormat.PHONE)

    assert counting_espeak.calls == 2 * distinct_phrases(samples.en)
    assert all(path.exists() for path in cached_files(again.path))


def test_memory_lets_go_of_erased_phrases_while_speaking_others(speaker, samples, monkeypatch):
    first = speaker.speak(samples.en, "en", fmt=AudioFormat.PHONE)
    assert speaker.phrases_in_memory == distinct_phrases(samples.en)
    for path in cached_files(first.path):
        path.unlink()
    monkeypatch.setattr("voices.speaker.MEMORY_RECHECK_S", 0.0)  # its minute has passed

    speaker.speak("See you soon.", "en", fmt=AudioFormat.PHONE)

    assert speaker.phrases_in_memory == 1


@pytest.mark.parametrize("fmt", [AudioFormat.PHONE, AudioFormat.APP])
def test_cached_files_name_everything_a_message_was_made_from(speaker, fmt):
    shared = "Your visit is on Monday at nine. Please bring your list."
    other = speaker.speak(f"Hello, Ana Perez. {shared}", "en", fmt=fmt)
    before = set(speaker.cache_dir.rglob("*.*"))
    spoken = speaker.speak(f"Hello, Ana Lopez. {shared}", "en", fmt=fmt)
    made = set(speaker.cache_dir.rglob("*.*")) - before

    files = cached_files(spoken.path)
    # What erasing the message deletes: every file its render added (the greeting with
    # the name among them), and the shared phrases and pieces it used as well.
    assert made <= set(files)
    assert {path for path in files if path not in made} <= before
    assert len(files) > len(made)
    for path in files:
        path.unlink()
    assert set(speaker.cache_dir.rglob("*.*")) == before - set(files)
    assert other.path.exists()
    # Nothing it needs is left out: the same message is made again in full.
    again = speaker.speak(f"Hello, Ana Lopez. {shared}", "en", fmt=fmt)
    assert set(cached_files(again.path)) == set(files)


def test_cached_files_of_a_message_without_named_parts_are_itself_and_its_sidecar(speaker):
    spoken = speaker.speak("Hello, Ana Lopez. Your visit is on Monday.", "en")
    sidecar = spoken.path.with_suffix(".json")
    sidecar.write_text('{"duration_s": 2.0, "size_bytes": 1, "made_from": ["../../etc/x"]}')

    assert cached_files(spoken.path) == [spoken.path, sidecar]


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "Hello, Ana Lopez. Your visit is on Monday, March 3, at 9:45 AM, with Doctor"
         " Chen. Please call 312 555 0100 to change it, or press 1 to confirm."),
        ("tr", "Merhaba Ayşe Yılmaz. Randevunuz 3 Mart Pazartesi saat 9:45'te, Doktor Chen"
         " ile. Değiştirmek için lütfen 312 555 0100 numarasını arayın."),
    ],
)  # fmt: skip
def test_a_phone_message_resampled_phrase_by_phrase_sounds_as_resampled_whole(
    speaker, espeak, language, text
):
    voice = speaker.voice_for(language)
    whole = encode_pcm(
        composed(
            text,
            lambda phrase: read_wav(
                espeak.synthesize(for_script(phrase, voice.script), voice.code, voice.voice, 150)
            ),
            SENTENCE_PAUSE_S,
        ),
        AudioFormat.PHONE,
    ).data
    by_phrase = speaker.speak(text, language, fmt=AudioFormat.PHONE).path.read_bytes()

    ours, theirs = (read_wav(decode_to_wav(data, "wav")).samples for data in (by_phrase, whole))
    assert len(ours) == len(theirs)
    assert level_dbfs(ours) == pytest.approx(level_dbfs(theirs), abs=0.05)
    # Each phrase lands within half a sample (62 us) of where the whole message puts it,
    # so the waveforms differ; what is heard, the spectrum over time, does not.
    assert np.corrcoef(spectrogram(ours).ravel(), spectrogram(theirs).ravel())[0, 1] > 0.999
    speech = level_envelope_db(theirs) > -50
    envelope_gap_db = np.abs(level_envelope_db(ours) - level_envelope_db(theirs))[speech]
    assert np.percentile(envelope_gap_db, 99) < 0.5


def test_another_speaker_on_the_same_cache_reuses_the_file(
    tmp_path, catalog, counting_espeak, speaker, samples
):
    first = speaker.speak(samples.es, "es")
    other = Speaker(speaker.cache_dir, catalog=catalog, engines={"espeak": counting_espeak})

    assert other.speak(samples.es, "es") == first
    assert counting_espeak.calls == distinct_phrases(samples.es)


def test_language_format_rate_and_text_each_change_the_key(speaker, counting_espeak, samples):
    base = speaker.speak("See you soon.", "en")
    variants = [
        speaker.speak("See you soon.", "es"),
        speaker.speak("See you soon.", "en", "slow"),
        speaker.speak("See you soon.", "en", fmt=AudioFormat.PHONE),
        speaker.speak("See you soon!", "en"),
    ]

    assert len({base.key, *(spoken.key for spoken in variants)}) == 5
    # Another format is another encoding of the same speech: the engine is not run again.
    assert counting_espeak.calls == 4


def test_key_is_a_sha256_hex_digest_and_regional_codes_share_it(speaker):
    spoken = speaker.speak("See you soon.", "es-MX")

    assert re.fullmatch(r"[0-9a-f]{64}", spoken.key)
    assert spoken.language == "es"
    assert speaker.speak("See you soon.", "es").key == spoken.key


def test_cache_file_names_reveal_nothing_of_the_text(speaker, samples):
    texts = [samples.en, "Jane Roe, your biopsy results are ready."]
    for text in texts:
        for fmt in AudioFormat:
            speaker.speak(text, "en", "normal", fmt)

    names = [path.relative_to(speaker.cache_dir) for path in speaker.cache_dir.rglob("*")]
    words = {word.lower() for text in texts for word in re.findall(r"[A-Za-z]{3,}", text)}
    for name in names:
        assert not any(word in str(name).lower() for word in words), name
        assert re.fullmatch(r"[0-9a-f]{2}(/[0-9a-f]{64}\.(wav|mp3|ogg|json))?", str(name)), name
    audio = [name for name in names if name.suffix in {".wav", ".mp3", ".ogg"}]
    spoken_phrases = sum(distinct_phrases(text) for text in texts)
    pieces = sum(mp3_pieces(text) for text in texts)  # the app's and the preview's alike
    assert len(audio) == len(texts) * len(AudioFormat) + spoken_phrases + pieces


def test_cached_audio_is_private_to_the_service_user(speaker):
    spoken = speaker.speak("Your results are ready.", "en")

    assert stat.S_IMODE(spoken.path.stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE(spoken.path.parent.stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE(speaker.cache_dir.stat().st_mode) & 0o077 == 0


def test_concurrent_requests_for_one_message_run_the_engine_once(
    speaker, counting_espeak, samples, decoded_seconds
):
    results: list[SpokenAudio] = []
    errors: list[BaseException] = []
    gate = threading.Barrier(8)

    def ask() -> None:
        gate.wait()
        try:
            results.append(speaker.speak(samples.es, "es", "normal", AudioFormat.PHONE))
        except BaseException as err:  # collected, so a failure shows in the assertion
            errors.append(err)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors
    assert len(results) == 8 and len(set(results)) == 1
    assert counting_espeak.calls == distinct_phrases(samples.es)
    assert decoded_seconds(results[0].path) == pytest.approx(results[0].duration_s, abs=0.05)
    assert not [path for path in speaker.cache_dir.rglob(".tmp-*")]


def test_lost_sidecar_still_gives_the_duration_without_the_engine(
    speaker, counting_espeak, samples
):
    first = speaker.speak(samples.en, "en", "normal", AudioFormat.APP)
    first.path.with_suffix(".json").unlink()

    again = speaker.speak(samples.en, "en", "normal", AudioFormat.APP)

    assert again.duration_s == pytest.approx(first.duration_s, abs=0.05)
    assert counting_espeak.calls == distinct_phrases(samples.en)
    assert first.path.with_suffix(".json").exists()


def test_damaged_cache_file_is_rendered_again(speaker, counting_espeak, samples, decoded_seconds):
    first = speaker.speak(samples.en, "en", "normal", AudioFormat.PHONE)
    intact = first.path.read_bytes()
    first.path.write_bytes(intact[: len(intact) // 2])

    again = speaker.speak(samples.en, "en", "normal", AudioFormat.PHONE)

    # Made again from the cached phrases: the engine is not run again.
    assert counting_espeak.calls == distinct_phrases(samples.en)
    assert again.path.read_bytes() == intact
    assert decoded_seconds(again.path) == pytest.approx(first.duration_s, abs=0.05)


def test_logs_carry_no_message_text(speaker, caplog):
    text = "Jane Roe, your biopsy results are ready."
    with caplog.at_level(logging.DEBUG, logger="voices"):
        speaker.speak(text, "en")
        speaker.speak(text, "en")

    assert caplog.records, "rendering should leave an operational trace"
    logged = " ".join(record.getMessage() for record in caplog.records)
    for word in ("Jane", "Roe", "biopsy", "results"):
        assert word not in logged
    assert hashlib.sha256(text.encode()).hexdigest() not in logged


def test_bad_requests_are_refused_before_the_engine_runs(speaker, counting_espeak):
    with pytest.raises(UnknownLanguage):
        speaker.speak("Hello", "sw")
    with pytest.raises(InvalidRate):
        speaker.speak("Hello", "en", "brisk")
    with pytest.raises(InvalidText):
        speaker.speak("  ", "en")
    assert counting_espeak.calls == 0


def test_language_whose_engines_are_all_missing_is_not_spoken(tmp_path, catalog):
    no_engines = Speaker(tmp_path, catalog=catalog, engines={})

    with pytest.raises(UnknownLanguage, match="espeak"):
        no_engines.speak("Hello", "es")
    assert no_engines.languages() == []
    assert not no_engines.can_speak("es")


def test_default_speaker_uses_the_shipped_catalog_and_espeak(tmp_path):
    speaker = Speaker(tmp_path)

    spoken = speaker.speak("Hello.", "es")

    assert spoken.engine == "espeak"
    # Spanish leads with Pico where installed; espeak-ng alone speaks the fallback voice.
    assert spoken.voice == voice_of(Catalog.load(), "es", "espeak").voice == "es-419"
    assert speaker.voice_for("en").voice == "en-us"
    assert spoken.path.is_file()
