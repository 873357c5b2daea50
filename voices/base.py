"""The engine contract and the exceptions every part of ``voices`` raises.

An engine turns text into a complete PCM WAV file and nothing more: choosing the voice is
the catalog's job, format conversion and loudness belong to ``voices.audio``, caching to
``voices.speaker``. Keeping the contract this small is what lets a new engine (piper,
pyttsx3, gtts) drop in beside espeak without touching the rest.
"""

from __future__ import annotations

import re
from typing import Protocol

__all__ = [
    "MAX_TEXT_CHARS",
    "CatalogError",
    "EncodingFailed",
    "Engine",
    "EngineUnavailable",
    "InvalidRate",
    "InvalidRequest",
    "InvalidText",
    "SynthesisFailed",
    "SynthesisTimeout",
    "UnknownLanguage",
    "UnknownVoice",
    "VoiceError",
    "check_text",
]

# A reminder is a few hundred characters; 5,000 is about six minutes of speech at 150
# words per minute. Anything longer is a mistake upstream, and refusing it keeps one
# request from holding an engine (and a phone line) for an unbounded time.
MAX_TEXT_CHARS = 5_000

# XML 1.0 forbids these, and a NUL would silently end the text inside a C engine.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class VoiceError(Exception):
    """Root of everything ``voices`` raises, so a caller can catch one thing.

    The tree (like httpx's ``_exceptions.py``)::

        VoiceError
        ├── InvalidRequest ........ the caller asked for something that cannot be spoken as
        │   │                       asked; fix the input, retrying will not help (a 4xx)
        │   ├── InvalidText ....... empty, too long, or not encodable text
        │   ├── UnknownLanguage ... no catalog entry for the language code
        │   └── InvalidRate ....... not a named speech rate, or outside an engine's range
        ├── CatalogError .......... the catalog file is missing or malformed (deployment)
        ├── EngineUnavailable ..... the catalog names an engine that is not installed/given
        ├── UnknownVoice .......... the engine has no voice by the name it was asked for
        ├── SynthesisFailed ....... the engine ran but gave no usable audio
        │   └── SynthesisTimeout .. ...because it took longer than its time limit
        └── EncodingFailed ........ ffmpeg could not convert the audio to the asked format

    Messages never contain the text being spoken: it may be PHI, and exception messages
    end up in logs.
    """


class InvalidRequest(VoiceError):
    """The request itself is wrong; the service answers it with a 4xx, not a retry."""


class InvalidText(InvalidRequest):
    """The text is empty, longer than ``MAX_TEXT_CHARS`` or cannot be encoded as UTF-8."""


class UnknownLanguage(InvalidRequest):
    """The catalog has no voice for this language code."""


class InvalidRate(InvalidRequest):
    """The speech rate is not one the catalog names, or is outside an engine's range."""


class CatalogError(VoiceError):
    """The catalog data is missing or malformed: a deployment problem, not a request one."""


class EngineUnavailable(VoiceError):
    """The engine the catalog chose is not installed here or was not given to the Speaker."""


class UnknownVoice(VoiceError):
    """The engine has no voice by this name (usually a catalog entry that does not match
    the installed engine data)."""


class SynthesisFailed(VoiceError):
    """The engine failed or produced no usable audio; a retry may succeed."""


class SynthesisTimeout(SynthesisFailed):
    """The engine took longer than its time limit and was stopped."""


class EncodingFailed(VoiceError):
    """The audio could not be decoded or converted to the requested format."""


class Engine(Protocol):
    """What the Speaker needs from a speech engine.

    ``name`` is the engine's key in the catalog (``"espeak"``) and part of every cache key,
    so two engines must never share one. ``synthesize`` returns a complete, self-describing
    PCM WAV file (header sizes correct), at whatever sample rate the engine produces;
    ``voices.audio`` converts from there. It raises only ``VoiceError`` subclasses.
    ``language`` is the catalog's language code, for engines whose voice name alone does
    not fix the language (gtts); engines that do not need it ignore it.

    An engine whose sound depends on more than its name and the voice (the http engine's
    server) may also have ``cache_identity(language) -> str``, which the Speaker then
    puts in the cache key instead of ``name``.

    ``sentence_cache`` says how the Speaker should feed the engine: True for engines slow
    per word or per start (piper, espeak-ng), whose phrases are each synthesised and
    cached on their own, so the phrases thousands of messages share are spoken once;
    False for engines that get the whole text in one run and pace it themselves. For a
    pause between sentences other than the usual one the Speaker feeds every engine
    phrase by phrase, joining with the pause.
    """

    @property
    def name(self) -> str: ...

    @property
    def sentence_cache(self) -> bool: ...

    def synthesize(self, text: str, language: str, voice: str, words_per_minute: int) -> bytes: ...


def check_text(text: str) -> str:
    """Refuse text no engine should be asked to speak, and return it made safe to pass on.

    Shared so every engine refuses the same things. Control characters become spaces
    rather than errors: they carry no speech, and a stray one in a clinic name should not
    stop a reminder.
    """
    if not text or text.isspace():
        raise InvalidText("text is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidText(f"text is {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        # Only lone surrogates get here; say where, never what.
        raise InvalidText(f"text cannot be encoded as UTF-8 at position {err.start}") from err
    return _CONTROL_CHARS.sub(" ", text)
