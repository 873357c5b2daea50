"""The one place audio changes shape: decoding, joining, resampling, loudness and encoding.

Engines hand over PCM WAV at whatever rate they speak; each channel wants its own format.
The hot path runs in-process (numpy for the samples, soxr for resampling, audioop for
mu-law, lameenc for MP3): an ffmpeg start-up alone costs about 60 ms, more than espeak-ng
needs to speak a 20-second message. ffmpeg is run, with a time limit, only for what no
in-process encoder here does: decoding an engine's MP3 (gtts), Ogg/Opus, and measuring a
cached file whose duration was lost.

The order matters: resample first, then measure and set the level, then limit and encode,
so the level is measured on the samples the listener actually gets (an 8 kHz phone
signal has lost the energy above 4 kHz).
"""

from __future__ import annotations

import enum
import io
import math
import struct
import subprocess
import sys
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lameenc
import numpy as np
import numpy.typing as npt
import soxr

from voices.base import EncodingFailed

if sys.version_info >= (3, 13):  # pragma: no cover - the audioop-lts backport
    import audioop
else:  # audioop is in the standard library until 3.13; its warning says so, nothing more
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

__all__ = [
    "FFMPEG_TIMEOUT_S",
    "LONG_SENTENCE_PAUSE_S",
    "MAX_GAIN_DB",
    "MP3_PIECE_GAIN_STEP_DB",
    "PEAK_CEILING_DBFS",
    "PHONE_SHAPING",
    "PHONE_TARGET_RMS_DBFS",
    "PHONE_UNSHAPED",
    "SENTENCE_PAUSE_S",
    "TARGET_RMS_DBFS",
    "AudioFormat",
    "EncodedAudio",
    "Pcm",
    "PhoneShaping",
    "decode_to_wav",
    "duration_of",
    "encode",
    "encode_pcm",
    "encodes_in_pieces",
    "join",
    "mp3_joined",
    "mp3_piece",
    "piece_gain_db",
    "read_wav",
    "resampled",
    "to_wav",
]

# Every message is brought to this RMS level (dBFS over the whole message), so a patient
# never has to reach for the volume between two reminders. -20 dBFS is a common speech
# level with room above it for the peaks of ordinary speech (about 20 dB over RMS).
TARGET_RMS_DBFS = -20.0

# The phone line's level: 6 dB under the other channels. A telephone network carries speech
# at about -26 dBov (ITU-T P.56 active speech level, G.711's full scale being 0 dBov), so
# -20 dBFS ran 6 dB hot into mu-law; measured with an independent recogniser
# (bench/intelligibility.py, two seeds of five messages) the phone line scored 60.5% word
# errors at -20 and 56% at -26, the plain peak-normalised line 55% (docs/architecture.md).
PHONE_TARGET_RMS_DBFS = -26.0

# Peaks above this are limited, not clipped; the decibel of room keeps MP3 and mu-law
# encoding from pushing inter-sample peaks over full scale.
PEAK_CEILING_DBFS = -1.0

# Near-silent input is not amplified without bound: that would only make noise loud.
MAX_GAIN_DB = 30.0

# The pause put between two separately spoken sentences: about what a careful speaker
# leaves, long enough for an older listener to take in one sentence before the next.
SENTENCE_PAUSE_S = 0.35
# The longer pause a patient's accessibility profile asks for (``sentence_pause: long``):
# about a second, time to take in one sentence before the next begins.
LONG_SENTENCE_PAUSE_S = 1.0

# ffmpeg converts a six-minute message in well under a second; anything near this is hung.
FFMPEG_TIMEOUT_S = 30.0

# Shaping for the phone line (see ``_for_the_phone``). A telephone channel passes about
# 300-3400 Hz, and the consonants that tell "fifteen" from "fifty" sit at 2-3.4 kHz, so
# cutting below the band, lifting its top and evening out the level looked like help.
# Measured, none of it helped (``PHONE_SHAPING``).


