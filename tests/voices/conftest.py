"""Shared parts for the voices tests: the real engine, sample sentences, ffprobe checks.

Everything here runs the real espeak-ng and ffmpeg. Where a test needs to see inside
(how often the engine ran), it wraps the real engine rather than replacing it.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.voices import CountingEngine
from voices import Catalog, EspeakEngine

# How long external probes may take before the test fails instead of hanging.
PROBE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Probe:
    """What ffprobe says about an audio file's first stream and its container."""

    codec_name: str
    sample_rate: int
    channels: int
    bits_per_sample: int
    format_name: str


@dataclass(frozen=True)
class Levels:
    """ffmpeg volumedetect's reading of a file, in dBFS."""

    mean_db: float
    max_db: float


@dataclass(frozen=True)
class Samples:
    """Twenty-word reminders per language code, and how long 20 words may plausibly last.

    At 150 words per minute 20 words are 8 s, give or take pauses; outside 6 to 12 s a
    listener would call the audio broken (cut short, or dragging).
    """

    by_language: dict[str, str]
    plausible_s: tuple[float, float] = (6.0, 12.0)

    @property
    def en(self) -> str:
        return self.by_language["en"]

    @property
    def es(self) -> str:
        return self.by_language["es"]


@pytest.fixture(scope="session")
def samples() -> Samples:
    return Samples(
        by_language={
            "en": "Hello Maria, this is Riverside Clinic calling to remind you about your "
            "appointment tomorrow morning at ten o'clock. Thank you.",
            "es": "Hola María, le llamamos de la Clínica Riverside para recordarle su cita "
            "de mañana a las diez de la mañana.",
        }
    )


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture(scope="session")
def espeak() -> EspeakEngine:
    return EspeakEngine()


@pytest.fixture
def counting_espeak(espeak: EspeakEngine) -> CountingEngine:
    return CountingEngine(espeak)


@pytest.fixture(scope="session")
def ffprobe() -> Callable[[Path], Probe]:
    def probe(path: Path) -> Probe:
        done = subprocess.run(
            ["ffprobe", "-v", "error", "-of", "json", "-show_streams", "-show_format", str(path)],
            capture_output=True,
            check=True,
            timeout=PROBE_TIMEOUT_S,
        )
        report = json.loads(done.stdout)
        stream = report["streams"][0]
        return Probe(
            codec_name=stream["codec_name"],
            sample_rate=int(stream["sample_rate"]),
            channels=int(stream["channels"]),
            bits_per_sample=int(stream.get("bits_per_sample", 0)),
            format_name=report["format"]["format_name"],
        )

    return probe


@pytest.fixture(scope="session")
def decoded_seconds() -> Callable[[Path], float]:
    """Seconds of audio ffmpeg decodes from a file: what a player would play."""

    def seconds(path: Path) -> float:
        done = subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-i",
                str(path),
                "-f",
                "s16le",
                "-ac",
                "1",
                "-ar",
                "8000",
                "pipe:1",
            ],
            capture_output=True,
            check=True,
            timeout=PROBE_TIMEOUT_S,
        )
        return len(done.stdout) / 2 / 8000

    return seconds


@pytest.fixture(scope="session")
def levels() -> Callable[..., Levels]:
    """ffmpeg's volumedetect on a file, optionally after a filter (e.g. a band-pass)."""

    def measure(path: Path, prefilter: str = "") -> Levels:
        chain = f"{prefilter},volumedetect" if prefilter else "volumedetect"
        done = subprocess.run(
            [
                "ffmpeg",
                "-hide_banner",
                "-nostats",
                "-i",
                str(path),
                "-af",
                chain,
                "-f",
                "null",
                "-",
            ],
            capture_output=True,
            check=True,
            timeout=PROBE_TIMEOUT_S,
            text=True,
        )
        mean = re.search(r"mean_volume: (-?[\d.]+|-inf) dB", done.stderr)
        peak = re.search(r"max_volume: (-?[\d.]+|-inf) dB", done.stderr)
        assert mean and peak, done.stderr
        return Levels(mean_db=float(mean.group(1)), max_db=float(peak.group(1)))

    return measure
