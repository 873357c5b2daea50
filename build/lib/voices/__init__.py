"""Text to speech audio: Tellwell's voices, knowing nothing of reminders, patients or HTTP.

``Speaker`` is the front door: it picks the language's voice from the ``Catalog``, runs
the engine (espeak-ng by default), encodes the result with ``voices.audio`` in the
``AudioFormat`` a channel needs, and keeps it in a content-addressed cache. Everything
raised is a ``VoiceError``.
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
from voices.catalog import Catalog, LanguageVoice
from voices.espeak import EspeakEngine
from voices.speaker import Speaker, SpokenAudio

__all__ = [
    "AudioFormat",
    "Catalog",
    "CatalogError",
    "EncodedAudio",
    "EncodingFailed",
    "Engine",
    "EngineUnavailable",
    "EspeakEngine",
    "InvalidRate",
    "InvalidRequest",
    "InvalidText",
    "LanguageVoice",
    "Speaker",
    "SpokenAudio",
    "SynthesisFailed",
    "SynthesisTimeout",
    "UnknownLanguage",
    "UnknownVoice",
    "VoiceError",
]
