"""The http engine against a real speech server on a loopback port, speaking espeak-ng.

The server (devtools/tts_server.py) is real HTTP and answers with real audio; it can be
told to fail, ask for a wait, or hang. The engine's clock is a test clock: a retry's wait
moves it instead of sleeping, and a breaker's cool-down is skipped, not waited out. The
only real waits are the short time bounds of the hanging-server tests.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from devtools.ports import free_port
from devtools.tts_server import DRIBBLE, HANG, SPEAK, TtsServer, status
from service.config import Settings
from tests.support.clock import OffsetClock
from voices import (
    AudioFormat,
    CatalogError,
    HttpEngine,
    HttpVoice,
    Speaker,
    SynthesisFailed,
    SynthesisTimeout,
    configured_speaker,
)

SECRET = "Bearer sk-test-7f3a9c1d"
ENGLISH = (
    "Hello Maria, this is Riverside Clinic calling to remind you about your "
    "appointment tomorrow morning at ten o'clock. Thank you."
)
SPANISH = "Hola María, le recordamos su cita de mañana a las diez de la mañana."
HANG_BOUND_S = 0.6
# The fallback render (espeak-ng, in-process encoding) takes well under a second.
FALLBACK_ALLOWANCE_S = 1.5


class SteppingClock(OffsetClock):
    """The real time plus what the engine slept or the test skipped; sleeps are recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.skip(seconds)


@pytest.fixture
def server() -> Iterator[TtsServer]:
    running = TtsServer().start()
    yield running
    running.stop()


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def make_speaker(
    tmp_path: Path, espeak: Any, clock: SteppingClock
) -> Callable[..., tuple[Speaker, HttpEngine]]:
    """A Speaker whose ``language`` leads with the http engine, espeak-ng behind it."""

    def make(language: str = "en", **config: Any) -> tuple[Speaker, HttpEngine]:
        http = HttpEngine(
            {language: HttpVoice(**config)}, monotonic=clock.monotonic, sleep=clock.sleep
        )
        speaker = configured_speaker(
            tmp_path / "audio", piper_enabled=False, http_voices=http.voices
        )
        # The same configuration, with the engine on the test clock.
        return Speaker(speaker.cache_dir, speaker.catalog, {"http": http, "espeak": espeak}), http

    return make


def openai_config(server: TtsServer, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "url": f"{server.url}/v1/audio/speech",
        "voice": "en-us",
        "model": "espeak-ng",
        "auth_secret": SECRET,
    }
    return config | overrides


def test_openai_dialect_speaks_real_audio_with_the_key(
    server, make_speaker, decoded_seconds, levels, samples
):
    speaker, _ = make_speaker(**openai_config(server))

    spoken = speaker.speak(ENGLISH, "en", "slow", AudioFormat.PHONE)

    assert (spoken.engine, spoken.voice, spoken.fallback_from) == ("http", "en-us", None)
    low, high = samples.plausible_s
    assert low < decoded_seconds(spoken.path) < high * 150 / 125
    assert levels(spoken.path).mean_db > -35  # speech, not silence
    (request,) = server.requests
    assert request.headers["Authorization"] == SECRET
    assert request.body == {
        "model": "espeak-ng",
        "input": ENGLISH,
        "voice": "en-us",
        "response_format": "wav",
        "speed": 0.83,
    }


def test_mp3_answers_are_decoded(server, make_speaker, decoded_seconds, levels):
    speaker, _ = make_speaker(**openai_config(server, format="mp3"))

    spoken = speaker.speak(ENGLISH, "en", "normal", AudioFormat.PREVIEW)

    assert spoken.engine == "http" and decoded_seconds(spoken.path) > 5
    assert levels(spoken.path).mean_db > -35
    assert server.requests[0].body["response_format"] == "mp3"


