"""gtts offline: Google never answers, and the offline voice speaks within the bound.

Google is unreachable from here, so it is simulated over real TCP: gTTS is pointed (by
the standard HTTPS_PROXY variable it honours) at a local server that accepts the
connection and never answers, the way a silent network behaves.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from voices import AudioFormat, Catalog, GttsEngine, Speaker, SynthesisTimeout

TIMEOUT_S = 1.5
# The fallback render (espeak-ng, in-process encoding) takes well under a second.
FALLBACK_ALLOWANCE_S = 1.5


@pytest.fixture
def silent_proxy(monkeypatch) -> Iterator[str]:
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])  # and never answer
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    yield url
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()
    assert accepted, "gTTS never reached the simulated network"


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
