"""Looking inside the real voices: a run-counting engine wrapper, catalog look-ups, and
the optional voice programs."""

from __future__ import annotations

import os
import shutil
import threading

import numpy as np
import numpy.typing as npt
import pytest

from voices import Catalog, Engine, LanguageVoice
from voices.scripts import phrases, sentences


class CountingEngine:
    """The real engine, counting its runs and keeping the texts it was given: shows
    whether the cache spared the engine, and how the Speaker cut a message."""

    def __init__(self, inner: Engine) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.calls = 0
        self.texts: list[str] = []

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def sentence_cache(self) -> bool:
        return self._inner.sentence_cache

    def synthesize(self, text: str, language: str, voice: str, words_per_minute: int) -> bytes:
        with self._lock:
            self.calls += 1
            self.texts.append(text)
        return self._inner.synthesize(text, language, voice, words_per_minute)


def distinct_phrases(text: str) -> int:
    """How many runs a phrase-caching engine (espeak-ng, Piper) needs for ``text`` on an
    empty cache: one per distinct phrase."""
    return len({part for sentence in sentences(text) for part in phrases(sentence)})


def mp3_pieces(text: str) -> int:
    """How many sentence pieces a composed MP3 of ``text`` caches: one per distinct
    sentence, the last one apart (it has no pause after it); none for one sentence."""
    said = sentences(text)
    if len(said) == 1:
        return 0
    return len({(sentence, index == len(said) - 1) for index, sentence in enumerate(said)})


def voice_of(catalog: Catalog, language: str, engine: str) -> LanguageVoice:
    """The catalog's voice for ``language`` on ``engine`` (leading or fallback)."""
    (voice,) = [voice for voice in catalog.get(language).chain() if voice.engine == engine]
    return voice


def online_first_catalog() -> Catalog:
    """Spanish led by Google's voice, the shipped offline voice behind it."""
    data = {
        "format": 2,
        "rates_words_per_minute": {"normal": 150},
        "languages": {
            "es": {
                "name": "Spanish",
                "native_name": "Español",
                "sample": "Hola.",
                "engine": "gtts",
                "voice": "es",
                "licence": "online service",
                "provenance": "test",
                "fallback": {
                    "engine": "espeak",
                    "voice": "es-419",
                    "licence": "GPL-3.0-or-later",
                    "provenance": "espeak-ng",
                },
            }
        },
    }
    return Catalog.from_dict(data)


def require_program(program: str) -> str:
    """The path of an optional voice program that ``make voices`` installs.

    Skips where it is not installed on a developer's machine; fails in CI (``CI`` set),
    where ``make test`` has run ``make voices``, so a broken install cannot hide as a skip.
    """
    path = shutil.which(program)
    if path is not None:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{program} is not installed, but make test runs make voices")
    pytest.skip(f"{program} is not installed here (make voices installs it)")


def level_dbfs(samples: npt.NDArray[np.float32]) -> float:
    """The RMS level of float samples in [-1, 1], in dB under full scale (silence: -240)."""
    return float(10 * np.log10(np.mean(np.square(samples, dtype=np.float64)) + 1e-24))


def level_envelope_db(
    samples: npt.NDArray[np.float32], frame: int = 160
) -> npt.NDArray[np.float64]:
    """Each ``frame`` samples' RMS level in dBFS (20 ms at 8 kHz): loudness over time."""
    frames = np.square(samples[: len(samples) // frame * frame], dtype=np.float64).reshape(
        -1, frame
    )
    return np.asarray(10 * np.log10(frames.mean(axis=1) + 1e-12))


def spectrogram(samples: npt.NDArray[np.float32], window: int = 256) -> npt.NDArray[np.float64]:
    """Magnitudes of ``window``-sample Hann-windowed frames: what an ear (or a recogniser)
    takes in, blind to a fraction of a sample's shift."""
    frames = samples[: len(samples) // window * window].reshape(-1, window) * np.hanning(window)
    return np.asarray(np.abs(np.fft.rfft(frames, axis=1)))