def test_json_dialect_reads_base64_audio_from_a_named_field(
    server, make_speaker, decoded_seconds, levels
):
    speaker, _ = make_speaker(
        "es",
        url=f"{server.url}/v1/text:synthesize",
        dialect="json",
        voice="es-419",
        auth_header="X-Goog-Api-Key",
        auth_secret=SECRET,
        body={
            "input": {"text": "{text}"},
            "voice": {"languageCode": "{language}-US", "name": "{voice}"},
            "audioConfig": {"audioEncoding": "LINEAR16", "speakingRate": "{speed}"},
        },
        audio_field="audioContent",
    )

    spoken = speaker.speak(SPANISH, "es", "normal", AudioFormat.PHONE)

    assert (spoken.engine, spoken.voice) == ("http", "es-419")
    assert decoded_seconds(spoken.path) > 3 and levels(spoken.path).mean_db > -35
    (request,) = server.requests
    assert request.headers["X-Goog-Api-Key"] == SECRET
    assert request.body == {
        "input": {"text": SPANISH},
        "voice": {"languageCode": "es-US", "name": "es-419"},
        "audioConfig": {"audioEncoding": "LINEAR16", "speakingRate": 1.0},
    }


def test_json_dialect_takes_the_whole_answer_as_audio(server, make_speaker, decoded_seconds):
    speaker, _ = make_speaker(
        url=f"{server.url}/raw",
        dialect="json",
        voice="en-us",
        body={"text": "{text}", "voice": "{voice}", "words_per_minute": "{words_per_minute}"},
    )

    spoken = speaker.speak(ENGLISH, "en", "normal", AudioFormat.PHONE)

    assert spoken.engine == "http" and decoded_seconds(spoken.path) > 5
    (request,) = server.requests
    assert request.body["words_per_minute"] == 150  # a number, as the template's whole value
    assert "Authorization" not in request.headers  # no secret configured, no header


def test_an_answer_without_audio_where_configured_falls_back(server, clock):
    config = HttpVoice(
        url=f"{server.url}/v1/text:synthesize",
        dialect="json",
        voice="en-us",
        body={"input": {"text": "{text}"}, "voice": {"name": "{voice}"}},
        audio_field="audio.content",  # the server answers {"audioContent": ...}
        breaker_failures=1,
    )
    engine = HttpEngine({"en": config}, monotonic=clock.monotonic, sleep=clock.sleep)

    with pytest.raises(SynthesisFailed, match=r"no base64 audio at 'audio\.content'"):
        engine.synthesize(ENGLISH, "en", "en-us", 150)
    assert engine.breaker("en").state == "open"  # a wrong answer counts as a failure


def test_server_errors_are_retried_then_it_speaks(server, make_speaker, clock):
    speaker, _ = make_speaker(**openai_config(server))
    server.then(status(503), status(500))

    spoken = speaker.speak(ENGLISH, "en")

    assert (spoken.engine, spoken.fallback_from) == ("http", None)
    assert len(server.requests) == 3
    assert clock.slept == [0.2, 0.4]  # the engine's own backoff, doubling


def test_a_busy_server_is_asked_again_after_its_retry_after(server, make_speaker, clock):
    speaker, _ = make_speaker(**openai_config(server))
    server.then(status(429, retry_after="2"))

    spoken = speaker.speak(ENGLISH, "en")

    assert spoken.engine == "http" and len(server.requests) == 2
    assert clock.slept == [2.0]


def test_a_retry_after_beyond_the_bound_falls_back_at_once(server, make_speaker, clock):
    speaker, _ = make_speaker(**openai_config(server, timeout_s=5))
    server.then(status(503, retry_after="120"))

    spoken = speaker.speak(ENGLISH, "en")

    assert (spoken.engine, spoken.voice, spoken.fallback_from) == ("espeak", "en-us", "http")
    assert len(server.requests) == 1 and clock.slept == []


def test_a_refusal_is_not_retried(server, make_speaker):
    speaker, _ = make_speaker(**openai_config(server))
    server.then(status(401))

    spoken = speaker.speak(ENGLISH, "en")

    assert spoken.fallback_from == "http" and len(server.requests) == 1


def test_retries_are_bounded(server, make_speaker, clock):
    speaker, _ = make_speaker(**openai_config(server, max_attempts=2))
    server.then(status(502), status(502), status(502))

    spoken = speaker.speak(ENGLISH, "en")

    assert spoken.fallback_from == "http"
    assert len(server.requests) == 2 and clock.slept == [0.2]


def test_a_hanging_server_falls_back_to_espeak_within_the_bound(server, make_speaker):
    speaker, _ = make_speaker(**openai_config(server, timeout_s=HANG_BOUND_S))
    server.then(HANG)

    started = time.monotonic()
    spoken = speaker.speak(ENGLISH, "en", "normal", AudioFormat.PHONE)
    elapsed = time.monotonic() - started

    assert HANG_BOUND_S <= elapsed < HANG_BOUND_S + FALLBACK_ALLOWANCE_S, elapsed
    assert (spoken.engine, spoken.fallback_from) == ("espeak", "http")
    assert spoken.path.is_file() and spoken.duration_s > 5


