"""The one place audio changes shape: resampling, loudness and encoding.

Engines hand over PCM WAV at whatever rate they speak; each channel wants its own format.
pydub holds the samples and measures them; ffmpeg, run directly with a time limit (pydub's
own export has none), does the resampling and encoding. Keeping all of it here means a
change of codec or level is one reviewed edit, and no other module runs ffmpeg.

The order matters: resample first, then measure and set the level, then limit and encode,
so the level is measured on the samples the listener actually gets (an 8 kHz phone
signal has lost the energy above 4 kHz).
"""

from __future__ import annotations

import enum
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydub import AudioSegment
from pydub.exceptions import CouldntDecodeError

from voices.base import EncodingFailed

__all__ = [
    "FFMPEG_TIMEOUT_S",
    "MAX_GAIN_DB",
    "PEAK_CEILING_DBFS",
    "TARGET_RMS_DBFS",
    "AudioFormat",
    "EncodedAudio",
    "duration_of",
    "encode",
]

# Every message is brought to this RMS level (dBFS over the whole message), so a patient
# never has to reach for the volume between two reminders. -20 dBFS is a common speech
# level with room above it for the peaks of ordinary speech (about 20 dB over RMS).
TARGET_RMS_DBFS = -20.0

# Peaks above this are limited, not clipped; the decibel of room keeps MP3 and mu-law
# encoding from pushing inter-sample peaks over full scale.
PEAK_CEILING_DBFS = -1.0

# Near-silent input is not amplified without bound: that would only make noise loud.
MAX_GAIN_DB = 30.0

# ffmpeg converts a six-minute message in well under a second; anything near this is hung.
FFMPEG_TIMEOUT_S = 30.0

# Enough of ffmpeg's stderr to name the problem (it holds no text, only audio details).
_MAX_DIAGNOSTIC_CHARS = 500

# pydub measures in 16-bit samples; every format here is encoded from 16-bit mono.
_SAMPLE_WIDTH_BYTES = 2
_FFMPEG_PCM = ["-f", "s16le", "-ac", "1"]


@dataclass(frozen=True)
class _Encoding:
    """How one AudioFormat is made: ffmpeg container, codec and settings."""

    media_type: str
    extension: str
    container: str
    codec: str
    sample_rate_hz: int
    codec_options: tuple[str, ...] = ()


class AudioFormat(enum.StrEnum):
    """What a channel asks for. The value is stable: it is part of every cache key.

    PHONE is what a phone line carries (8 kHz mono mu-law WAV), so Twilio plays it
    without transcoding. APP and PREVIEW are MP3 because every phone and browser plays
    it; they are separate so either can change (say, APP to Ogg/Opus) without the other.
    """

    PHONE = "phone"
    APP = "app"
    PREVIEW = "preview"

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


# Speech MP3: 22.05 kHz is what espeak-ng and piper speak (no resampling). LAME's VBR
# quality 5 averages about 60 kbit/s on mono speech, keeping consonants clear at under
# half a megabyte a minute. Not CBR: LAME's constant-bitrate mode at this sample rate
# measured 0.4 dB quieter than its input, which would undo the loudness target.
_MP3_SPEECH = _Encoding(
    media_type="audio/mpeg",
    extension="mp3",
    container="mp3",
    codec="libmp3lame",
    sample_rate_hz=22_050,
    codec_options=("-q:a", "5"),
)
_ENCODINGS: dict[AudioFormat, _Encoding] = {
    AudioFormat.PHONE: _Encoding(
        media_type="audio/wav",
        extension="wav",
        container="wav",
        codec="pcm_mulaw",
        sample_rate_hz=8_000,
    ),
    AudioFormat.APP: _MP3_SPEECH,
    AudioFormat.PREVIEW: _MP3_SPEECH,
}


@dataclass(frozen=True)
class EncodedAudio:
    """A finished audio file in one format, with what a player or channel needs to know."""

    data: bytes
    duration_s: float
    media_type: str
    extension: str