@dataclass(frozen=True)
class PhoneShaping:
    """How speech is shaped for the phone line before mu-law encoding.

    ``low_cut_hz``/``high_cut_hz``: gain rises from nothing to full across the first span
    and falls to nothing across the second (None: no cut there). ``presence_db``: a tilt
    rising from 0 dB at ``presence_hz[0]`` to this at ``presence_hz[1]``. ``ratio``: level
    compression over 10 ms frames, each pulled towards the message's speech level by
    (1 - 1/ratio) of its distance, within ``max_lift_db``/``max_cut_db``; frames more than
    ``floor_db`` under the loudest (pauses) are left alone, so the line's noise is not
    lifted. 1.0 is no compression.
    """

    low_cut_hz: tuple[float, float] | None = (200.0, 300.0)
    high_cut_hz: tuple[float, float] | None = (3400.0, 3700.0)
    presence_hz: tuple[float, float] = (1000.0, 3000.0)
    presence_db: float = 0.0
    ratio: float = 1.0
    max_lift_db: float = 9.0
    max_cut_db: float = 12.0
    floor_db: float = -40.0

    @property
    def shapes(self) -> bool:
        """Whether this shaping changes the signal at all."""
        return bool(self.low_cut_hz or self.high_cut_hz or self.presence_db or self.ratio != 1)


PHONE_UNSHAPED = PhoneShaping(low_cut_hz=None, high_cut_hz=None)
"""Resample, level, limit and encode only: what a plain 8 kHz line gets."""

PHONE_SHAPING = PHONE_UNSHAPED
"""What the phone line gets: no shaping. Measured with an independent recogniser
(bench/intelligibility.py --phone-tuning), every band limit, tilt and compression tried
scored 2-10 points worse than the plain line, and the unshaped encoding as well as it;
the variants stay for the bench to measure again (docs/architecture.md, "Voices")."""

_PHONE_FRAME_S = 0.010

# The limiter's gain changes over blocks this long: short enough to act on one syllable's
# peak, long enough that the gain change is not heard as a click.
_LIMITER_BLOCK_S = 0.005

# Enough of ffmpeg's stderr to name the problem (it holds no text, only audio details).
_MAX_DIAGNOSTIC_CHARS = 500

_INT16_FULL_SCALE = 32768.0
_WAVE_FORMAT_MULAW = 7
# LAME's constant bit rate for speech MP3: with a constant rate every player computes the
# true duration from the file size (a VBR file without a Xing header is misreported).
# 48 kbit/s at 22.05 kHz keeps consonants clear at 360 kB a minute.
_MP3_KBPS = 48
# LAME's algorithm quality (0 best, 9 fastest). At 48 kbit/s constant, for speech, 7 (its
# fast mode) costs 0.6x the CPU of 5 (LAME's default) with the same recogniser word error
# rate and a decoded waveform closer to the input (bench/app_encoding.py): on the espeak-ng
# path the encode of 5 cost more than the voice that spoke the message.
MP3_ALGORITHM_QUALITY = 7
# An MP3 frame at the MP3 formats' 22.05 kHz (MPEG-2 layer III) holds 576 samples. LAME
# turns n samples into ceil(n / 576) + 2 frames, and a decoder plays them from the first
# frame on: the two frames more are its lead of 1,105 samples of silence (LAME's delay of
# 576 and the decoder's 529; no gapless tag is written) and a little silence after. A message
# put together from its sentences' MP3 (``mp3_piece``) hides them in the pause between.
_MP3_FRAME_SAMPLES = 576
_MP3_ADDED_FRAMES = 2
_MP3_PIECE_SLACK = (_MP3_ADDED_FRAMES + 1) * _MP3_FRAME_SAMPLES
"""The shortest pause, in samples, that can take in a piece's added frames and rounding."""
MP3_PIECE_GAIN_STEP_DB = 0.5
"""A message's gain, for its pieces, in steps this fine: 0.25 dB at most from its own,
under what a listener notices, and few enough steps for a sentence's piece to repeat."""
# Opus at 24 kbit/s is transparent for mono speech (its SILK/hybrid modes are built for it).
_OPUS_KBPS = 24


@dataclass(frozen=True)
class _Encoding:
    media_type: str
    extension: str
    container: str
    sample_rate_hz: int
    rms_dbfs: float = TARGET_RMS_DBFS


