"""App audio encoding benchmark (issue 13): what LAME's algorithm quality costs and buys.

An app message is the only format encoded by LAME (the phone's is mu-law), and on the
espeak-ng path its encoding cost more CPU than the voice that spoke it. The same English
messages (``bench/intelligibility.py``'s), spoken once by Piper, are encoded as the APP
format at each LAME quality in ``--qualities``, decoded back by ffmpeg, and heard by the
same independent recogniser (pocketsphinx en-us). Printed per quality: the CPU milliseconds
of one encode per second of speech, the ratio to the first quality's, the word error rate
(mean per message) and its difference from the first's, and the decoded audio's
signal-to-noise ratio against the levelled input (how far the codec moved the waveform).

    .venv/bin/python bench/app_encoding.py [--messages 5] [--qualities 5,7] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intelligibility import (  # noqa: E402
    WORDS_PER_MINUTE,
    hear,
    messages,
    word_error_rate,
    words,
)
from voices import AudioFormat, PiperEngine  # noqa: E402
from voices.audio import Pcm, decode_to_wav, encode_pcm, read_wav  # noqa: E402
from voices.piper_engine import BUILTIN_VOICE  # noqa: E402


def snr_db(reference: Pcm, decoded: Pcm) -> float:
    """How much of the decoded signal is the reference, in dB: aligned past LAME's start-up
    delay (found by cross-correlation) and with the levels matched."""
    ref = reference.samples.astype(np.float64)
    out = decoded.samples.astype(np.float64)
    window = min(len(ref), len(out), 4 * reference.rate_hz)
    size = 2 * window
    lags = np.fft.irfft(np.fft.rfft(out[:window], size) * np.conj(np.fft.rfft(ref[:window], size)))
    delay = int(np.argmax(lags[: window // 2]))
    got = out[delay : delay + len(ref)]
    want = ref[: len(got)]
    scale = float(np.dot(got, want) / max(float(np.dot(got, got)), 1e-12))
    noise = float(np.sum((want - got * scale) ** 2))
    return float(10 * np.log10(float(np.sum(want**2)) / max(noise, 1e-12)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--qualities", default="5,7", help="LAME qualities, baseline first")
    parser.add_argument("--rounds", type=int, default=5, help="encodes timed per message")
    parser.add_argument("--jobs", type=int, default=2, help="recogniser processes")
    args = parser.parse_args()
    qualities = [int(q) for q in args.qualities.split(",")]
    engine = PiperEngine()
    texts = messages("en", args.messages)
    spoken = [
        read_wav(engine.synthesize(text, "en", BUILTIN_VOICE, WORDS_PER_MINUTE)) for text in texts
    ]
    seconds = sum(pcm.duration_s for pcm in spoken)
    print(f"piper/{BUILTIN_VOICE}: {len(texts)} messages, {seconds:.0f} s of speech, APP format")
    rows = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for quality in qualities:
            started = time.process_time()
            for _ in range(args.rounds):
                encoded = [encode_pcm(pcm, AudioFormat.APP, mp3_quality=quality) for pcm in spoken]
            ms_per_s = (time.process_time() - started) / args.rounds / seconds * 1000
            decoded = [read_wav(decode_to_wav(audio.data, "mp3")) for audio in encoded]
            heard = [pool.submit(hear, pcm) for pcm in decoded]
            wer = statistics.mean(
                word_error_rate(words(text), got.result())
                for text, got in zip(texts, heard, strict=True)
            )
            snr = statistics.mean(
                snr_db(pcm, out) for pcm, out in zip(spoken, decoded, strict=True)
            )
            size = sum(len(audio.data) for audio in encoded)
            rows.append((quality, ms_per_s, wer, snr, size))
    base = rows[0]
    versus = f"vs {base[0]}"
    print(
        f"{'quality':>7} {'CPU ms/s':>8} {versus:>6} {'WER':>6} {versus:>6} "
        f"{'SNR dB':>7} {'bytes':>8}"
    )
    for quality, ms_per_s, wer, snr, size in rows:
        print(
            f"{quality:7} {ms_per_s:8.2f} {ms_per_s / base[1]:6.2f} {wer:6.1%} "
            f"{(wer - base[2]) * 100:+6.1f} {snr:7.1f} {size:8}"
        )


if __name__ == "__main__":
    main()
