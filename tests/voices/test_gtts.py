"""gtts offline: Google never answers, and the offline voice speaks within the bound.

Google is unreachable from here, so it is simulated over real TCP: gTTS is pointed (by
the standard HTTPS_PROXY variable it honours) at a local server that accepts the
connection and never answers, the way a silent network behaves, or at one whose queue of
connections is full, the way a firewall that drops packets behaves.
"""

from __future__ import annotations

import time

import pytest

from tests.support.voices import online_first_catalog
from voices import AudioFormat, GttsEngine, Speaker, SynthesisTimeout
from voices.gtts_engine import _fetch_mp3

TIMEOUT_S = 1.5
# The fallback render (espeak-ng, in-process encoding) takes well under a second.
FALLBACK_ALLOWANCE_S = 1.5


def test_silent_google_falls_back_offline_within_the_timeout(silent_proxy, tmp_path, espeak):
    engines = {"gtts": GttsEngine(timeout_s=TIMEOUT_S), "espeak": espeak}
    speaker = Speaker(tmp_path, online_first_catalog(), engines)

    started = time.monotonic()
    spoken = speaker.speak("Hola, su cita es mañana.", "es", "normal", AudioFormat.PHONE)
    elapsed = time.monotonic() - started

    assert elapsed < TIMEOUT_S + FALLBACK_ALLOWANCE_S, elapsed
    assert (spoken.engine, spoken.voice, spoken.fallback_from) == ("espeak", "es-419", "gtts")
    assert spoken.path.is_file() and spoken.duration_s > 1.0


def test_silent_google_alone_is_a_timeout_not_a_hang(silent_proxy):
    engine = GttsEngine(timeout_s=TIMEOUT_S)

    started = time.monotonic()
    with pytest.raises(SynthesisTimeout):
        engine.synthesize("Magandang araw.", "tl", "tl", 150)
    assert time.monotonic() - started < TIMEOUT_S + 0.5


def test_renders_are_throttled(silent_proxy):
    """Three renders in a burst start at least the throttle interval apart."""
    engine = GttsEngine(timeout_s=0.3, min_interval_s=0.4)
    started = time.monotonic()
    for _ in range(3):
        with pytest.raises(SynthesisTimeout):
            engine.synthesize("Magandang araw.", "tl", "tl", 150)
    assert time.monotonic() - started >= 0.8


def test_a_proxy_that_cannot_be_reached_in_time_is_a_timeout(proxy_that_cannot_be_reached):
    """requests raises this connect's timeout as a ProxyError (a connection error): it is
    still a timeout, as a log or a metric should say."""
    started = time.monotonic()
    with pytest.raises(SynthesisTimeout, match="gtts failed with voice 'tl'"):
        _fetch_mp3("Magandang araw.", "tl", False, 0.3)
    assert time.monotonic() - started < 1.0