class AudioFormat(enum.StrEnum):
    """What a channel asks for. The value is stable: it is part of every cache key.

    PHONE is what a phone line carries (8 kHz mono mu-law WAV), so Twilio plays it
    without transcoding. APP and PREVIEW are MP3 because every phone and browser plays
    it; they are separate so either can change without the other. APP_OPUS is the
    Ogg/Opus option for apps that prefer a smaller file.
    """

    PHONE = "phone"
    APP = "app"
    PREVIEW = "preview"
    APP_OPUS = "app-opus"

    @property
    def media_type(self) -> str:
        """The Content-Type to serve this format with."""
        return _ENCODINGS[self].media_type

    @property
    def extension(self) -> str:
        """The file extension, without the dot."""
        return _ENCODINGS[self].extension

    @property
    def sample_rate_hz(self) -> int:
        """The sample rate the encoded audio has."""
        return _ENCODINGS[self].sample_rate_hz

    @property
    def rms_dbfs(self) -> float:
        """The level every message is brought to in this format (RMS over the message)."""
        return _ENCODINGS[self].rms_dbfs


# 22.05 kHz is what espeak-ng and piper speak, so MP3 needs no resampling.
_MP3_SPEECH = _Encoding("audio/mpeg", "mp3", "mp3", 22_050)
_ENCODINGS: dict[AudioFormat, _Encoding] = {
    AudioFormat.PHONE: _Encoding("audio/wav", "wav", "wav", 8_000, PHONE_TARGET_RMS_DBFS),
    AudioFormat.APP: _MP3_SPEECH,
    AudioFormat.PREVIEW: _MP3_SPEECH,
    # Opus runs at 48 kHz internally; giving it 48 kHz spares libopus its own resampler.
    AudioFormat.APP_OPUS: _Encoding("audio/ogg", "ogg", "ogg", 48_000),
}


@dataclass(frozen=True)
class EncodedAudio:
    """A finished audio file in one format, with what a player or channel needs to know."""

    data: bytes
    duration_s: float
    media_type: str
    extension: str


Samples = npt.NDArray[np.float32]
"""Mono float32 samples in [-1, 1]: the form audio takes between decoding and encoding."""


@dataclass(frozen=True)
class Pcm:
    """Mono speech as float32 samples in [-1, 1] at ``rate_hz``: what gets joined."""

    samples: Samples
    rate_hz: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate_hz


def read_wav(wav: bytes) -> Pcm:
    """An engine's PCM WAV as mono float samples (raises ``EncodingFailed``)."""
    try:
        with wave.open(io.BytesIO(wav), "rb") as reader:
            channels, width, rate_hz = (
                reader.getnchannels(),
                reader.getsampwidth(),
                reader.getframerate(),
            )
            frames = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError, struct.error, ValueError) as err:
        raise EncodingFailed(f"the engine's audio is not a readable PCM WAV: {err}") from err
    if width != 2:
        # Every engine here speaks 16-bit; wave has no float or 8-bit unsigned handling.
        raise EncodingFailed(f"the engine's audio has {8 * width}-bit samples, not 16")
    samples = np.frombuffer(frames[: len(frames) - len(frames) % (2 * channels)], "<i2")
    if not len(samples):
        raise EncodingFailed("the engine's audio holds no samples")
    mono = samples.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return Pcm((mono / _INT16_FULL_SCALE).astype(np.float32), rate_hz)


def to_wav(pcm: Pcm) -> bytes:
    """16-bit mono WAV of ``pcm``: how engines hand audio over and sentences are cached."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(pcm.rate_hz)
        writer.writeframes(_int16(pcm.samples))
    return out.getvalue()


def join(parts: Sequence[Pcm], pause_s: float = SENTENCE_PAUSE_S) -> Pcm:
    """Sentences one after another with a short silence between, at the first one's rate."""
    if not parts:
        raise EncodingFailed("nothing to join")
    rate_hz = parts[0].rate_hz
    pause = np.zeros(round(pause_s * rate_hz), dtype=np.float32)
    pieces: list[Samples] = []
    for index, part in enumerate(parts):
        if index:
            pieces.append(pause)
        pieces.append(resampled(part, rate_hz).samples)
    return Pcm(np.concatenate(pieces), rate_hz)


