"""Composed speech benchmark (issue 13): is a message put together from cached phrases as
intelligible as the same message spoken whole?

For English with Piper, the same messages (``bench/intelligibility.py``'s: the shipped
voicemails, then call messages) are rendered three ways:

- **whole**: the engine speaks the whole message in one run (the goal's reference);
- **sentences**: each sentence on its own, joined with the sentence pause (the Speaker
  until phrases were cached);
- **phrases**: each phrase on its own (``voices.scripts.phrases``), the phrases of a
  sentence end to end, sentences joined with the sentence pause: what the Speaker does now.

Each is heard by the same independent recogniser (pocketsphinx en-us) wide band and through
Tellwell's phone encoding, and the word error rate is printed per rendering with its
difference from "whole". Piper samples noise on every render, so each rendering is made
``--seeds`` times (onnxruntime's seed set and the model loaded anew before each) and the
WER is the mean over every message and seed. Also printed: the audio's length and Piper's
CPU seconds for each rendering (uncached: the cache's gain is ``bench/scale.py``'s).

    .venv/bin/python bench/composed_speech.py [--messages 5] [--seeds 2] [--jobs 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intelligibility import (  # noqa: E402
    WORDS_PER_MINUTE,
    Rendering,
    hear,
    messages,
    seeded_piper,
    tellwell_phone_line,
    word_error_rate,
    words,
)
from voices import PiperEngine  # noqa: E402
from voices.audio import SENTENCE_PAUSE_S, Pcm, join, read_wav  # noqa: E402
from voices.piper_engine import BUILTIN_VOICE  # noqa: E402
from voices.scripts import sentences  # noqa: E402
from voices.speaker import composed  # noqa: E402

LINES: dict[str, Callable[[Pcm], Pcm]] = {"wide": lambda pcm: pcm, "phone": tellwell_phone_line}


def spoken(engine: PiperEngine, text: str) -> Pcm:
    return read_wav(engine.synthesize(text, "en", BUILTIN_VOICE, WORDS_PER_MINUTE))


def whole(engine: PiperEngine, text: str) -> Pcm:
    return spoken(engine, text)


def by_sentence(engine: PiperEngine, text: str) -> Pcm:
    return join([spoken(engine, part) for part in sentences(text)], SENTENCE_PAUSE_S)


def by_phrase(engine: PiperEngine, text: str) -> Pcm:
    """As the Speaker composes a message for Piper (``voices.speaker.composed``)."""
    return composed(text, lambda part: spoken(engine, part), SENTENCE_PAUSE_S)


RENDERINGS: dict[str, Callable[[PiperEngine, str], Pcm]] = {
    "whole": whole,
    "sentences": by_sentence,
    "phrases": by_phrase,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=2, help="renders of each message")
    parser.add_argument("--jobs", type=int, default=2, help="recogniser processes")
    args = parser.parse_args()
    texts = messages("en", args.messages)
    print(
        f"piper/{BUILTIN_VOICE}, {len(texts)} messages x {args.seeds} seeds at "
        f"{WORDS_PER_MINUTE} wpm; WER = mean per message and seed"
    )
    with ProcessPoolExecutor(args.jobs) as pool:
        heard: dict[str, dict[str, list[tuple[list[str], Future[list[str]]]]]] = {}
        cpu_s: dict[str, float] = {}
        audio_s: dict[str, float] = {}
        for name, render in RENDERINGS.items():
            heard[name] = {line: [] for line in LINES}
            cpu_s[name] = audio_s[name] = 0.0
            for seed in range(1, args.seeds + 1):
                engine = seeded_piper(Rendering(WORDS_PER_MINUTE, SENTENCE_PAUSE_S), seed)
                engine.synthesize("Hello.", "en", BUILTIN_VOICE, WORDS_PER_MINUTE)  # load
                for text in texts:
                    started = time.process_time()
                    pcm = render(engine, text)
                    cpu_s[name] += time.process_time() - started
                    audio_s[name] += pcm.duration_s
                    for line, through in LINES.items():
                        heard[name][line].append((words(text), pool.submit(hear, through(pcm))))
        print(
            f"{'rendering':10} {'audio s':>8} {'Piper CPU s':>11} "
            + " ".join(f"{line + ' WER':>10} {'vs whole':>9}" for line in LINES)
        )
        wer = {
            name: {
                line: statistics.mean(word_error_rate(ref, fut.result()) for ref, fut in pairs)
                for line, pairs in lines.items()
            }
            for name, lines in heard.items()
        }
        for name in RENDERINGS:
            cells = " ".join(
                f"{wer[name][line]:10.1%} {(wer[name][line] - wer['whole'][line]) * 100:+8.1f}p"
                for line in LINES
            )
            print(f"{name:10} {audio_s[name]:8.1f} {cpu_s[name]:11.2f} {cells}", flush=True)


if __name__ == "__main__":
    main()
