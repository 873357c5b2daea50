"""voices.audio: each format is what it claims, at the same loudness, checked with ffmpeg."""

from __future__ import annotations

import subprocess

import pytest

from voices import AudioFormat, EncodingFailed
from voices.audio import (
    PEAK_CEILING_DBFS,
    PHONE_TARGET_RMS_DBFS,
    TARGET_RMS_DBFS,
    PhoneShaping,
    duration_of,
    encode,
    encode_pcm,
    read_wav,
)

# volumedetect reports to 0.1 dB; codecs move the level a little more than that.
LOUDNESS_TOLERANCE_DB = 1.0


@pytest.fixture(scope="module")
def english_wav(espeak, samples):
    return espeak.synthesize(samples.en, "en", "en-us", 150)


@pytest.fixture(scope="module")
def spanish_wav(espeak, samples):
    return espeak.synthesize(samples.es, "es", "es-419", 150)


def ffmpeg_wav(tmp_path, source: list[str], name: str) -> bytes:
    """A 16-bit mono WAV made by ffmpeg from a lavfi source or filter on a file."""
    out = tmp_path / name
    subprocess.run(
        ["ffmpeg", "-v", "error", *source, "-ac", "1", "-c:a", "pcm_s16le", "-y", str(out)],
        check=True,
        timeout=30,
    )
    return out.read_bytes()


def saved(tmp_path, data: bytes, fmt: AudioFormat, stem: str = "message"):
    path = tmp_path / f"{stem}.{fmt.extension}"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("fmt", "codec", "rate_hz", "media_type", "extension"),
    [
        (AudioFormat.PHONE, "pcm_mulaw", 8000, "audio/wav", "wav"),
        (AudioFormat.APP, "mp3", 22050, "audio/mpeg", "mp3"),
        (AudioFormat.PREVIEW, "mp3", 22050, "audio/mpeg", "mp3"),
    ],
)
def test_each_format_is_what_it_claims(
    tmp_path,
    english_wav,
    ffprobe,
    decoded_seconds,
    samples,
    fmt,
    codec,
    rate_hz,
    media_type,
    extension,
):
    audio = encode(english_wav, fmt)
    path = saved(tmp_path, audio.data, fmt)

    probe = ffprobe(path)
    assert (probe.codec_name, probe.sample_rate, probe.channels) == (codec, rate_hz, 1)
    assert (audio.media_type, audio.extension) == (media_type, extension)
    assert (fmt.media_type, fmt.extension) == (media_type, extension)
    low, high = samples.plausible_s
    assert low <= audio.duration_s <= high
    # What a player plays lasts what we say it does (MP3 frames pad by a few ms).
    assert decoded_seconds(path) == pytest.approx(audio.duration_s, abs=0.05)
    assert duration_of(audio.data, fmt) == pytest.approx(audio.duration_s, abs=0.05)


def test_phone_format_is_8khz_mono_mulaw_in_a_truthful_wav_header(english_wav, ffprobe, tmp_path):
    data = encode(english_wav, AudioFormat.PHONE).data

    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    fmt_at = data.index(b"fmt ") + 8
    format_tag = int.from_bytes(data[fmt_at : fmt_at + 2], "little")
    channels = int.from_bytes(data[fmt_at + 2 : fmt_at + 4], "little")
    rate_hz = int.from_bytes(data[fmt_at + 4 : fmt_at + 8], "little")
    bits = int.from_bytes(data[fmt_at + 14 : fmt_at + 16], "little")
    assert (format_tag, channels, rate_hz, bits) == (7, 1, 8000, 8)  # 7 = WAVE_FORMAT_MULAW
    probe = ffprobe(saved(tmp_path, data, AudioFormat.PHONE))
    assert (probe.codec_name, probe.sample_rate, probe.channels, probe.format_name) == (
        "pcm_mulaw",
        8000,
        1,
        "wav",
    )


def test_phone_resampling_filters_what_the_line_cannot_carry(tmp_path, levels):
    """A 6 kHz tone cannot pass 8 kHz sampling; it must vanish, not fold back to 2 kHz.

    Naive resampling (pydub's set_frame_rate) leaves the 2 kHz alias within a few dB of
    the 1 kHz tone; an anti-alias filter puts it tens of dB down.
    """
    tones = ffmpeg_wav(
        tmp_path,
        ["-f", "lavfi", "-i", "aevalsrc=0.3*sin(2*PI*1000*t)+0.3*sin(2*PI*6000*t):s=22050:d=2"],
        "tones.wav",
    )
    path = saved(tmp_path, encode(tones, AudioFormat.PHONE).data, AudioFormat.PHONE)

    def band(hz: int) -> float:
        narrow = f"bandpass=f={hz}:t=q:w=10"
        return levels(path, f"{narrow},{narrow}").mean_db

    assert band(2000) < band(1000) - 40


