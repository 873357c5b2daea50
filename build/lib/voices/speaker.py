"""Text in, an audio file out: catalog, engine and encoding behind one call, cached.

The cache is content-addressed: the file name is a hash of everything that decides how
the audio sounds, so a sentence said the same way is spoken once, a repeat costs a
``stat``, and a file name never reveals the words. Files are written whole under a
temporary name and renamed into place, so a reader (another thread, another worker
process, the web server) sees either the finished file or nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from voices.audio import AudioFormat, EncodedAudio, duration_of, encode
from voices.base import EncodingFailed, Engine, EngineUnavailable, check_text
from voices.catalog import Catalog, LanguageVoice
from voices.espeak import EspeakEngine

__all__ = ["CACHE_KEY_VERSION", "Speaker", "SpokenAudio", "cache_key"]

logger = logging.getLogger(__name__)

# Part of every cache key. Bump it when a change here or in voices.audio (a new loudness
# target, another codec setting) would make the same request sound different, so old
# files are not served for new requests.
CACHE_KEY_VERSION = "1"

# Renders of the same key within one process wait for each other rather than both running
# the engine. Keys share a fixed set of locks, so memory stays bounded however many keys
# pass through; two different keys on one lock merely take turns.
_LOCK_STRIPES = 64

# The audio may be a patient's message: readable by the service's own user only.
_CACHE_DIR_MODE = 0o700


@dataclass(frozen=True)
class SpokenAudio:
    """A finished, cached audio file and what it was made with (never the text)."""

    key: str
    path: Path
    duration_s: float
    engine: str
    voice: str
    language: str
    format: AudioFormat
    media_type: str


def cache_key(
    engine: str, voice: str, language: str, words_per_minute: int, fmt: AudioFormat, text: str
) -> str:
    """The sha256 hex digest naming the audio for this exact request.

    JSON-encoded as a list, so no choice of text can make two different requests
    serialise alike (as plain concatenation could).
    """
    fields = [CACHE_KEY_VERSION, engine, voice, language, words_per_minute, fmt.value, text]
    payload = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class Speaker:
    """Speaks text in a patient's language, once, into a shared audio cache.

    Safe to share between threads. ``engines`` maps each catalog engine name to an
    engine; by default only espeak-ng is available. Pass a catalog or engines to swap
    a real part for another real one (a test's counting engine, a different catalog).
    """

    def __init__(
        self,
        cache_dir: Path,
        catalog: Catalog | None = None,
        engines: Mapping[str, Engine] | None = None,
    ) -> None:
        self._cache_dir = Path(cache_dir)
        self._catalog = catalog if catalog is not None else Catalog.load()
        default: dict[str, Engine] = {EspeakEngine.name: EspeakEngine()}
        self._engines: dict[str, Engine] = dict(engines if engines is not None else default)
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]

    @property
    def catalog(self) -> Catalog:
        """The catalog this Speaker chooses voices from."""
        return self._catalog

    @property
    def cache_dir(self) -> Path:
        """Where audio files are kept."""
        return self._cache_dir

    def voice_for(self, language: str) -> LanguageVoice:
        """The catalog voice that speaks ``language`` (raises ``UnknownLanguage``)."""
        return self._catalog.get(language)

    def speak(
        self,
        text: str,
        language: str,
        rate: str = "normal",
        fmt: AudioFormat = AudioFormat.PREVIEW,
    ) -> SpokenAudio:
        """Speak ``text`` in ``language`` at a named ``rate``, as ``fmt``; cached.

        Raises ``InvalidRequest`` subclasses for bad text, language or rate, and other
        ``VoiceError`` subclasses when the engine or the encoder fails.
        """
        check_text(text)
        voice = self.voice_for(language)
        words_per_minute = self._catalog.words_per_minute(rate)
        engine = self._engines.get(voice.engine)
        if engine is None:
            raise EngineUnavailable(
                f"language {voice.code!r} is spoken by engine {voice.engine!r}, "
                "which this Speaker was not given"
            )
        key = cache_key(engine.name, voice.voice, voice.code, words_per_minute, fmt, text)
        path = self._cache_dir / key[:2] / f"{key}.{fmt.extension}"

        def spoken(duration_s: float) -> SpokenAudio:
            return SpokenAudio(
                key=key,
                path=path,
                duration_s=duration_s,
                engine=engine.name,
                voice=voice.voice,
                language=voice.code,
                format=fmt,
                media_type=fmt.media_type,
            )

        with self._locks[int(key[:8], 16) % _LOCK_STRIPES]:
            duration_s = _cached_duration(path, fmt)
            if duration_s is not None:
                logger.debug(
                    "speech cache hit %s (%s/%s, %s)", key[:12], engine.name, voice.voice, fmt.value
                )
                return spoken(duration_s)
            started = time.monotonic()
            wav = engine.synthesize(text, voice.code, voice.voice, words_per_minute)
            audio = encode(wav, fmt)
            _store(path, audio)
            logger.info(
                "spoke %s (%s/%s, %d wpm, %s): %.1f s of audio in %.0f ms",
                key[:12],
                engine.name,
                voice.voice,
                words_per_minute,
                fmt.value,
                audio.duration_s,
                (time.monotonic() - started) * 1000,
            )
            return spoken(audio.duration_s)


def _sidecar(path: Path) -> Path:
    """Where a cached file's duration and size are kept (same name, ``.json``)."""
    return path.with_suffix(".json")


def _cached_duration(path: Path, fmt: AudioFormat) -> float | None:
    """The duration of a complete cached file, or None when it must be rendered.

    The sidecar answers without decoding. If it is lost, the file is decoded once and the
    sidecar rewritten; if the file does not match its sidecar's size, it is rendered again.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    try:
        facts = json.loads(_sidecar(path).read_text(encoding="utf-8"))
        if facts["size_bytes"] == size:
            return float(facts["duration_s"])
        return None
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        duration_s = duration_of(path.read_bytes(), fmt)
    except (OSError, EncodingFailed):
        return None
    # Only a speed-up for next time: a read-only cache still serves the file.
    with contextlib.suppress(OSError):
        _write_atomically(_sidecar(path), _sidecar_bytes(duration_s, size))
    return duration_s


def _sidecar_bytes(duration_s: float, size_bytes: int) -> bytes:
    return json.dumps({"duration_s": duration_s, "size_bytes": size_bytes}).encode("utf-8")


def _store(path: Path, audio: EncodedAudio) -> None:
    """Put a rendered file in the cache: sidecar first, so any visible file has one."""
    # mkdir(parents=True) would give the cache root default permissions; set both levels.
    path.parent.parent.mkdir(mode=_CACHE_DIR_MODE, parents=True, exist_ok=True)
    path.parent.mkdir(mode=_CACHE_DIR_MODE, exist_ok=True)
    _write_atomically(_sidecar(path), _sidecar_bytes(audio.duration_s, len(audio.data)))
    _write_atomically(path, audio.data)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write a whole file under a temporary name in the same folder, then rename it.

    os.replace is atomic within a file system, so concurrent writers of the same key
    (threads or processes) each leave a complete file and readers never see half of
    one. fsync first, so a crash cannot leave a renamed but empty file behind.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
