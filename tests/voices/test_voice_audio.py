"""voices.audio: each format is what it claims, at the same loudness, checked with ffmpeg."""

from __future__ import annotations

import subprocess

import numpy as np
import numpy.typing as npt
import pytest

from tests.support.voices import level_dbfs
from voices import AudioFormat, EncodingFailed
from voices.audio import (
    PEAK_CEILING_DBFS,
    PHONE_TARGET_RMS_DBFS,
    SENTENCE_PAUSE_S,
    TARGET_RMS_DBFS,
    PhoneShaping,
    decode_to_wav,
    duration_of,
    encode,
    encode_pcm,
    encodes_in_pieces,
    join,
    mp3_joined,
    mp3_piece,
    piece_gain_db,
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


SENTENCES = [
    "Hello Ana Lopez.",
    "Your visit is on Monday the third of June at nine in the morning.",
    "Please bring your medication list.",
    "We look forward to seeing you.",
]


def test_a_message_joined_from_its_sentences_mp3_plays_as_the_whole_one_does(espeak):
    """A composed app message is put together from its sentences' MP3 (issue 13): each
    sentence starts where it would in the message encoded whole, as loud, and the pauses
    where the pieces meet stay silent."""
    said = [read_wav(espeak.synthesize(text, "en", "en-us", 150)) for text in SENTENCES]
    whole = encode_pcm(join(said, SENTENCE_PAUSE_S), AudioFormat.APP)
    gain_db = piece_gain_db(said, SENTENCE_PAUSE_S, AudioFormat.APP)
    last = len(said) - 1
    joined = mp3_joined(
        [
            mp3_piece(sentence, AudioFormat.APP, gain_db, None if n == last else SENTENCE_PAUSE_S)
            for n, sentence in enumerate(said)
        ],
        AudioFormat.APP,
    )
    heard_whole, heard_joined = decoded(whole.data), decoded(joined.data)

    rate_hz = AudioFormat.APP.sample_rate_hz
    half_frame = 288  # samples: each pause is cut to whole frames
    joins = len(said) - 1
    assert abs(len(heard_joined) - len(heard_whole)) <= 2 * half_frame * (joins + 1)
    assert joined.duration_s == pytest.approx(len(heard_joined) / rate_hz, abs=0.01)
    assert level_dbfs(heard_joined) == pytest.approx(level_dbfs(heard_whole), abs=0.3)
    start = 0
    for n, sentence in enumerate(said):
        # The sentence in the whole message, found again in the joined one.
        span = heard_whole[start : start + len(sentence.samples)]
        lag, likeness = best_lag(span, heard_joined, start, reach=half_frame * (n + 1))
        assert abs(lag) <= half_frame * n, (n, lag)
        assert likeness > 0.9, (n, likeness)
        if n < joins:
            pause_at = start + lag + len(sentence.samples) + 2000
            between = heard_joined[pause_at : pause_at + round(0.5 * SENTENCE_PAUSE_S * rate_hz)]
            assert float(np.abs(between).max()) < 10 ** (-60 / 20), n
        start += len(sentence.samples) + round(SENTENCE_PAUSE_S * rate_hz)


def test_pieces_fit_only_mp3_with_room_in_the_pause():
    assert encodes_in_pieces(AudioFormat.APP, SENTENCE_PAUSE_S)
    assert encodes_in_pieces(AudioFormat.PREVIEW, SENTENCE_PAUSE_S)
    assert not encodes_in_pieces(AudioFormat.PHONE, SENTENCE_PAUSE_S)
    assert not encodes_in_pieces(AudioFormat.APP_OPUS, SENTENCE_PAUSE_S)
    assert not encodes_in_pieces(AudioFormat.APP, 0.0)  # no pause to hide a piece's lead in


def decoded(mp3: bytes) -> npt.NDArray[np.float32]:
    return read_wav(decode_to_wav(mp3, "mp3")).samples


def best_lag(
    span: npt.NDArray[np.float32], signal: npt.NDArray[np.float32], at: int, reach: int
) -> tuple[int, float]:
    """Where near ``at`` in ``signal`` the samples of ``span`` are found (the offset from
    ``at``), and how alike they are there (correlation, 1 the same)."""
    found = []
    for lag in range(max(-reach, -at), reach + 1):
        other = signal[at + lag : at + lag + len(span)]
        if len(other) == len(span):
            found.append((float(np.corrcoef(span, other)[0, 1]), lag))
    likeness, lag = max(found)
    return lag, likeness
