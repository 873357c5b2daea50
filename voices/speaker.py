"""Text in, an audio file out: catalog, engine and encoding behind one call, cached.

The cache is content-addressed: the file name is a hash of everything that decides how
the audio sounds, so a message said the same way is spoken once, a repeat costs a
``stat``, and a file name never reveals the words. For an engine that is slow per word
or per start (Piper, espeak-ng) each phrase is cached on its own too, so a message is
composed from the phrases (a date, a time, a provider) that thousands of others share,
and only the new ones (the greeting with the patient's name) are spoken; as MP3, each
sentence's encoding is cached as well, and a message is its sentences' MP3 end to end
(``Speaker._encoded``). Files are
written whole under a temporary name and renamed into place, so a reader (another
thread, another worker process, the web server) sees either the finished file or nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cachetools import LRUCache

from voices.audio import (
    SENTENCE_PAUSE_S,
    AudioFormat,
    EncodedAudio,
    Pcm,
    duration_of,
    encode_pcm,
    encodes_in_pieces,
    join,
    mp3_joined,
    mp3_piece,
    piece_gain_db,
    read_wav,
    resampled,
    to_wav,
)
from voices.base import (
    EncodingFailed,
    Engine,
    InvalidRequest,
    UnknownLanguage,
    VoiceError,
    check_text,
)
from voices.catalog import Catalog, LanguageVoice, UnspokenLanguage
from voices.espeak import EspeakEngine
from voices.scripts import for_script, phrases, sentences

__all__ = [
    "CACHE_KEY_VERSION",
    "MAX_PAUSE_S",
    "MP3_PIECE_KIND",
    "PHRASE_JOIN_PAUSE_S",
    "PHRASE_KIND",
    "Speaker",
    "SpokenAudio",
    "cache_key",
    "cached_files",
    "composed",
    "spoken_sentences",
]

logger = logging.getLogger(__name__)

# Part of every cache key. Bump it when a change here or in voices.audio (a new loudness
# target, another codec setting) would make the same request sound different, so old
# files are not served for new requests.
CACHE_KEY_VERSION = "7"

# The longest silence between sentences a caller may ask for: longer is a mistake, not a pace.
MAX_PAUSE_S = 3.0

# The "format" part of a cached phrase's key: the engine's raw speech of one phrase as
# WAV, before joining, levelling and encoding (which happen per message).
PHRASE_KIND = "phrase"

# The "format" part of a cached MP3 piece's key (after its encoding: the app's and the
# preview's share pieces): one sentence of a message, encoded to be joined with the others
# (``voices.audio.mp3_piece``).
MP3_PIECE_KIND = "piece"

# A cached phrase or piece ends in a digest of what precedes it (``_seal``), this long.
_SEAL_BYTES = 16

# Silence added between the phrases of one sentence: none. Piper leaves about 0.3 s after
# a phrase spoken on its own and 0.05 s before one, together about the 0.4-0.5 s it leaves
# at a comma inside the whole sentence (measured at 150 words a minute).
PHRASE_JOIN_PAUSE_S = 0.0

# Renders of the same key within one process wait for each other rather than both running
# the engine. Keys share a fixed set of locks, so memory stays bounded however many keys
# pass through; two different keys on one lock merely take turns.
_LOCK_STRIPES = 64

# The audio may be a patient's message: readable by the service's own user only.
_CACHE_DIR_MODE = 0o700

PHRASES_IN_MEMORY_BYTES = 64 * 1024 * 1024
"""How much of its phrases' speech a Speaker keeps in memory, at the rate of the format they
were last composed into (the phone's 8 kHz): a schedule's dates, times and clinic lines
are in thousands of messages, and reading each from its file and resampling each message
whole for the phone line was about an eighth of an espeak-ng worker's time (issue 13)."""

MEMORY_RECHECK_S = 60.0
"""How often, as it starts a message phrase by phrase (``_encoded``), a Speaker lets go of
the phrases in memory whose cache files are gone: erasing a patient deletes their
greeting's phrase file, and a worker in another process must not keep holding the name
it says (a hit on such a phrase speaks it anew at once: ``_phrase``)."""


@dataclass(frozen=True)
class SpokenAudio:
    """A finished, cached audio file and what it was made with (never the text).

    ``fallback_from`` names the engine that was tried first and failed (an online engine
    that overran its time limit, say), when the audio comes from the language's fallback.
    """

    key: str
    path: Path
    duration_s: float
    engine: str
    voice: str
    language: str
    format: AudioFormat
    media_type: str
    fallback_from: str | None = None


def cache_key(
    engine: str,
    voice: str,
    language: str,
    words_per_minute: int,
    fmt: AudioFormat | str,
    text: str,
    secret: bytes = b"",
    *,
    pause_s: float | None = None,
    gain_db: float | None = None,
) -> str:
    """The hex digest naming the audio for this exact request.

    JSON-encoded as a list, so no choice of text can make two different requests
    serialise alike (as plain concatenation could). With a ``secret`` it is an
    HMAC-SHA256: someone who can list the cache folder then cannot confirm a guessed
    short message ("your HIV results are ready") by hashing it themselves. ``pause_s``,
    the silence between sentences, is part of a message's key (in whole milliseconds);
    a cached phrase has none (None). ``gain_db``: the level an MP3 piece was encoded at
    (in tenths of a decibel).
    """
    kind = fmt.value if isinstance(fmt, AudioFormat) else fmt
    fields: list[object] = [CACHE_KEY_VERSION, engine, voice, language, words_per_minute, kind]
    if pause_s is not None:
        fields.append(round(pause_s * 1000))
    if gain_db is not None:
        fields.append(round(gain_db * 10))
    fields.append(text)
    payload = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if secret:
        return hmac.new(secret, payload, hashlib.sha256).hexdigest()
    return hashlib.sha256(payload).hexdigest()


ONLINE_ENGINES = frozenset({"gtts"})
"""Engines that send the text off the machine: a language that only they speak has no
offline voice."""


def _why_off(entry: LanguageVoice) -> str:
    """Why no voice of ``entry`` can speak here: every engine it needs is off."""
    engines = list(dict.fromkeys(voice.engine for voice in entry.chain()))
    needs = " or ".join(engines)
    if set(engines) <= ONLINE_ENGINES:
        return f"no offline voice; needs the online engine {needs} (Google's voice), which is off"
    return f"needs the engine {needs}, which is off"


def composed(text: str, speak: Callable[[str], Pcm], pause_s: float) -> Pcm:
    """``text`` spoken phrase by phrase with ``speak``: a sentence's phrases joined end to
    end (``PHRASE_JOIN_PAUSE_S``), its sentences with ``pause_s`` between them."""
    return join([said for _, said in spoken_sentences(text, speak)], pause_s)


def spoken_sentences(text: str, speak: Callable[[str], Pcm]) -> list[tuple[str, Pcm]]:
    """Each sentence of ``text`` with its speech: its phrases said by ``speak``, joined."""
    return [
        (sentence, join([speak(part) for part in phrases(sentence)], PHRASE_JOIN_PAUSE_S))
        for sentence in sentences(text)
    ]


class Speaker:
    """Speaks text in a patient's language, once, into a shared audio cache.

    Safe to share between threads. ``engines`` maps each catalog engine name to an
    engine; by default only espeak-ng is available. A language is spoken by the first
    voice in its catalog chain whose engine was given, and falls back along the chain
    when that engine fails. Pass a catalog or engines to swap a real part for another
    real one (a test's counting engine, a different catalog).
    """

    def __init__(
        self,
        cache_dir: Path,
        catalog: Catalog | None = None,
        engines: Mapping[str, Engine] | None = None,
        *,
        cache_secret: bytes = b"",
    ) -> None:
        self._cache_dir = Path(cache_dir)
        self._catalog = catalog if catalog is not None else Catalog.load()
        default: dict[str, Engine] = {EspeakEngine.name: EspeakEngine()}
        self._engines: dict[str, Engine] = dict(engines if engines is not None else default)
        self._secret = cache_secret
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]
        self._phrases_in_memory: LRUCache[tuple[str, int], Pcm] = LRUCache(
            PHRASES_IN_MEMORY_BYTES, getsizeof=lambda pcm: pcm.samples.nbytes
        )
        self._memory_lock = threading.Lock()
        self._memory_checked_at = time.monotonic()

    @property
    def catalog(self) -> Catalog:
        """The catalog this Speaker chooses voices from."""
        return self._catalog

    @property
    def cache_dir(self) -> Path:
        """Where audio files are kept."""
        return self._cache_dir

    @property
    def phrases_in_memory(self) -> int:
        """How many phrase renderings this Speaker holds in memory (``_phrase``)."""
        with self._memory_lock:
            return len(self._phrases_in_memory)

    def languages(self) -> list[LanguageVoice]:
        """Every language this configuration can speak, each with the voice it will use.

        A catalog language whose voices all need engines that are not configured (Tagalog
        without gtts) is left out, as are languages the catalog records as unspoken.
        """
        spoken = []
        for entry in self._catalog.languages():
            chain = self._chain(entry)
            if chain:
                spoken.append(chain[0])
        return spoken

    def unavailable(self) -> list[UnspokenLanguage]:
        """Every catalog language this configuration cannot speak, each with the reason.

        Both kinds of silence: a language the catalog records as unspoken (Somali: no
        engine has a voice), and one whose voices all need engines that are off here
        (Tagalog without gtts). Staff see these rather than a language silently missing.
        """
        silent = list(self._catalog.unspoken())
        for entry in self._catalog.languages():
            if not self._chain(entry):
                silent.append(
                    UnspokenLanguage(entry.code, entry.name, entry.native_name, _why_off(entry))
                )
        return sorted(silent, key=lambda language: language.code)

    def can_speak(self, language: str) -> bool:
        """Whether ``speak`` would find a voice for ``language`` here."""
        try:
            self.voice_for(language)
        except UnknownLanguage:
            return False
        return True

    def voice_for(self, language: str) -> LanguageVoice:
        """The voice that speaks ``language`` here (raises ``UnknownLanguage``)."""
        entry = self._catalog.get(language)
        chain = self._chain(entry)
        if not chain:
            engines = ", ".join(voice.engine for voice in entry.chain())
            raise UnknownLanguage(
                f"language {entry.code!r} needs engine {engines}, which is not enabled here"
            )
        return chain[0]

    def speak(
        self,
        text: str,
        language: str,
        rate: str = "normal",
        fmt: AudioFormat = AudioFormat.PREVIEW,
        *,
        pause_s: float = SENTENCE_PAUSE_S,
    ) -> SpokenAudio:
        """Speak ``text`` in ``language`` at a named ``rate``, as ``fmt``, with ``pause_s``
        of silence between sentences; cached.

        Raises ``InvalidRequest`` subclasses for bad text, language or rate, and other
        ``VoiceError`` subclasses when every voice for the language failed.
        """
        check_text(text)
        if not 0 <= pause_s <= MAX_PAUSE_S:
            raise InvalidRequest(f"a pause of {pause_s} s is outside 0 to {MAX_PAUSE_S} s")
        chain = self._chain(self.voice_for(language))
        words_per_minute = self._catalog.words_per_minute(rate)
        failed: str | None = None
        for index, voice in enumerate(chain):
            try:
                return self._speak_with(voice, text, words_per_minute, fmt, failed, pause_s)
            except InvalidRequest:
                raise
            except VoiceError as err:
                if index == len(chain) - 1:
                    raise
                # The message says what failed, never what was being said.
                logger.warning(
                    "engine %s failed for %s (%s); falling back to %s",
                    voice.engine,
                    voice.code,
                    err,
                    chain[index + 1].engine,
                )
                failed = failed or voice.engine
        raise AssertionError("unreachable: a chain is never empty")  # pragma: no cover

    def _chain(self, entry: LanguageVoice) -> list[LanguageVoice]:
        return [voice for voice in entry.chain() if voice.engine in self._engines]

    def _speak_with(
        self,
        voice: LanguageVoice,
        text: str,
        words_per_minute: int,
        fmt: AudioFormat,
        fallback_from: str | None,
        pause_s: float,
    ) -> SpokenAudio:
        engine = self._engines[voice.engine]
        key = cache_key(
            _engine_identity(engine, voice.code),
            voice.voice,
            voice.code,
            words_per_minute,
            fmt,
            text,
            self._secret,
            pause_s=pause_s,
        )
        path = self._cached_path(key, fmt.extension)

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
                fallback_from=fallback_from,
            )

        with self._locks[int(key[:8], 16) % _LOCK_STRIPES]:
            duration_s = _cached_duration(path, fmt)
            if duration_s is not None:
                logger.debug(
                    "speech cache hit %s (%s/%s, %s)", key[:12], engine.name, voice.voice, fmt.value
                )
                return spoken(duration_s)
            started = time.monotonic()
            made_from: list[Path] = []
            audio = self._encoded(engine, voice, text, words_per_minute, fmt, pause_s, made_from)
            _store(path, audio.data, audio.duration_s, made_from)
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

    def _encoded(
        self,
        engine: Engine,
        voice: LanguageVoice,
        text: str,
        words_per_minute: int,
        fmt: AudioFormat,
        pause_s: float,
        made_from: list[Path],
    ) -> EncodedAudio:
        """The message in ``fmt`` with ``pause_s`` between sentences: spoken in one run
        where the engine paces itself with its usual pause, else phrase by phrase from the
        cache (``phrases``). Composed as MP3, it is put together from its sentences' MP3
        (``voices.audio.mp3_piece``), each cached: a sentence that thousands of messages
        share is encoded once (issue 13: the encode was a fifth of a worker's time). Each
        cached phrase or piece it uses is added to ``made_from``."""
        if not engine.sentence_cache and pause_s == SENTENCE_PAUSE_S:
            said = for_script(text, voice.script)
            speech = engine.synthesize(said, voice.code, voice.voice, words_per_minute)
            return encode_pcm(read_wav(speech), fmt)
        self._let_go_of_removed_phrases()
        spoken = spoken_sentences(
            text,
            lambda phrase: self._phrase(
                engine, voice, phrase, words_per_minute, fmt.sample_rate_hz, made_from
            ),
        )
        if len(spoken) == 1 or not encodes_in_pieces(fmt, pause_s):
            return encode_pcm(join([said for _, said in spoken], pause_s), fmt)
        gain_db = piece_gain_db([said for _, said in spoken], pause_s, fmt)
        last = len(spoken) - 1
        return mp3_joined(
            [
                self._mp3_piece(
                    engine,
                    voice,
                    words_per_minute,
                    fmt,
                    sentence,
                    said,
                    gain_db,
                    None if index == last else pause_s,
                    made_from,
                )
                for index, (sentence, said) in enumerate(spoken)
            ],
            fmt,
        )

    def _mp3_piece(
        self,
        engine: Engine,
        voice: LanguageVoice,
        words_per_minute: int,
        fmt: AudioFormat,
        sentence: str,
        said: Pcm,
        gain_db: float,
        pause_s: float | None,
        made_from: list[Path],
    ) -> bytes:
        """One sentence's MP3 at the message's gain, then ``pause_s``: from the cache, or
        encoded (then cached). Keyed by the sentence's words, not its samples: its phrases
        come from the cache, so the same words are the same speech."""
        key = cache_key(
            _engine_identity(engine, voice.code),
            voice.voice,
            voice.code,
            words_per_minute,
            f"{fmt.extension}-{fmt.sample_rate_hz}-{MP3_PIECE_KIND}",
            sentence,
            self._secret,
            pause_s=pause_s,
            gain_db=gain_db,
        )
        path = self._cached_path(key, fmt.extension)
        made_from.append(path)
        piece = _read_part(path)
        if piece is not None:
            return piece
        # Missing, or damaged: a short piece would cut a sentence from the message.
        piece = mp3_piece(said, fmt, gain_db, pause_s)
        _store_part(path, piece)
        return piece

    def _phrase(
        self,
        engine: Engine,
        voice: LanguageVoice,
        phrase: str,
        words_per_minute: int,
        rate_hz: int,
        made_from: list[Path],
    ) -> Pcm:
        """One phrase's speech at ``rate_hz``: from memory, else from the cache's file or
        the engine (then cached), resampled once and kept in memory
        (``PHRASES_IN_MEMORY_BYTES``). Resampled phrase by phrase, a message joins as
        resampled whole: every phrase begins and ends in the engine's own silence.

        Not under the message lock's stripe: two messages sharing a phrase may both
        render it once at worst, and each write is atomic.
        """
        key = cache_key(
            _engine_identity(engine, voice.code),
            voice.voice,
            voice.code,
            words_per_minute,
            PHRASE_KIND,
            phrase,
            self._secret,
        )
        path = self._cached_path(key, "wav")
        made_from.append(path)
        with self._memory_lock:
            said = self._phrases_in_memory.get((key, rate_hz))
        if said is not None:
            if _mark_used(path):
                return said
            self._forget_phrase(key)  # erased or purged: speak it anew, or not at all
        cached = _read_part(path)
        if cached is not None:
            speech = read_wav(cached)
        else:
            speech = read_wav(
                engine.synthesize(
                    for_script(phrase, voice.script), voice.code, voice.voice, words_per_minute
                )
            )
            _store_part(path, to_wav(speech))
        said = resampled(speech, rate_hz)
        with self._memory_lock:
            self._phrases_in_memory[(key, rate_hz)] = said
        return said

    def _cached_path(self, key: str, extension: str) -> Path:
        """Where the cache keeps the file of ``key``: in a folder named by its first two
        characters, so no folder grows to every file."""
        return self._cache_dir / key[:2] / f"{key}.{extension}"

    def _forget_phrase(self, key: str) -> None:
        with self._memory_lock:
            for held in [held for held in self._phrases_in_memory if held[0] == key]:
                del self._phrases_in_memory[held]

    def _let_go_of_removed_phrases(self) -> None:
        """At most every ``MEMORY_RECHECK_S``: forget each phrase whose file is gone."""
        now = time.monotonic()
        if now - self._memory_checked_at < MEMORY_RECHECK_S:
            return
        self._memory_checked_at = now
        with self._memory_lock:
            held = list(self._phrases_in_memory)
        for key in {key for key, _ in held}:
            if not self._cached_path(key, "wav").exists():
                self._forget_phrase(key)