def encode(wav: bytes, fmt: AudioFormat) -> EncodedAudio:
    """Convert an engine's PCM WAV to ``fmt`` at the house loudness."""
    return encode_pcm(read_wav(wav), fmt)


def encode_pcm(
    pcm: Pcm,
    fmt: AudioFormat,
    *,
    phone: PhoneShaping = PHONE_SHAPING,
    mp3_quality: int = MP3_ALGORITHM_QUALITY,
) -> EncodedAudio:
    """Resample, set the level, limit and encode ``pcm`` as ``fmt``.

    ``phone`` shapes the PHONE format only, ``mp3_quality`` is LAME's for the MP3 formats
    (the benches pass the variants they compare).
    Raises ``EncodingFailed`` if the audio is empty or the encoder fails.
    """
    spec = _ENCODINGS[fmt]
    if not len(pcm.samples):
        raise EncodingFailed("the audio holds no samples")
    speech = resampled(pcm, spec.sample_rate_hz).samples
    if fmt is AudioFormat.PHONE and phone.shapes:
        speech = _for_the_phone(speech, spec.sample_rate_hz, phone)
    gain_db = _gain_db(speech, spec.rms_dbfs)
    levelled = _levelled(speech, gain_db, spec.sample_rate_hz)
    if fmt is AudioFormat.PHONE:
        data = _mulaw_wav(levelled, spec.sample_rate_hz)
    elif fmt is AudioFormat.APP_OPUS:
        data = _ffmpeg_opus(levelled, spec.sample_rate_hz)
    else:
        data = _mp3(levelled, spec.sample_rate_hz, mp3_quality)
    duration_s = len(speech) / spec.sample_rate_hz
    if spec.container == "mp3":
        duration_s = _mp3_duration_s(data)
    return EncodedAudio(
        data=data,
        duration_s=duration_s,
        media_type=spec.media_type,
        extension=spec.extension,
    )


def duration_of(data: bytes, fmt: AudioFormat) -> float:
    """Seconds of audio in an encoded file, found by decoding it (exact, not estimated).

    For when the duration was not kept alongside the file; it costs one ffmpeg run.
    """
    spec = _ENCODINGS[fmt]
    pcm = _ffmpeg(
        [
            "-f",
            spec.container,
            "-i",
            "pipe:0",
            "-f",
            "s16le",
            "-ac",
            "1",
            "-ar",
            str(spec.sample_rate_hz),
            "pipe:1",
        ],
        data,
        what=f"decode {fmt.value} audio",
    )
    return len(pcm) / 2 / spec.sample_rate_hz


def decode_to_wav(data: bytes, container: str) -> bytes:
    """Any file ffmpeg reads (an online engine's MP3) as 16-bit mono WAV, in memory."""
    return _ffmpeg(
        [
            "-f",
            container,
            "-i",
            "pipe:0",
            "-ac",
            "1",
            "-c:a",
            "pcm_s16le",
            "-f",
            "wav",
            "-bitexact",
            "pipe:1",
        ],
        data,
        what=f"decode {container} audio",
    )


def resampled(pcm: Pcm, rate_hz: int) -> Pcm:
    """soxr's high-quality resampler, whose anti-alias filter pydub's ``ratecv`` lacks.

    Floats in, floats out: no dither is added, so the same message always encodes to the
    same bytes (content-addressed caching relies on it).
    """
    if pcm.rate_hz == rate_hz:
        return pcm
    samples = soxr.resample(pcm.samples, pcm.rate_hz, rate_hz, quality="HQ")
    return Pcm(np.asarray(samples, dtype=np.float32), rate_hz)


