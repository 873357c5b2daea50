"""Text to speech audio: Tellwell's voices, knowing nothing of reminders, patients or our API.

``Speaker`` is the front door: it picks the language's voice from the ``Catalog``, runs
the engine (piper for English, pico and rhvoice where installed, espeak-ng for the rest
and as every fallback; gtts, http and pyttsx3 when enabled:
``configured_speaker`` builds the set a configuration allows), encodes the result with
``voices.audio`` in the ``AudioFormat`` a channel needs, and keeps it in a
content-addressed cache. Everything raised is a ``VoiceError``.
"""

from voices.audio import AudioFormat, EncodedAudio
from voices.base import (
    CatalogError,
    EncodingFailed,
    Engine,
    EngineUnavailable,
    InvalidRate,
    InvalidRequest,
    InvalidText,
    SynthesisFailed,
    SynthesisTimeout,
    UnknownLanguage,
    UnknownVoice,
    VoiceError,
)
from voices.catalog import Catalog, LanguageVoice, UnspokenLanguage
from voices.engines import configured_speaker
from voices.espeak import EspeakEngine
from voices.gtts_engine import GttsEngine
from voices.http_engine import HttpEngine, HttpVoice
from voices.pico_engine import PicoEngine
from voices.piper_engine import PiperEngine
from voices.pyttsx3_engine import Pyttsx3Engine
from voices.rhvoice_engine import RhvoiceEngine
from voices.speaker import Speaker, SpokenAudio, cached_files

__all__ = [
    "AudioFormat",
    "Catalog",
    "CatalogError",
    "EncodedAudio",
    "EncodingFailed",
    "Engine",
    "EngineUnavailable",
    "EspeakEngine",
    "GttsEngine",
    "HttpEngine",
    "HttpVoice",
    "InvalidRate",
    "InvalidRequest",
    "InvalidText",
    "LanguageVoice",
    "PicoEngine",
    "PiperEngine",
    "Pyttsx3Engine",
    "RhvoiceEngine",
    "Speaker",
    "SpokenAudio",
    "SynthesisFailed",
    "SynthesisTimeout",
    "UnknownLanguage",
    "UnknownVoice",
    "UnspokenLanguage",
    "VoiceError",
    "cached_files",
    "configured_speaker",
]