def encode(wav: bytes, fmt: AudioFormat) -> EncodedAudio:
    """Convert an engine's PCM WAV to ``fmt`` at the house loudness.

    Raises ``EncodingFailed`` if the WAV cannot be read or ffmpeg fails.
    """
    spec = _ENCODINGS[fmt]
    speech = _mono16(wav)
    if speech.frame_rate != spec.sample_rate_hz:
        speech = _resample(speech, spec.sample_rate_hz)
    gain_db = min(TARGET_RMS_DBFS - speech.dBFS, MAX_GAIN_DB)  # dBFS of silence is -inf
    data = _encode_pcm(speech, spec, gain_db)
    return EncodedAudio(
        data=data,
        duration_s=speech.frame_count() / speech.frame_rate,
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
            *_FFMPEG_PCM,
            "-ar",
            str(spec.sample_rate_hz),
            "pipe:1",
        ],
        data,
        what=f"decode {fmt.value} audio",
    )
    return len(pcm) / _SAMPLE_WIDTH_BYTES / spec.sample_rate_hz


def _mono16(wav: bytes) -> AudioSegment:
    """The engine's WAV as 16-bit mono samples, read in memory (no ffmpeg run)."""
    try:
        # The constructor parses WAV bytes itself; AudioSegment.from_file would quietly
        # fall back to an ffmpeg run without a time limit on anything it cannot parse.
        segment = AudioSegment(data=wav)
    except (CouldntDecodeError, ValueError, IndexError, struct.error) as err:
        raise EncodingFailed(f"the engine's audio is not a readable PCM WAV: {err}") from err
    if segment.frame_count() == 0:
        raise EncodingFailed("the engine's audio holds no samples")
    return segment.set_channels(1).set_sample_width(_SAMPLE_WIDTH_BYTES)


def _resample(speech: AudioSegment, rate_hz: int) -> AudioSegment:
    """Resample with ffmpeg's soxr, whose anti-alias filter pydub's resampler lacks.

    pydub's ``set_frame_rate`` (audioop.ratecv) filters nothing, so sibilants above the
    new Nyquist frequency would fold back into the phone band as hiss. soxr hands back
    floats (``osf=flt``): asked for 16-bit, it adds randomly seeded dither, and the same
    message would then encode to different bytes on every render.
    """
    pcm = _ffmpeg(
        [
            *_FFMPEG_PCM,
            "-ar",
            str(speech.frame_rate),
            "-i",
            "pipe:0",
            "-af",
            f"aresample={rate_hz}:resampler=soxr:osf=flt",
            *_FFMPEG_PCM,
            "-ar",
            str(rate_hz),
            "pipe:1",
        ],
        speech.raw_data,
        what=f"resample to {rate_hz} Hz",
    )
    return AudioSegment(data=pcm, sample_width=_SAMPLE_WIDTH_BYTES, frame_rate=rate_hz, channels=1)


def _encode_pcm(speech: AudioSegment, spec: _Encoding, gain_db: float) -> bytes:
    """Apply the gain, limit peaks and encode, in one ffmpeg run.

    Gain is applied inside ffmpeg in floating point, ahead of the limiter: applied to the
    16-bit samples first, loud peaks would already be clipped before they could be limited.
    The output goes to a file, not a pipe, so ffmpeg can go back and write the true sizes
    in the WAV header and the frame count in the MP3 header.
    """
    ceiling = 10 ** (PEAK_CEILING_DBFS / 20)
    # A private directory: the file is a patient's message until it is read back.
    with tempfile.TemporaryDirectory(prefix="tellwell-audio-") as tmp:
        out = Path(tmp) / f"out.{spec.extension}"
        _ffmpeg(
            [
                *_FFMPEG_PCM,
                "-ar",
                str(speech.frame_rate),
                "-i",
                "pipe:0",
                "-af",
                f"volume={gain_db:.3f}dB,alimiter=limit={ceiling:.4f}:level=0:latency=1",
                "-c:a",
                spec.codec,
                *spec.codec_options,
                "-ar",
                str(spec.sample_rate_hz),
                "-ac",
                "1",
                # No encoder tags: the same samples then always give the same bytes.
                "-map_metadata",
                "-1",
                "-fflags",
                "+bitexact",
                "-flags:a",
                "+bitexact",
                "-f",
                spec.container,
                "-y",
                str(out),
            ],
            speech.raw_data,
            what=f"encode {spec.codec}",
        )
        try:
            return out.read_bytes()
        except OSError as err:
            raise EncodingFailed(f"ffmpeg wrote no {spec.extension} file: {err}") from err


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