def _engine_identity(engine: Engine, language: str) -> str:
    """The engine's part of a cache key: its name, or more where the name alone does not
    fix the sound (the http engine adds its server's identity, so switching servers does
    not serve the old server's audio)."""
    identity = getattr(engine, "cache_identity", None)
    return str(identity(language)) if callable(identity) else engine.name


def _mark_used(path: Path) -> bool:
    """A cache hit renews the file's time, so a retention purge removes only unused audio.
    False when the file is gone (erased or purged)."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    except OSError:
        pass  # not ours to touch (a read-only cache): still there
    return True


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
            _mark_used(path)
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
        _write_atomically(_sidecar(path), _sidecar_bytes(duration_s, size), durable=False)
    return duration_s


def _sidecar_bytes(duration_s: float, size_bytes: int, made_from: list[str] | None = None) -> bytes:
    facts: dict[str, object] = {"duration_s": duration_s, "size_bytes": size_bytes}
    if made_from:
        facts["made_from"] = made_from
    return json.dumps(facts).encode("utf-8")


def _store(path: Path, data: bytes, duration_s: float, made_from: Sequence[Path]) -> None:
    """Put a rendered message in the cache, synced to disk: it is what a reminder recorded
    as ready serves. Its sidecar goes first, so any visible message has one, naming the
    cached phrases and pieces ``made_from`` (``cached_files``)."""
    _make_folder(path)
    names = [str(part.relative_to(path.parent.parent)) for part in dict.fromkeys(made_from)]
    # Not synced to disk: a sidecar a crash tore or lost is noticed (its size must be the
    # file's) and made again by decoding the file (``_cached_duration``).
    sidecar = _sidecar_bytes(duration_s, len(data), names)
    _write_atomically(_sidecar(path), sidecar, durable=False)
    _write_atomically(path, data)


def _store_part(path: Path, data: bytes) -> None:
    """Put a phrase or an MP3 piece in the cache, sealed (``_seal``) and not synced to
    disk: most say a name and are never read again, and a part a crash tore is caught by
    its seal and made again (issue 13: waiting for the disk was a tenth of a worker's
    time)."""
    _make_folder(path)
    _write_atomically(path, data + _seal(data), durable=False)


def _read_part(path: Path) -> bytes | None:
    """A cached phrase's or piece's bytes, or None when missing or not whole (its seal
    does not match): then it is made again."""
    try:
        sealed = path.read_bytes()
    except OSError:
        return None
    data, seal = sealed[:-_SEAL_BYTES], sealed[-_SEAL_BYTES:]
    if not data or not hmac.compare_digest(_seal(data), seal):
        return None
    _mark_used(path)
    return data


def _seal(data: bytes) -> bytes:
    """What a cached part ends in: written without waiting for the disk, a file a crash
    left short or empty is known by it."""
    return hashlib.blake2b(data, digest_size=_SEAL_BYTES).digest()


def _make_folder(path: Path) -> None:
    # mkdir(parents=True) would give the cache root default permissions; set both levels.
    path.parent.parent.mkdir(mode=_CACHE_DIR_MODE, parents=True, exist_ok=True)
    path.parent.mkdir(mode=_CACHE_DIR_MODE, exist_ok=True)


def cached_files(path: Path) -> list[Path]:
    """A cached message's file, its sidecar, and the cached phrases and sentence pieces it
    was made from (as its sidecar names them): what erasing the message deletes, since its
    greeting's phrase says the patient's name. Phrases other messages share go too; a
    message that needs one again speaks it again. A message cached before its sidecar
    named its parts (or whose sidecar is lost) gives only itself and its sidecar."""
    files = [path, _sidecar(path)]
    try:
        made_from = json.loads(_sidecar(path).read_text(encoding="utf-8"))["made_from"]
    except (OSError, ValueError, KeyError, TypeError):
        return files
    cache_dir = path.parent.parent
    for name in made_from if isinstance(made_from, list) else ():
        part = cache_dir / str(name)
        # Only a file of this cache, named as the Speaker names them: a sidecar is data.
        if part.parent.parent == cache_dir and part.parent.name == part.name[:2]:
            files.append(part)
    return files


def _write_atomically(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write a whole file under a temporary name in the same folder, then rename it.

    os.replace is atomic within a file system, so concurrent writers of the same key
    (threads or processes) each leave a complete file and readers never see half of
    one. ``durable``: fsync first, so a crash cannot leave a renamed but empty file
    behind (each costs a journal commit, waited for: issue 13's workers spent a tenth
    of their time on them).
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