def test_a_dribbling_server_cannot_hold_a_render_past_the_bound(server, make_speaker):
    """A byte every 50 ms never trips a read timeout; the render's own bound ends it."""
    speaker, _ = make_speaker(**openai_config(server, timeout_s=HANG_BOUND_S))
    server.then(DRIBBLE)

    started = time.monotonic()
    spoken = speaker.speak(ENGLISH, "en", "normal", AudioFormat.PHONE)
    elapsed = time.monotonic() - started

    assert elapsed < HANG_BOUND_S + FALLBACK_ALLOWANCE_S, elapsed
    assert (spoken.engine, spoken.fallback_from) == ("espeak", "http")


def test_connection_failures_are_retried_then_fall_back(make_speaker, clock):
    nothing_listens = f"http://127.0.0.1:{free_port()}/v1/audio/speech"
    speaker, http = make_speaker(url=nothing_listens, voice="en-us", breaker_failures=1)

    spoken = speaker.speak(ENGLISH, "en")

    assert (spoken.engine, spoken.fallback_from) == ("espeak", "http")
    assert clock.slept == [0.2, 0.4]  # three tries, then the offline voice
    assert http.breaker("en").state == "open"


def test_a_hanging_server_alone_is_a_timeout_not_a_hang(server):
    engine = HttpEngine({"en": HttpVoice(**openai_config(server, timeout_s=HANG_BOUND_S))})
    server.then(HANG)

    started = time.monotonic()
    with pytest.raises(SynthesisTimeout, match=r"no audio within 0\.6 s"):
        engine.synthesize(ENGLISH, "en", "en-us", 150)
    assert time.monotonic() - started < HANG_BOUND_S + 0.3


def test_the_breaker_opens_after_failures_and_closes_after_the_cool_down(
    server, make_speaker, clock
):
    speaker, http = make_speaker(
        **openai_config(server, max_attempts=1, breaker_failures=2, breaker_cooldown_s=30)
    )
    server.then(status(500), status(500), status(500))

    for n in range(2):
        assert speaker.speak(f"{ENGLISH} {n}", "en").fallback_from == "http"
    assert http.breaker("en").state == "open"
    # Open: the server is not asked at all, and the offline voice speaks at once.
    assert speaker.speak(f"{ENGLISH} 2", "en").fallback_from == "http"
    assert len(server.requests) == 2

    clock.skip(30)
    # Half-open: one trial goes to the server; it fails (the third 500) and reopens.
    assert speaker.speak(f"{ENGLISH} 3", "en").fallback_from == "http"
    assert len(server.requests) == 3 and http.breaker("en").state == "open"

    clock.skip(30)
    spoken = speaker.speak(f"{ENGLISH} 4", "en")
    assert (spoken.engine, spoken.fallback_from) == ("http", None)
    assert http.breaker("en").state == "closed" and len(server.requests) == 4


def test_an_open_breaker_refuses_without_waiting(server, clock):
    config = HttpVoice(**openai_config(server, max_attempts=1, breaker_failures=1))
    engine = HttpEngine({"en": config}, monotonic=clock.monotonic, sleep=clock.sleep)
    server.then(status(500))
    with pytest.raises(SynthesisFailed, match="status 500"):
        engine.synthesize(ENGLISH, "en", "en-us", 150)

    with pytest.raises(SynthesisFailed, match="circuit open"):
        engine.synthesize(ENGLISH, "en", "en-us", 150)
    assert len(server.requests) == 1


def test_the_cache_serves_repeats_and_tells_servers_apart(server, make_speaker):
    first, _ = make_speaker(**openai_config(server))
    again, _ = make_speaker(**openai_config(server))
    other_model, _ = make_speaker(**openai_config(server, model="other-model"))

    a = first.speak(ENGLISH, "en")
    b = again.speak(ENGLISH, "en")
    assert (a.path, len(server.requests)) == (b.path, 1)  # a repeat is not sent again

    c = other_model.speak(ENGLISH, "en")
    assert c.path != a.path and len(server.requests) == 2  # another server or model: anew

    other = TtsServer().start()
    try:
        moved, _ = make_speaker(**openai_config(other))
        d = moved.speak(ENGLISH, "en")
        assert d.path not in (a.path, c.path) and len(other.requests) == 1
    finally:
        other.stop()


