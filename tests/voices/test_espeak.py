"""EspeakEngine against the real espeak-ng: what comes out, and how it fails."""

from __future__ import annotations

import io
import subprocess
import wave

import pytest

from tests.support.voices import voice_of
from voices import (
    EngineUnavailable,
    EspeakEngine,
    InvalidRate,
    InvalidRequest,
    InvalidText,
    SynthesisFailed,
    SynthesisTimeout,
    UnknownLanguage,
    UnknownVoice,
    VoiceError,
)
from voices.base import MAX_TEXT_CHARS


def read_wav(data: bytes) -> tuple[wave._wave_params, bytes]:
    """Open with Python's strict reader: a header that lies about sizes fails here."""
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getparams(), wav.readframes(wav.getnframes())


def seconds(data: bytes) -> float:
    params, frames = read_wav(data)
    assert len(frames) == params.nframes * params.sampwidth * params.nchannels
    return params.nframes / params.framerate


@pytest.mark.parametrize("language", ["en", "es"])
def test_sample_sentence_is_a_complete_wav_of_plausible_length(espeak, catalog, samples, language):
    voice = voice_of(catalog, language, "espeak").voice

    data = espeak.synthesize(samples.by_language[language], language, voice, 150)

    params, _ = read_wav(data)
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 22050)
    # The RIFF size must cover exactly the file, which espeak-ng's piped header does not.
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    low, high = samples.plausible_s
    assert low <= seconds(data) <= high


def test_engine_speaks_exactly_what_espeak_ng_speaks_with_the_catalog_voice(
    espeak, catalog, samples
):
    """The engine's Spanish is espeak-ng's own es voice, sample for sample, not English."""
    spanish = voice_of(catalog, "es", "espeak").voice

    def espeak_ng(voice: str) -> bytes:
        # The command a user would type; drop espeak-ng's 44-byte piped header.
        done = subprocess.run(
            ["espeak-ng", "-v", voice, "-s", "150", "--stdout", samples.es],
            capture_output=True,
            check=True,
            timeout=30,
        )
        return done.stdout[44:]

    _, frames = read_wav(espeak.synthesize(samples.es, "es", spanish, 150))

    # Sample for sample, up to the silence that closes the sentence (left off: the
    # Speaker puts its own pause between sentences).
    own = espeak_ng(spanish)
    assert own.startswith(frames) and not own[len(frames) :].strip(b"\x00")
    assert len(own) - len(frames) > 0.3 * 22_050 * 2
    assert frames != espeak_ng(voice_of(catalog, "en", "espeak").voice)[: len(frames)]


def test_a_phrase_inside_a_sentence_keeps_the_pause_after_it(espeak):
    """Phrases are spoken one by one and joined end to end: the comma's pause is theirs."""
    phrase = seconds(espeak.synthesize("On Monday,", "en", "en-us", 150))
    closing = seconds(espeak.synthesize("On Monday.", "en", "en-us", 150))

    assert phrase - closing > 0.15


def test_text_starting_with_a_dash_is_spoken_not_read_as_an_option(espeak):
    # Were this on the command line, espeak-ng would print its help and speak nothing.
    text = "--help is available at the front desk."

    said = seconds(espeak.synthesize(text, "en", "en-us", 150))
    plain = seconds(espeak.synthesize("help is available at the front desk.", "en", "en-us", 150))

    assert espeak.phonemes(text, "en-us").startswith("h'Elp")
    assert said == pytest.approx(plain, abs=0.5)


def test_apostrophe_and_ampersand_are_spoken_not_taken_as_markup(espeak):
    phonemes = espeak.phonemes("O'Brien & Sons", "en-us")

    assert "br'aI@n" in phonemes  # one name, not "O" then "Brien"
    assert "_and" in phonemes  # "&" read as "and"
    assert seconds(espeak.synthesize("O'Brien & Sons", "en", "en-us", 150)) > 0.5


def test_markup_in_the_text_is_read_out_not_obeyed(espeak):
    """A ten-second pause tag in a clinic's note must not become ten seconds of silence."""
    text = 'Bring your card <break time="10s"/> and arrive early.'

    said = seconds(espeak.synthesize(text, "en", "en-us", 150))

    assert said < 8
    assert "br'eIk" in espeak.phonemes(text, "en-us")


def test_unknown_voice_raises_unknown_voice_without_the_text(espeak):
    with pytest.raises(UnknownVoice) as caught:
        espeak.synthesize("Secret result for Jane Roe", "xx", "xx-nonexistent", 150)

    assert "xx-nonexistent" in str(caught.value)
    assert "Jane" not in str(caught.value)


def test_voice_name_that_looks_like_an_option_is_refused(espeak):
    with pytest.raises(UnknownVoice):
        espeak.synthesize("Hello", "en", "--compile", 150)


def test_overrunning_espeak_is_stopped_and_reported_as_a_timeout():
    slow = EspeakEngine(timeout_s=0.001)

    with pytest.raises(SynthesisTimeout) as caught:
        slow.synthesize("A long message. " * 200, "en", "en-us", 150)

    assert isinstance(caught.value, SynthesisFailed)
    assert isinstance(caught.value.__cause__, subprocess.TimeoutExpired)


def test_missing_executable_is_engine_unavailable():
    absent = EspeakEngine(executable="/nonexistent/espeak-ng")

    with pytest.raises(EngineUnavailable) as caught:
        absent.synthesize("Hello", "en", "en-us", 150)

    assert isinstance(caught.value.__cause__, FileNotFoundError)


@pytest.mark.parametrize("text", ["", "   \n", "x" * (MAX_TEXT_CHARS + 1), "bad \ud800 text"])
def test_text_no_one_could_hear_is_refused(espeak, text):
    with pytest.raises(InvalidText):
        espeak.synthesize(text, "en", "en-us", 150)


@pytest.mark.parametrize("words_per_minute", [10, 1000])
def test_rate_outside_espeak_range_is_refused_not_clamped(espeak, words_per_minute):
    with pytest.raises(InvalidRate):
        espeak.synthesize("Hello", "en", "en-us", words_per_minute)


def test_control_characters_do_not_cut_the_text_short(espeak):
    # A NUL would end the text inside espeak-ng; it is spoken as a space instead.
    assert "m'O@nIN" in espeak.phonemes("Good\x00 morning", "en-us")


def test_exception_tree_lets_callers_tell_bad_requests_from_failures():
    """The service answers InvalidRequest with a 4xx and retries SynthesisFailed."""
    for bad_request in (InvalidText, InvalidRate, UnknownLanguage):
        assert issubclass(bad_request, InvalidRequest)
    assert issubclass(SynthesisTimeout, SynthesisFailed)
    assert not issubclass(SynthesisFailed, InvalidRequest)
    for error in (InvalidRequest, UnknownVoice, SynthesisFailed, EngineUnavailable):
        assert issubclass(error, VoiceError)


def test_japanese_voice_says_latin_names_as_words_not_letter_by_letter(espeak):
    # espeak-ng's Japanese voice alone spells "Riverside" as R, I, V, E, ... letter names.
    phonemes = espeak.phonemes("こちらはRiverside Clinicです。", "ja").split()
    assert "r'Iv3s,aId" in phonemes and "kl'InIk" in phonemes
    assert "_:'A@" not in " ".join(phonemes)  # the letter name "R"
    assert phonemes[0].startswith("k,ot_s")  # the Japanese around it stays Japanese