def _for_the_phone(samples: Samples, rate_hz: int, shaping: PhoneShaping) -> Samples:
    """Band-limit, tilt and level-compress speech for a telephone line (``PhoneShaping``).

    In the frequency domain over the whole message (a reminder is under a minute: one
    FFT), so the filter has no phase delay and the same input gives the same bytes.
    """
    spectrum = np.fft.rfft(samples.astype(np.float64))
    hz = np.fft.rfftfreq(len(samples), 1 / rate_hz)
    response = 10 ** (_ramp(hz, shaping.presence_hz) * shaping.presence_db / 20)
    if shaping.low_cut_hz:
        response *= np.sin(_ramp(hz, shaping.low_cut_hz) * np.pi / 2) ** 2
    if shaping.high_cut_hz:
        response *= np.cos(_ramp(hz, shaping.high_cut_hz) * np.pi / 2) ** 2
    shaped = np.fft.irfft(spectrum * response, n=len(samples))
    if shaping.ratio != 1:
        shaped = _compressed(shaped, rate_hz, shaping)
    return shaped.astype(np.float32)


def _ramp(hz: npt.NDArray[np.floating[Any]], span: tuple[float, float]) -> npt.NDArray[np.float64]:
    """0 below ``span``, 1 above it, linear across it."""
    ramp: npt.NDArray[np.float64] = np.clip((hz - span[0]) / (span[1] - span[0]), 0, 1)
    return ramp


def _compressed(
    samples: npt.NDArray[np.float64], rate_hz: int, shaping: PhoneShaping
) -> npt.NDArray[np.float64]:
    """Pull each 10 ms frame's level towards the speech level (``PhoneShaping.ratio``)."""
    frame = max(1, round(_PHONE_FRAME_S * rate_hz))
    padded = np.pad(samples, (0, -len(samples) % frame))
    level_db = 10 * np.log10(np.mean(np.square(padded.reshape(-1, frame)), axis=1) + 1e-12)
    speech = level_db > level_db.max() + shaping.floor_db
    if not speech.any():
        return samples
    target_db = float(np.median(level_db[speech]))
    gain_db = np.clip(
        (target_db - level_db) * (1 - 1 / shaping.ratio), -shaping.max_cut_db, shaping.max_lift_db
    )
    gain_db[~speech] = 0.0
    # Each frame takes its neighbours' lower gain, so a loud onset is already turned down.
    edged = np.pad(gain_db, 1, mode="edge")
    gain_db = np.minimum(np.minimum(edged[:-2], edged[1:-1]), edged[2:])
    centres = np.arange(len(gain_db)) * frame + frame / 2
    gain_at: npt.NDArray[np.float64] = np.interp(np.arange(len(samples)), centres, gain_db)
    compressed: npt.NDArray[np.float64] = samples * 10 ** (gain_at / 20)
    return compressed


def _levelled(samples: Samples, gain_db: float, rate_hz: int) -> Samples:
    """``samples`` turned up by ``gain_db``, their peaks then limited (``_limit``)."""
    return _limit(samples * np.float32(10 ** (gain_db / 20)), rate_hz)


def _mp3_duration_s(data: bytes) -> float:
    """What a player plays of constant-bit-rate MP3: its size over the rate, LAME's
    start-up delay and last frame's padding included, as players reckon it."""
    return len(data) * 8 / (_MP3_KBPS * 1000)


def _gain_db(samples: Samples, rms_dbfs: float) -> float:
    """The gain that brings the whole message to ``rms_dbfs`` (bounded)."""
    return _gain_for_energy(_energy(samples), len(samples), rms_dbfs)


def _energy(samples: Samples) -> float:
    return float(np.sum(np.square(samples, dtype=np.float64)))


def _gain_for_energy(energy: float, length: int, rms_dbfs: float) -> float:
    """The gain that brings ``length`` samples holding ``energy`` to ``rms_dbfs`` (bounded)."""
    if energy <= 0.0 or length <= 0:
        return 0.0
    rms = math.sqrt(energy / length)
    return min(rms_dbfs - 20 * math.log10(rms), MAX_GAIN_DB)


