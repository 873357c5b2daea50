"""The optional offline voices, SVOX Pico and RHVoice: real programs, real audio.

``make voices`` installs them and ``make test`` runs it, so in CI every test here runs;
on a machine without them the tests that need a program skip (``require_program``).
"""

from __future__ import annotations

import io
import os
import re
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.support.voices import level_dbfs, require_program
from voices import (
    AudioFormat,
    Catalog,
    EngineUnavailable,
    PicoEngine,
    RhvoiceEngine,
    SynthesisTimeout,
    UnknownVoice,
    configured_speaker,
)
from voices.base import Engine
from voices.pico_engine import PICO_VOICES
from voices.rhvoice_engine import ALLOWED_VOICES

# engine class, language, voice, the sample rate its voices speak at
SPOKEN = [
    pytest.param(PicoEngine, "es", "es-ES", 16_000, id="pico-es"),
    pytest.param(PicoEngine, "fr", "fr-FR", 16_000, id="pico-fr"),
    pytest.param(PicoEngine, "de", "de-DE", 16_000, id="pico-de"),
    pytest.param(PicoEngine, "it", "it-IT", 16_000, id="pico-it"),
    pytest.param(RhvoiceEngine, "ru", "aleksandr", 24_000, id="rhvoice-ru"),
    pytest.param(RhvoiceEngine, "pt", "Leticia-F123", 24_000, id="rhvoice-pt"),
]
ENGINES = [pytest.param(PicoEngine, id="pico"), pytest.param(RhvoiceEngine, id="rhvoice")]
VOICE_OF = {PicoEngine: "es-ES", RhvoiceEngine: "aleksandr"}

RHVOICE_COPYRIGHT = Path("/usr/share/doc/rhvoice/copyright")


def read(wav: bytes) -> tuple[int, np.ndarray]:
    """A mono 16-bit WAV's rate and samples in [-1, 1], or an assertion naming what is wrong."""
    with wave.open(io.BytesIO(wav), "rb") as reader:
        assert reader.getnchannels() == 1 and reader.getsampwidth() == 2
        rate = reader.getframerate()
        frames = reader.readframes(reader.getnframes())
    return rate, np.frombuffer(frames, "<i2").astype(np.float32) / 32768


@pytest.mark.parametrize(("engine_class", "language", "voice", "rate_hz"), SPOKEN)
def test_each_voice_speaks_the_catalog_sample_as_real_audio(
    engine_class: type[PicoEngine | RhvoiceEngine],
    language: str,
    voice: str,
    rate_hz: int,
    catalog: Catalog,
) -> None:
    require_program(engine_class.program)
    sample = catalog.get(language).sample
    rate, samples = read(engine_class().synthesize(sample, language, voice, 150))
    assert rate == rate_hz
    assert level_dbfs(samples) > -40, "speech, not silence"
    # 150 words per minute is 0.4 s a word; pauses and slow syllables stay within x2.
    expected_s = len(sample.split()) * 0.4
    assert expected_s / 2 < len(samples) / rate < expected_s * 2


@pytest.mark.parametrize("engine_class", ENGINES)
def test_the_slow_rate_is_slower(engine_class: type[PicoEngine | RhvoiceEngine]) -> None:
    require_program(engine_class.program)
    engine, voice = engine_class(), VOICE_OF[engine_class]
    text = "Your visit is on Thursday, December third, at ten in the morning."
    normal = read(engine.synthesize(text, "xx", voice, 150))[1]
    slow = read(engine.synthesize(text, "xx", voice, 125))[1]
    assert len(slow) > len(normal) * 1.1


@pytest.mark.parametrize("engine_class", ENGINES)
def test_markup_in_the_text_is_read_not_obeyed(
    engine_class: type[PicoEngine | RhvoiceEngine],
) -> None:
    """A clinic's words cannot steer the voice: a tag in them is spoken as words (and
    so lasts seconds longer), never obeyed as a pause."""
    require_program(engine_class.program)
    engine, voice = engine_class(), VOICE_OF[engine_class]
    rate, marked = read(engine.synthesize('Room <break time="9000ms"/> 210', "xx", voice, 150))
    plain = read(engine.synthesize("Room 210", "xx", voice, 150))[1]
    assert len(marked) / rate > len(plain) / rate + 1.5
    assert longest_quiet_s(marked, rate) < 2


def longest_quiet_s(samples: np.ndarray, rate: int) -> float:
    """The longest stretch below -50 dBFS: a pause the voice made."""
    quiet = np.concatenate(([False], np.abs(samples) < 10 ** (-50 / 20), [False]))
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    runs = edges[1::2] - edges[::2]
    return float(runs.max(initial=0)) / rate