@pytest.mark.parametrize(
    ("config", "field", "reason"),
    [
        ({"url": "ftp://tts.internal/speak"}, "http_tts.en.url", "http:// or https://"),
        ({"url": "https://user:pw@tts.internal/v1"}, "http_tts.en.url", "credentials"),
        ({"dialect": "soap"}, "http_tts.en.dialect", "'openai' or 'json'"),
        ({"voice": ""}, "http_tts.en.voice", "at least 1 character"),
        ({"timeout_s": 0}, "http_tts.en.timeout_s", "greater than 0"),
        ({"auth_header": "Bad Header:"}, "http_tts.en.auth_header", "header name"),
        ({"dialect": "json"}, "http_tts.en.body", "needs a body template"),
        (
            {"dialect": "json", "body": {"q": "{txt}"}},
            "http_tts.en.body",
            "unknown placeholder {txt}",
        ),
        ({"dialect": "json", "body": {"q": "{voice}"}}, "http_tts.en.body", "{text}"),
        ({"audio_field": "audioContent"}, "http_tts.en.audio_field", "dialect 'json'"),
        ({"auth_secert": SECRET}, "http_tts.en.auth_secert", "Extra inputs"),
    ],
)
def test_bad_configuration_is_refused_naming_the_field(config, field, reason, monkeypatch):
    entry = {"url": "http://tts.internal:8880/v1/audio/speech", "voice": "af_heart"} | config
    monkeypatch.setenv("TELLWELL_HTTP_TTS", json.dumps({"en": entry}))

    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)  # type: ignore[call-arg]

    message = str(refused.value)
    assert field in message and reason in message, message
    assert SECRET not in message


def test_the_settings_read_the_operator_s_json(monkeypatch):
    monkeypatch.setenv(
        "TELLWELL_HTTP_TTS",
        '{"en": {"url": "http://tts.internal:8880/v1/audio/speech", "voice": "af_heart",'
        f' "model": "kokoro", "auth_secret": "{SECRET}"}}}}',
    )

    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    voice = settings.http_tts["en"]
    assert (voice.voice, voice.model, voice.auth_secret.get_secret_value()) == (
        "af_heart",
        "kokoro",
        SECRET,
    )
    assert SECRET not in repr(settings) and SECRET not in str(settings.http_tts)
    monkeypatch.delenv("TELLWELL_HTTP_TTS")
    assert Settings(_env_file=None).http_tts == {}  # type: ignore[call-arg]  # off by default


def test_a_language_the_catalog_lacks_is_refused_at_start(tmp_path):
    voices = {"xx": HttpVoice(url="http://tts.internal/v1/audio/speech", voice="a")}

    with pytest.raises(CatalogError, match="TELLWELL_HTTP_TTS names language 'xx'"):
        configured_speaker(tmp_path, piper_enabled=False, http_voices=voices)


def test_an_unspoken_language_gains_a_voice_from_its_server(tmp_path, server):
    voices = {"so": HttpVoice(url=f"{server.url}/v1/audio/speech", voice="en-us")}

    speaker = configured_speaker(tmp_path, piper_enabled=False, http_voices=voices)

    voice = speaker.voice_for("so")
    assert (voice.name, voice.engine, voice.fallback) == ("Somali", "http", None)
    assert speaker.speak("Nabad.", "so").engine == "http"


def test_neither_the_secret_nor_the_text_is_logged(server, make_speaker, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, httpx's and httpcore's included
    speaker, _ = make_speaker(
        **openai_config(server, timeout_s=HANG_BOUND_S, max_attempts=2, breaker_failures=3)
    )
    server.then(status(503), SPEAK, status(401), status(429, retry_after="1"), status(500), HANG)

    spoken = [speaker.speak(f"{ENGLISH} {n}", "en").fallback_from for n in range(5)]

    assert spoken == [None, "http", "http", "http", "http"]  # each failure path was taken
    assert "falling back" in caplog.text and "HTTP Request" in caplog.text
    assert SECRET not in caplog.text and "sk-test" not in caplog.text
    assert "Maria" not in caplog.text and "Riverside" not in caplog.text