def _limit(samples: Samples, rate_hz: int) -> Samples:
    """Bring peaks under ``PEAK_CEILING_DBFS`` with a smooth gain, not by clipping.

    The gain each sample needs is taken per short block, each block also takes its
    neighbours' lower gain (so the gain is already down when a peak arrives), and the
    gain is interpolated between block centres. Every interpolated value lies between two
    values no higher than the peak's own need, so no sample ends above the ceiling.
    """
    ceiling = 10 ** (PEAK_CEILING_DBFS / 20)
    peaks = np.abs(samples)
    if not len(samples) or float(peaks.max()) <= ceiling:
        return samples
    block = max(1, round(_LIMITER_BLOCK_S * rate_hz))
    padded = np.pad(peaks, (0, -len(peaks) % block))
    need = np.minimum(1.0, ceiling / np.maximum(padded.reshape(-1, block).max(axis=1), 1e-9))
    edged = np.pad(need, 1, mode="edge")
    smoothed = np.minimum(np.minimum(edged[:-2], edged[1:-1]), edged[2:])
    centres = np.arange(len(smoothed)) * block + block / 2
    gain: npt.NDArray[np.float64] = np.interp(np.arange(len(samples)), centres, smoothed)
    return (samples * gain).astype(np.float32)


def _int16(samples: Samples) -> bytes:
    clipped = np.clip(np.round(samples * _INT16_FULL_SCALE), -32768, 32767)
    return clipped.astype("<i2").tobytes()


def _mulaw_wav(samples: Samples, rate_hz: int) -> bytes:
    """G.711 mu-law in a WAV with a true header (format 7, 8-bit, with a ``fact`` chunk).

    Python's ``wave`` writes only integer PCM, so the 58-byte header is laid out here.
    """
    data = audioop.lin2ulaw(_int16(samples), 2)
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<IHHIIHHH", 18, _WAVE_FORMAT_MULAW, 1, rate_hz, rate_hz, 1, 8, 0)
        + b"fact"
        + struct.pack("<II", 4, len(data))
        + b"data"
        + struct.pack("<I", len(data))
        + data
        + (b"\x00" if len(data) % 2 else b"")  # RIFF chunks are word-aligned
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _mp3(samples: Samples, rate_hz: int, quality: int) -> bytes:
    """Constant-bit-rate MP3 by LAME in-process (lameenc): no ffmpeg start-up per message."""
    encoder = lameenc.Encoder()
    encoder.set_channels(1)
    encoder.set_in_sample_rate(rate_hz)
    encoder.set_out_sample_rate(rate_hz)
    encoder.set_bit_rate(_MP3_KBPS)
    encoder.set_quality(quality)
    try:
        return bytes(encoder.encode(_int16(samples)) + encoder.flush())
    except RuntimeError as err:
        raise EncodingFailed(f"LAME could not encode MP3: {err}") from err


def encodes_in_pieces(fmt: AudioFormat, pause_s: float) -> bool:
    """Whether a message in ``fmt`` with ``pause_s`` between sentences can be put together
    from its sentences' MP3 (``mp3_piece``): MP3 formats only, and only with a pause long
    enough to take in each piece's start-up delay."""
    spec = _ENCODINGS[fmt]
    return spec.container == "mp3" and pause_s * spec.sample_rate_hz >= _MP3_PIECE_SLACK


def piece_gain_db(sentences: Sequence[Pcm], pause_s: float, fmt: AudioFormat) -> float:
    """The gain ``encode_pcm`` gives the sentences joined with ``pause_s`` between them
    (``join``), rounded to ``MP3_PIECE_GAIN_STEP_DB``: what each of their pieces is
    encoded at, so a sentence encoded for one message serves the next."""
    spec = _ENCODINGS[fmt]
    spoken = [resampled(sentence, spec.sample_rate_hz).samples for sentence in sentences]
    pauses = round(pause_s * spec.sample_rate_hz) * (len(spoken) - 1)
    gain_db = _gain_for_energy(
        sum(_energy(samples) for samples in spoken),
        sum(len(samples) for samples in spoken) + pauses,
        spec.rms_dbfs,
    )
    return round(gain_db / MP3_PIECE_GAIN_STEP_DB) * MP3_PIECE_GAIN_STEP_DB


