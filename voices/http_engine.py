"""Voices on a speech server reached over HTTP: off unless configured, per language.

Self-hosted neural servers (Kokoro, openedai-speech and others with an OpenAI-compatible
``POST /v1/audio/speech``) and cloud services (Google, Graphlogic, ...) all sit behind an
HTTP call. Two dialects cover them: ``openai`` sends ``{"model", "input", "voice",
"response_format", "speed"}`` and gets audio back; ``json`` fills an operator's JSON body
template and reads the audio either as the whole answer or base64 in a named JSON field.

The message text, which is PHI, leaves the machine: configure a server only if it is
on-premises or its operator has signed a business associate agreement (BAA).

Its edges, contained here: every render has one time bound (``timeout_s``) covering
retries and waits, enforced from the calling thread, so a server that hangs or dribbles
bytes cannot hold a render longer; 5xx, 429 and connection failures are retried a bounded
number of times (a ``Retry-After`` is honoured only if it fits in the bound); a circuit
breaker per server skips it at once after failures in a row. Errors name the server's
host and the HTTP status, never the text, the secret or the answer's body (which may
echo the text). The Speaker then falls back to the language's offline voice.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import io
import json
import logging
import re
import struct
import time
import wave
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from voices.audio import decode_to_wav
from voices.base import (
    CatalogError,
    EncodingFailed,
    EngineUnavailable,
    SynthesisFailed,
    SynthesisTimeout,
    VoiceError,
    check_text,
)
from voices.catalog import Catalog, LanguageVoice
from voices.circuit_breaker import CircuitBreaker

__all__ = ["PLACEHOLDERS", "HttpEngine", "HttpVoice"]

logger = logging.getLogger(__name__)

# The speed OpenAI-compatible servers call 1.0; the catalog's "normal" rate.
NORMAL_WORDS_PER_MINUTE = 150

# What a ``json`` dialect body template may contain. A string that is exactly
# "{words_per_minute}" or "{speed}" becomes a number; anywhere else each is replaced
# as text inside the string.
PLACEHOLDERS = ("text", "voice", "language", "words_per_minute", "speed")
_NUMERIC_PLACEHOLDERS = frozenset({"words_per_minute", "speed"})
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

# The container ffmpeg reads for each ``format`` (OpenAI's ``response_format`` names).
_CONTAINERS = {"wav": "wav", "mp3": "mp3", "flac": "flac", "opus": "ogg", "aac": "aac"}

# Six minutes of 48 kHz 16-bit WAV is ~35 MB; an answer beyond this is not speech.
_MAX_AUDIO_BYTES = 64 * 1024 * 1024

# Statuses worth another try: the server is busy or briefly broken, not refusing us.
_RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})

# The first wait between tries when the server does not say; each next one doubles.
_FIRST_BACKOFF_S = 0.2

# Requests left running after their render gave up each hold a thread until their own
# deadline checks end them; a small pool bounds how many can pile up.
_MAX_REQUEST_THREADS = 8

# An HTTP header name (RFC 9110 token).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class HttpVoice(BaseModel):
    """One language's voice on an HTTP speech server (an entry of ``TELLWELL_HTTP_TTS``).

    Message text, which is PHI, is sent to ``url``: only for a server on-premises or
    covered by a business associate agreement (BAA).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    url: str
    """The endpoint, e.g. ``http://tts.internal:8880/v1/audio/speech``. Never put a key
    in it (URLs are logged): use ``auth_header`` and ``auth_secret``."""
    dialect: Literal["openai", "json"] = "openai"
    voice: str = Field(min_length=1)
    """The server's voice name (``af_heart``, ``alloy``, ``en-US-Neural2-F``...)."""
    model: str = Field(default="tts-1", min_length=1)
    """``openai`` dialect: the ``model`` field (``tts-1``, ``kokoro``...)."""
    format: Literal["wav", "mp3", "flac", "opus", "aac"] = "wav"
    """The audio the server answers with (``wav`` avoids a decoding step)."""
    auth_header: str = "Authorization"
    auth_secret: SecretStr = Field(default_factory=lambda: SecretStr(""))
    """The header's whole value (``Bearer sk-...``); empty: no header is sent."""
    body: dict[str, Any] | None = Field(default=None, validate_default=True)
    """``json`` dialect: the request body, with placeholders among ``PLACEHOLDERS``."""
    audio_field: str = ""
    """``json`` dialect: the dotted path of the base64 audio in a JSON answer
    (``audioContent``); empty: the answer's body is the audio."""
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    """Longest a render may take here, retries included, before the offline voice."""
    max_attempts: int = Field(default=3, ge=1, le=10)
    breaker_failures: int = Field(default=5, ge=1)
    """Failures in a row after which the server is skipped for ``breaker_cooldown_s``."""
    breaker_cooldown_s: float = Field(default=60.0, gt=0)
    licence: str = Field(default="the server operator's terms", min_length=1)
    """Shown in the language listing beside the voice, as every catalog voice is."""

    @field_validator("url")
    @classmethod
    def _plain_http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not carry credentials (URLs are logged): use auth_secret")
        return url

    @field_validator("auth_header")
    @classmethod
    def _header_name(cls, name: str) -> str:
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError("must be an HTTP header name such as Authorization or X-Api-Key")
        return name

    @field_validator("body")
    @classmethod
    def _body_template(cls, body: dict[str, Any] | None, info: ValidationInfo) -> Any:
        dialect = info.data.get("dialect")
        if dialect == "openai" and body is not None:
            raise ValueError("is for dialect 'json'; dialect 'openai' builds its own body")
        if dialect != "json":
            return body
        if body is None:
            raise ValueError("dialect 'json' needs a body template with a {text} placeholder")
        used = _placeholders_in(body)
        unknown = sorted(used - set(PLACEHOLDERS))
        if unknown:
            known = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
            raise ValueError(f"has unknown placeholder {{{unknown[0]}}}; known: {known}")
        if "text" not in used:
            raise ValueError("must contain the {text} placeholder in a string value")
        return body

    @field_validator("audio_field")
    @classmethod
    def _audio_field_for_json(cls, field: str, info: ValidationInfo) -> str:
        if field and info.data.get("dialect") == "openai":
            raise ValueError("is for dialect 'json'; dialect 'openai' answers with audio")
        return field

    @property
    def host(self) -> str:
        """The server as errors and logs name it (never the path's query)."""
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)

    def identity(self) -> str:
        """What decides the audio besides the text: part of the cache key.

        Switching servers, models, formats or templates then renders anew instead of
        serving the old server's audio. The secret is left out: it changes no sound.
        """
        fields = [self.url, self.dialect, self.model, self.format, self.body, self.audio_field]
        digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode("utf-8"))
        return digest.hexdigest()[:16]

    def request_body(self, text: str, language: str, voice: str, words_per_minute: int) -> Any:
        """The JSON body for one render."""
        speed = round(words_per_minute / NORMAL_WORDS_PER_MINUTE, 2)
        if self.dialect == "openai":
            return {
                "model": self.model,
                "input": text,
                "voice": voice,
                "response_format": self.format,
                "speed": speed,
            }
        values: dict[str, str | int | float] = {
            "text": text,
            "voice": voice,
            "language": language,
            "words_per_minute": words_per_minute,
            "speed": speed,
        }
        return _filled(self.body, values)


