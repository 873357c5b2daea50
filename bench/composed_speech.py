"""Composed speech benchmark (issue 13): is a message put together from cached phrases as
intelligible as the same message spoken whole?

For Piper (English), espeak-ng (``--engine espeak``) or Pico (``--engine pico``), in any
language the catalog gives that engine a voice for and the recogniser knows, the same
messages (``bench/intelligibility.py``'s: the shipped voicemails, then call messages)
are rendered three ways:

- **whole**: the engine speaks the whole message in one run (the goal's reference);
- **sentences**: each sentence on its own, joined with the sentence pause;
- **phrases**: each phrase on its own (``voices.scripts.phrases``), the phrases of a
  sentence end to end, sentences joined with the sentence pause: what the Speaker does
  for these engines now. (For the phone line the Speaker resamples each phrase to 8 kHz
  before joining; here the joined message is resampled whole. The two differ by each
  phrase's place moving under half a sample, 62 us: ``tests/voices/test_speaker.py``.)

Each is heard by the same independent recogniser (``--recogniser``: pocketsphinx en-us,
or Whisper after ``make bench-asr``) wide band and through Tellwell's phone encoding,
and the word error rate is printed per rendering with its difference from "whole".
Piper samples noise on every render, so each rendering is made ``--seeds`` times
(onnxruntime's seed set and the model loaded anew before each) and the WER is the mean
over every message and seed; espeak-ng and Pico are deterministic (one seed is
enough). Also printed: the audio's length and the engine's CPU seconds for each rendering (uncached:
the cache's gain is ``bench/scale.py``'s; espeak-ng's and Pico's children included).

    .venv/bin/python bench/composed_speech.py [--messages 5] [--seeds 2] [--jobs 2]
        [--engine espeak|pico --language es --recogniser whisper-base]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intelligibility import (  # noqa: E402
    RECOGNISERS,
    WORDS_PER_MINUTE,
    Rendering,
    hear,
    messages,
    seeded_piper,
    tellwell_phone_line,
    word_error_rate,
    words,
)
from bench.support import own_cpu_s  # noqa: E402
from voices import Catalog, Engine, EspeakEngine, PicoEngine  # noqa: E402
from voices.audio import SENTENCE_PAUSE_S, Pcm, join, read_wav  # noqa: E402
from voices.piper_engine import BUILTIN_VOICE  # noqa: E402
from voices.scripts import for_script, sentences  # noqa: E402
from voices.speaker import composed  # noqa: E402

LINES: dict[str, Callable[[Pcm], Pcm]] = {"wide": lambda pcm: pcm, "phone": tellwell_phone_line}


@dataclass(frozen=True)
class Voice:
    engine: Engine
    language: str
    name: str
    script: str = ""  # the catalog's: the text is written in it first, as the Speaker does


def spoken(voice: Voice, text: str) -> Pcm:
    said = for_script(text, voice.script)
    return read_wav(voice.engine.synthesize(said, voice.language, voice.name, WORDS_PER_MINUTE))


def whole(voice: Voice, text: str) -> Pcm:
    return spoken(voice, text)


def by_sentence(voice: Voice, text: str) -> Pcm:
    return join([spoken(voice, part) for part in sentences(text)], SENTENCE_PAUSE_S)


def by_phrase(voice: Voice, text: str) -> Pcm:
    """As the Speaker composes a message (``voices.speaker.composed``)."""
    return composed(text, lambda part: spoken(voice, part), SENTENCE_PAUSE_S)


RENDERINGS: dict[str, Callable[[Voice, str], Pcm]] = {
    "whole": whole,
    "sentences": by_sentence,
    "phrases": by_phrase,
}


# The engines that speak any language the catalog gives them a voice for.
CATALOG_ENGINES: dict[str, Callable[[], Engine]] = {"espeak": EspeakEngine, "pico": PicoEngine}


def voice_for(engine: str, language: str, seed: int) -> Voice:
    if engine == "piper":
        piper = seeded_piper(Rendering(WORDS_PER_MINUTE, SENTENCE_PAUSE_S), seed)
        voice = Voice(piper, "en", BUILTIN_VOICE)
    else:
        chain = [one for one in Catalog.load().get(language).chain() if one.engine == engine]
        if not chain:
            sys.exit(f"the catalog has no {engine} voice for {language!r}")
        voice = Voice(CATALOG_ENGINES[engine](), chain[0].code, chain[0].voice, chain[0].script)
    spoken(voice, "Hello.")  # load
    return voice


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=2, help="renders of each message")
    parser.add_argument("--jobs", type=int, default=2, help="recogniser processes")
    parser.add_argument("--engine", choices=["piper", *CATALOG_ENGINES], default="piper")
    parser.add_argument("--language", default="en", help="not Piper: it speaks en")
    parser.add_argument("--recogniser", choices=sorted(RECOGNISERS), default="pocketsphinx")
    args = parser.parse_args()
    language = "en" if args.engine == "piper" else args.language
    texts = messages(language, args.messages)
    print(
        f"{args.engine} ({language}), {len(texts)} messages x {args.seeds} seeds at "
        f"{WORDS_PER_MINUTE} wpm, heard by {args.recogniser}; WER = mean per message and seed"
    )
    with ProcessPoolExecutor(args.jobs) as pool:
        heard: dict[str, dict[str, list[tuple[list[str], Future[list[str]]]]]] = {}
        engine_s: dict[str, float] = {}
        audio_s: dict[str, float] = {}
        for name, render in RENDERINGS.items():
            heard[name] = {line: [] for line in LINES}
            engine_s[name] = audio_s[name] = 0.0
            for seed in range(1, args.seeds + 1):
                voice = voice_for(args.engine, language, seed)
                for text in texts:
                    started = own_cpu_s()
                    pcm = render(voice, text)
                    engine_s[name] += own_cpu_s() - started
                    audio_s[name] += pcm.duration_s
                    for line, through in LINES.items():
                        hearing = pool.submit(hear, through(pcm), args.recogniser, language)
                        heard[name][line].append((words(text), hearing))
        scores = {
            name: {
                line: [word_error_rate(ref, fut.result()) for ref, fut in pairs]
                for line, pairs in lines.items()
            }
            for name, lines in heard.items()
        }
    print_wer(scores, audio_s, engine_s, set())
    # A recogniser that runs away (one word heard dozens of times) scores a message over
    # 100%: such a message says nothing of the rendering, so the means are shown without it.
    runaway = {
        index
        for lines in scores.values()
        for per_message in lines.values()
        for index, score in enumerate(per_message)
        if score > 1
    }
    for index in sorted(runaway):
        cells = ", ".join(
            f"{name} {line} {scores[name][line][index]:.0%}" for name in scores for line in LINES
        )
        print(
            f"recogniser ran away on message {index % len(texts) + 1} (seed "
            f"{index // len(texts) + 1}): {cells}"
        )
    if runaway:
        print("without those messages:")
        print_wer(scores, audio_s, engine_s, runaway)


def print_wer(
    scores: dict[str, dict[str, list[float]]],
    audio_s: dict[str, float],
    engine_s: dict[str, float],
    left_out: set[int],
) -> None:
    """The table: per rendering, its audio and CPU seconds, and its mean WER per line
    over every message but ``left_out`` (indices into each line's scores)."""
    print(
        f"{'rendering':10} {'audio s':>8} {'CPU s':>11} "
        + " ".join(f"{line + ' WER':>10} {'vs whole':>9}" for line in LINES)
    )
    wer = {
        name: {
            line: statistics.mean(
                score for index, score in enumerate(per_message) if index not in left_out
            )
            for line, per_message in lines.items()
        }
        for name, lines in scores.items()
    }
    for name in RENDERINGS:
        cells = " ".join(
            f"{wer[name][line]:10.1%} {(wer[name][line] - wer['whole'][line]) * 100:+8.1f}p"
            for line in LINES
        )
        print(f"{name:10} {audio_s[name]:8.1f} {engine_s[name]:11.2f} {cells}", flush=True)


if __name__ == "__main__":
    main()