def mp3_piece(sentence: Pcm, fmt: AudioFormat, gain_db: float, pause_s: float | None) -> bytes:
    """One sentence of a message as MP3 frames to join with its neighbours (``mp3_joined``):
    levelled by the message's ``gain_db`` (``piece_gain_db``), limited, and followed by
    silence that, with the delay of the next piece's start, lasts ``pause_s`` to within
    half a frame (13 ms). ``pause_s`` None: the message's last sentence.

    Each piece is a stream of its own, so its first frame borrows nothing from the one
    before (LAME's bit reservoir starts empty), and every join falls in a pause.
    """
    spec = _ENCODINGS[fmt]
    if spec.container != "mp3":
        raise ValueError(f"{fmt} is not an MP3 format")
    rate_hz = spec.sample_rate_hz
    speech = resampled(sentence, rate_hz).samples
    if not len(speech):
        raise EncodingFailed("the audio holds no samples")
    levelled = _levelled(speech, gain_db, rate_hz)
    if pause_s is not None:
        # Decoded, a piece lasts as many frames as LAME made of it, so it is given the
        # silence that makes those frames last the sentence and its pause, to the nearest
        # frame; part of that pause is played as the next piece's lead.
        wanted = len(levelled) + round(pause_s * rate_hz)
        fewest = -(-len(levelled) // _MP3_FRAME_SAMPLES) + _MP3_ADDED_FRAMES
        frames = max(round(wanted / _MP3_FRAME_SAMPLES), fewest)
        silence = (frames - _MP3_ADDED_FRAMES) * _MP3_FRAME_SAMPLES - len(levelled)
        levelled = np.concatenate([levelled, np.zeros(silence, dtype=np.float32)])
    return _mp3(levelled, rate_hz, MP3_ALGORITHM_QUALITY)


def mp3_joined(pieces: Sequence[bytes], fmt: AudioFormat) -> EncodedAudio:
    """A message's MP3 from its sentences' pieces (``mp3_piece``), in order."""
    spec = _ENCODINGS[fmt]
    data = b"".join(pieces)
    if not data:
        raise EncodingFailed("nothing to join")
    return EncodedAudio(
        data=data,
        duration_s=_mp3_duration_s(data),
        media_type=spec.media_type,
        extension=spec.extension,
    )


def _ffmpeg_opus(samples: Samples, rate_hz: int) -> bytes:
    """Ogg/Opus through ffmpeg (no in-process Opus encoder is installed): the option path.

    Written to a file, not a pipe, so the Ogg muxer can finish its pages properly.
    """
    with tempfile.TemporaryDirectory(prefix="tellwell-audio-") as tmp:
        out = Path(tmp) / "out.ogg"
        _ffmpeg(
            [
                "-f",
                "s16le",
                "-ac",
                "1",
                "-ar",
                str(rate_hz),
                "-i",
                "pipe:0",
                "-c:a",
                "libopus",
                "-b:a",
                f"{_OPUS_KBPS}k",
                "-application",
                "voip",
                "-map_metadata",
                "-1",
                "-fflags",
                "+bitexact",
                "-flags:a",
                "+bitexact",
                "-y",
                str(out),
            ],
            _int16(samples),
            what="encode Ogg/Opus",
        )
        try:
            return out.read_bytes()
        except OSError as err:
            raise EncodingFailed(f"ffmpeg wrote no Ogg file: {err}") from err


def _ffmpeg(args: list[str], stdin: bytes, *, what: str) -> bytes:
    """Run ffmpeg with a time limit; map its failures to ``EncodingFailed``."""
    argv = ["ffmpeg", "-hide_banner", "-nostats", "-loglevel", "error", *args]
    try:
        done = subprocess.run(
            argv, input=stdin, capture_output=True, timeout=FFMPEG_TIMEOUT_S, check=False
        )
    except FileNotFoundError as err:
        raise EncodingFailed("ffmpeg is not installed") from err
    except subprocess.TimeoutExpired as err:
        raise EncodingFailed(f"ffmpeg took longer than {FFMPEG_TIMEOUT_S:g} s to {what}") from err
    except OSError as err:
        raise EncodingFailed(f"ffmpeg could not be started: {err.strerror}") from err
    if done.returncode != 0:
        diagnostic = done.stderr.decode("utf-8", errors="replace").strip()
        raise EncodingFailed(
            f"ffmpeg could not {what} (status {done.returncode}): "
            f"{diagnostic[-_MAX_DIAGNOSTIC_CHARS:] or 'no diagnostic'}"
        )
    return done.stdout
