"""bench/intelligibility.py's scoring: what a recogniser wrote is compared with what the
message said, whichever way each writes numbers, so the WER measures hearing alone."""

import pytest

from bench.intelligibility import RECOGNISERS, hear, word_error_rate, words
from voices import PiperEngine
from voices.audio import read_wav
from voices.piper_engine import BUILTIN_VOICE

SAID = "Thursday, December third, at 2:30 PM. Suite 210. Call us at 3 1 2, 5 5 5, 0 1 0 0."


@pytest.mark.parametrize(
    "heard",
    [
        # pocketsphinx: words from its dictionary
        "thursday december third at two thirty p m suite two hundred ten "
        "call us at three one two five five five zero one zero zero",
        # Whisper: written forms
        "Thursday, December 3rd, at 2.30pm. Suite 210. Call us at 312-555-0100.",
        "Thursday, December 3rd at 2:30 p.m., suite 210. Call us at 312, 555, 0100.",
    ],
)
def test_numbers_written_or_said_score_the_same(heard: str) -> None:
    assert word_error_rate(words(SAID), words(heard)) == 0


def test_a_wrong_digit_or_a_dropped_word_still_counts() -> None:
    said = words(SAID)
    assert word_error_rate(said, words(SAID.replace("2:30", "2:40"))) == 1 / len(said)
    assert word_error_rate(said, words(SAID.replace("Suite ", ""))) == 1 / len(said)
    assert words("María, Ñandú; don't") == ["maria", "nandu", "don't"]


@pytest.mark.parametrize("recogniser", ["whisper-tiny.en", "whisper-base"])
def test_whisper_hears_piper_from_the_packaged_weights(recogniser: str) -> None:
    """Needs make bench-asr; the weights load from the installed packages, offline."""
    pytest.importorskip("faster_whisper")
    whisper = RECOGNISERS[recogniser]
    assert whisper is not None
    try:
        whisper.model_dir()
    except SystemExit as err:
        pytest.skip(str(err))
    text = "Please call Riverside Clinic about your visit on Thursday."
    pcm = read_wav(PiperEngine().synthesize(text, "en", BUILTIN_VOICE, 150))
    assert word_error_rate(words(text), hear(pcm, recogniser)) <= 0.2