def three_tones(tmp_path) -> bytes:
    """Equal tones at 100 Hz (below the phone band), 1 kHz and 3 kHz (its consonants)."""
    return ffmpeg_wav(
        tmp_path,
        [
            "-f",
            "lavfi",
            "-i",
            "aevalsrc=0.2*sin(2*PI*100*t)+0.2*sin(2*PI*1000*t)+0.2*sin(2*PI*3000*t):s=22050:d=2",
        ],
        "tones.wav",
    )


def test_phone_audio_is_not_reshaped(tmp_path, levels):
    """The phone line gets the message's own spectrum: every shaping measured worse
    (``voices.audio.PHONE_SHAPING``), so equal tones stay equal."""
    path = saved(tmp_path, encode(three_tones(tmp_path), AudioFormat.PHONE).data, AudioFormat.PHONE)

    def band(hz: int) -> float:
        narrow = f"bandpass=f={hz}:t=q:w=10"
        return levels(path, f"{narrow},{narrow}").mean_db

    assert abs(band(100) - band(1000)) < 1.5
    assert abs(band(3000) - band(1000)) < 1.5


def test_the_shapings_the_bench_compares_do_what_they_say(tmp_path, levels):
    """The variants bench/intelligibility.py measures: the band removes the hum, the tilt
    lifts the top of the band over the middle."""
    shaped = PhoneShaping(presence_db=6.0, ratio=3.0)
    audio = encode_pcm(read_wav(three_tones(tmp_path)), AudioFormat.PHONE, phone=shaped)
    path = saved(tmp_path, audio.data, AudioFormat.PHONE)

    def band(hz: int) -> float:
        narrow = f"bandpass=f={hz}:t=q:w=10"
        return levels(path, f"{narrow},{narrow}").mean_db

    assert band(100) < band(1000) - 40
    assert band(3000) > band(1000) + 3


@pytest.mark.parametrize("fmt", list(AudioFormat))
def test_different_messages_play_at_the_same_level(tmp_path, english_wav, spanish_wav, levels, fmt):
    raw = tmp_path / "raw.wav"
    raw.write_bytes(english_wav)
    # The same message from an engine that speaks 18 dB quieter (pyttsx3 voices often do).
    quiet_english = ffmpeg_wav(tmp_path, ["-i", str(raw), "-af", "volume=-18dB"], "quiet.wav")
    measured = {}
    for name, wav in [
        ("english", english_wav),
        ("spanish", spanish_wav),
        ("quiet english", quiet_english),
    ]:
        audio = encode(wav, fmt)
        measured[name] = levels(saved(tmp_path, audio.data, fmt, name.replace(" ", "_")))

    # The phone line at the telephone network's speech level, 6 dB under the others.
    expected_dbfs = PHONE_TARGET_RMS_DBFS if fmt is AudioFormat.PHONE else TARGET_RMS_DBFS
    for name, level in measured.items():
        assert level.mean_db == pytest.approx(expected_dbfs, abs=LOUDNESS_TOLERANCE_DB), name
        # Peaks are limited below full scale, not clipped (small codec overshoot allowed).
        assert level.max_db <= PEAK_CEILING_DBFS + 0.5, name
    means = [level.mean_db for level in measured.values()]
    assert max(means) - min(means) <= LOUDNESS_TOLERANCE_DB


@pytest.mark.parametrize("fmt", list(AudioFormat))
def test_same_input_gives_the_same_bytes(english_wav, fmt):
    """Content-addressed caching relies on a render being repeatable (no random dither)."""
    assert encode(english_wav, fmt).data == encode(english_wav, fmt).data


@pytest.mark.parametrize("data", [b"", b"not a wav file at all", b"RIFF\x00\x00\x00\x00WAVE"])
def test_unreadable_input_is_an_encoding_failure(data):
    with pytest.raises(EncodingFailed):
        encode(data, AudioFormat.PREVIEW)


def test_undecodable_file_has_no_duration():
    with pytest.raises(EncodingFailed):
        duration_of(b"\x00" * 100, AudioFormat.APP)