def test_the_speaker_encodes_pico_for_the_phone(
    tmp_path: Path, catalog: Catalog, ffprobe: Callable[[Path], object]
) -> None:
    require_program(PicoEngine.program)
    speaker = configured_speaker(tmp_path / "audio", piper_enabled=False)
    spoken = speaker.speak(catalog.get("es").sample, "es", "normal", AudioFormat.PHONE)
    assert (spoken.engine, spoken.voice, spoken.fallback_from) == ("pico", "es-ES", None)
    probe = ffprobe(spoken.path)
    assert (probe.codec_name, probe.sample_rate) == ("pcm_mulaw", 8000)  # type: ignore[attr-defined]


@pytest.mark.parametrize("engine_class", ENGINES)
def test_a_hung_child_is_killed_at_the_time_limit(
    engine_class: type[PicoEngine | RhvoiceEngine], tmp_path: Path
) -> None:
    """A program that never answers is stopped and reaped, not left holding a worker."""
    pid_file = tmp_path / "pid"
    hung = tmp_path / "hung"
    hung.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 600\n")
    hung.chmod(0o700)
    engine: Engine = engine_class(str(hung), timeout_s=0.5)
    with pytest.raises(SynthesisTimeout, match=r"took longer than 0\.5 s"):
        engine.synthesize("Your visit is tomorrow.", "xx", VOICE_OF[engine_class], 150)
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


@pytest.mark.parametrize("engine_class", ENGINES)
def test_a_missing_program_is_engine_unavailable(
    engine_class: type[PicoEngine | RhvoiceEngine], tmp_path: Path
) -> None:
    engine = engine_class(str(tmp_path / "not-installed"))
    with pytest.raises(EngineUnavailable, match="is not installed"):
        engine.synthesize("Your visit is tomorrow.", "xx", VOICE_OF[engine_class], 150)


def test_without_the_programs_each_language_falls_back_to_espeak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog: Catalog
) -> None:
    """A machine where make voices never ran: PATH holds espeak-ng and ffmpeg only."""
    bare = tmp_path / "bin"
    bare.mkdir()
    for program in ("espeak-ng", "ffmpeg"):
        (bare / program).symlink_to(require_program(program))
    monkeypatch.setenv("PATH", str(bare))
    speaker = configured_speaker(tmp_path / "audio", piper_enabled=False)
    for language, voice in {"es": "es-419", "fr": "fr-fr", "ru": "ru", "pt": "pt-br"}.items():
        spoken = speaker.speak(catalog.get(language).sample, language)
        assert (spoken.engine, spoken.voice, spoken.fallback_from) == ("espeak", voice, None)


def test_offered_voices_exist_and_only_commercially_usable_rhvoice_voices(
    catalog: Catalog,
) -> None:
    """Each catalog voice names its licence; no RHVoice voice forbids commercial use."""
    require_program(RhvoiceEngine.program)
    debian = debian_rhvoice_licences()
    offered = set()
    for language in catalog.languages():
        for voice in language.chain():
            if voice.engine == "pico":
                assert voice.voice in PICO_VOICES and "Apache-2.0" in voice.licence
                assert list(Path("/usr/share/pico/lang").glob(f"{voice.voice}_*.bin"))
            elif voice.engine == "rhvoice":
                offered.add(voice.voice)
                assert ALLOWED_VOICES[voice.voice] in voice.licence
                assert (Path("/usr/share/RHVoice/voices") / voice.voice).is_dir()
    assert offered == {"aleksandr", "Leticia-F123"}
    for voice, licence in ALLOWED_VOICES.items():
        assert debian.get(voice, "LGPL-2.1-or-later") == licence, voice
        assert "NC" not in licence
    # Debian's file does list non-commercial voices: the check above can see one.
    assert debian["artemiy"] == "CC-BY-NC-ND-4.0"
    with pytest.raises(UnknownVoice, match="licence"):
        RhvoiceEngine().synthesize("Your visit is tomorrow.", "ru", "artemiy", 150)


def debian_rhvoice_licences() -> dict[str, str]:
    """Voice -> licence, from the stanzas of Debian's machine-readable copyright file
    that name one voice; the rest fall under ``data/*``, LGPL-2.1+."""
    found = {}
    for stanza in RHVOICE_COPYRIGHT.read_text(encoding="utf-8").split("\n\n"):
        files = re.search(r"^Files: data/voices/([^/]+)/\*", stanza, re.MULTILINE)
        licence = re.search(r"^License: (\S+)", stanza, re.MULTILINE)
        if files and licence:
            found[files.group(1)] = licence.group(1).replace("2.1+", "2.1-or-later")
    return found