class HttpEngine:
    """The ``http`` engine: one configured voice per language code.

    ``monotonic`` and ``sleep`` are the clock the retries and breakers read and wait on
    (a test's clock that jumps instead of sleeping); the render's hard bound is always
    real time.
    """

    name = "http"
    # One request per message: fewest round trips, and the server sees whole sentences.
    sentence_cache = False

    def __init__(
        self,
        voices: Mapping[str, HttpVoice],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._voices = dict(voices)
        self._monotonic = monotonic
        self._sleep = sleep
        self._client = httpx.Client(follow_redirects=False)
        self._pool = ThreadPoolExecutor(_MAX_REQUEST_THREADS, thread_name_prefix="http-tts")
        # One breaker per server: languages sharing one share its failures.
        self._breakers: dict[str, CircuitBreaker] = {}
        for config in self._voices.values():
            self._breakers.setdefault(
                config.url,
                CircuitBreaker(config.breaker_failures, config.breaker_cooldown_s, monotonic),
            )

    @property
    def voices(self) -> dict[str, HttpVoice]:
        """The configured voice of each language code (a copy)."""
        return dict(self._voices)

    def catalog_voices(self, catalog: Catalog) -> list[LanguageVoice]:
        """Catalog entries for the configured voices, named as the catalog names them.

        A language the catalog speaks keeps its voice as the fallback (``with_leading``);
        one it records as unspoken (Somali) gains a voice with no offline fallback. Any
        other code is refused: a typo would otherwise add a language no one can pick.
        """
        spoken = {voice.code: voice for voice in catalog.languages()}
        unspoken = {entry.code: entry for entry in catalog.unspoken()}
        found = []
        for code, config in self._voices.items():
            named = spoken.get(code) or unspoken.get(code)
            if named is None:
                known = ", ".join(sorted(spoken | unspoken))
                raise CatalogError(
                    f"TELLWELL_HTTP_TTS names language {code!r}, which the voice catalog "
                    f"does not have; it has {known}"
                )
            found.append(
                LanguageVoice(
                    code=code,
                    name=named.name,
                    native_name=named.native_name,
                    engine=self.name,
                    voice=config.voice,
                    licence=config.licence,
                    provenance=f"HTTP speech server {config.host} ({config.dialect} dialect), "
                    "configured by the operator (TELLWELL_HTTP_TTS)",
                )
            )
        return found

    def breaker(self, language: str) -> CircuitBreaker:
        """The breaker of the server speaking ``language``."""
        return self._breakers[self._config(language).url]

    def cache_identity(self, language: str) -> str:
        """The engine part of the Speaker's cache key: the engine and the server's identity."""
        return f"{self.name}:{self._config(language).identity()}"

    def synthesize(self, text: str, language: str, voice: str, words_per_minute: int) -> bytes:
        """Speak ``text`` on the language's server; ``SynthesisFailed`` within the bound."""
        text = check_text(text)
        config = self._config(language)
        breaker = self._breakers[config.url]
        if not breaker.allow():
            raise SynthesisFailed(
                f"http engine skips {config.host} for now: {breaker.failure_threshold} "
                f"failures in a row (circuit open for {breaker.cooldown_s:g} s)"
            )
        deadline = self._monotonic() + config.timeout_s
        body = config.request_body(text, language, voice, words_per_minute)
        future: Future[bytes] = self._pool.submit(self._fetch, config, body, deadline)
        try:
            audio = future.result(timeout=config.timeout_s)
            wav = _as_wav(audio, config.format)
        except FutureTimeout as err:
            breaker.record_failure()
            raise SynthesisTimeout(
                f"http engine: {config.host} gave no audio within {config.timeout_s:g} s"
            ) from err
        except VoiceError:
            breaker.record_failure()
            raise
        except Exception as err:
            # Whatever else httpx or a server's answer raises: the contract is VoiceError
            # only, and a trial left unrecorded would hold the breaker half-open for good.
            breaker.record_failure()
            raise SynthesisFailed(
                f"http engine: {config.host} failed ({type(err).__name__})"
            ) from err
        breaker.record_success()
        return wav

    def close(self) -> None:
        """Stop the connection pool (requests still running end at their deadline)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def _config(self, language: str) -> HttpVoice:
        try:
            return self._voices[language]
        except KeyError as err:
            raise EngineUnavailable(f"http engine has no server for language {language!r}") from err

    def _fetch(self, config: HttpVoice, body: Any, deadline: float) -> bytes:
        """The audio, with bounded retries, all before ``deadline`` (runs in the pool)."""
        headers = {"Accept": "*/*"}
        secret = config.auth_secret.get_secret_value()
        if secret:
            headers[config.auth_header] = secret
        failure = "no attempt"
        for attempt in range(1, config.max_attempts + 1):
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                raise SynthesisTimeout(f"http engine: {config.host} ran out of time ({failure})")
            wait: float | None
            try:
                status, wait, data = self._attempt(config, body, headers, deadline, remaining)
            except httpx.TimeoutException as err:
                raise SynthesisTimeout(
                    f"http engine: {config.host} gave no audio within {config.timeout_s:g} s "
                    f"({type(err).__name__})"
                ) from err
            except httpx.TransportError as err:  # connection refused, reset, protocol
                failure, wait = type(err).__name__, None
            else:
                if data is not None:
                    return data
                failure = f"status {status}"
                if status not in _RETRIED_STATUSES:
                    raise SynthesisFailed(f"http engine: {config.host} answered {failure}")
            if attempt == config.max_attempts:
                break
            delay = wait if wait is not None else _FIRST_BACKOFF_S * 2 ** (attempt - 1)
            if self._monotonic() + delay >= deadline:
                raise SynthesisFailed(
                    f"http engine: {config.host} {failure}; a {delay:g} s wait would pass "
                    f"the {config.timeout_s:g} s bound"
                )
            logger.info(
                "http engine: %s %s; try %d of %d in %.2f s",
                config.host,
                failure,
                attempt + 1,
                config.max_attempts,
                delay,
            )
            self._sleep(delay)
        raise SynthesisFailed(
            f"http engine: {config.host} failed {config.max_attempts} times, last {failure}"
        )

    def _attempt(
        self,
        config: HttpVoice,
        body: Any,
        headers: dict[str, str],
        deadline: float,
        remaining: float,
    ) -> tuple[int, float | None, bytes | None]:
        """One request: (status, the server's Retry-After, the audio if it answered 2xx)."""
        with self._client.stream(
            "POST", config.url, json=body, headers=headers, timeout=remaining
        ) as response:
            if response.status_code != 200:
                return response.status_code, _retry_after(response.headers), None
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > _MAX_AUDIO_BYTES:
                    raise SynthesisFailed(f"http engine: {config.host} sent too much audio")
                if self._monotonic() > deadline:
                    raise SynthesisTimeout(f"http engine: {config.host} sent audio too slowly")
        if not config.audio_field:
            if not data:
                raise SynthesisFailed(f"http engine: {config.host} answered with no audio")
            return 200, None, bytes(data)
        return 200, None, _audio_in_json(bytes(data), config.audio_field, config.host)


def _as_wav(audio: bytes, fmt: str) -> bytes:
    """The server's audio as 16-bit WAV: a 16-bit WAV as is, anything else via ffmpeg
    (float or 24-bit WAV included), whose start-up costs more than the request."""
    if fmt == "wav" and _is_pcm16_wav(audio):
        return audio
    try:
        return decode_to_wav(audio, _CONTAINERS[fmt])
    except EncodingFailed as err:
        raise SynthesisFailed(f"http engine: the server's {fmt} audio is unreadable") from err


def _is_pcm16_wav(audio: bytes) -> bool:
    """Whether the header says 16-bit PCM with samples: what ``read_wav`` takes."""
    try:
        with wave.open(io.BytesIO(audio), "rb") as reader:
            return reader.getsampwidth() == 2 and reader.getnframes() > 0
    except (wave.Error, EOFError, struct.error, ValueError):
        return False


def _audio_in_json(data: bytes, field: str, host: str) -> bytes:
    """The base64 audio at a dotted path of a JSON answer."""
    try:
        found: Any = json.loads(data)
        for part in field.split("."):
            found = found[part]
        audio = base64.b64decode(found, validate=True)
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error) as err:
        raise SynthesisFailed(
            f"http engine: {host}'s answer has no base64 audio at {field!r}"
        ) from err
    if not audio:
        raise SynthesisFailed(f"http engine: {host}'s answer has empty audio at {field!r}")
    return audio


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date)."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _placeholders_in(template: Any) -> set[str]:
    """Every ``{name}`` in the template's string values (keys are left as written)."""
    if isinstance(template, str):
        return set(_PLACEHOLDER.findall(template))
    if isinstance(template, dict):
        template = list(template.values())
    if isinstance(template, list):
        return set().union(*(_placeholders_in(item) for item in template))
    return set()


def _filled(template: Any, values: Mapping[str, str | int | float]) -> Any:
    """The template with its placeholders replaced; the text stays a JSON string value,
    so no text can change the body's shape."""
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole and whole.group(1) in _NUMERIC_PLACEHOLDERS:
            return values[whole.group(1)]
        return _PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), template)
    if isinstance(template, dict):
        return {key: _filled(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [_filled(item, values) for item in template]
    return template
