"""A Piper voice's 1-D convolutions run as 2-D ones: the same sums, a faster kernel.

Piper's voices are VITS models, and most of their CPU is 1-D convolutions (the HiFi-GAN
decoder's, at the audio rate). onnxruntime runs a 2-D convolution with its blocked
channel layout (NCHWc, vectorised for AVX2 and AVX-512), but a 1-D one through im2col and
a matrix multiply. Written as a 2-D convolution over a height of one, each computes the
same products in another order: the audio matches the shipped graph's within float
rounding, for about 18% less CPU per second of speech (bench/piper_runtime.py, issue 13).
onnxruntime's own optimiser blocks only 4-D convolutions, and no library rewrites them,
hence these few lines on the ``onnx`` package's graph.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import onnx
from onnx import helper, numpy_helper

if TYPE_CHECKING:
    import onnxruntime

__all__ = [
    "CLOSING_FRAMES_KEPT",
    "TAIL_FRAMES_OUTPUT",
    "ClosingSilenceRestored",
    "as_piper_runs_it",
    "closing_silence_skipped",
    "convolutions_as_2d",
]

_CONVOLUTIONS = ("Conv", "ConvTranspose")
_PREFIX = "tellwell.2d/"
"""Names of the tensors the rewrite adds: apart from any name a graph has."""
_HEIGHT = f"{_PREFIX}height_axis"
"""The initializer naming the axis of height one (2) that Unsqueeze adds and Squeeze drops."""
_AXES_AS_INPUT_FROM = 13
"""From this opset on, Unsqueeze and Squeeze take their axes as an input, not an attribute."""


def convolutions_as_2d(model: onnx.ModelProto) -> int:
    """Rewrite, in place, each 1-D convolution of ``model``'s graph as Unsqueeze, a 2-D
    convolution of height one, Squeeze; return how many were rewritten.

    Only what stays exact is rewritten: a ``Conv`` or ``ConvTranspose`` whose weights are a
    3-D initializer, without ``auto_pad`` or ``output_shape``. Anything else is left as it
    is, so a voice this cannot help still loads as shipped.
    """
    graph = model.graph
    weights = {tensor.name: tensor for tensor in graph.initializer}
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    axes_as_input = opset >= _AXES_AS_INPUT_FROM
    nodes: list[onnx.NodeProto] = []
    raised: dict[str, str] = {}  # a 3-D tensor -> its 4-D view, made once however many read it
    weights_2d: dict[str, str] = {}
    rewritten = 0

    def with_axes(op: str, source: str, target: str) -> onnx.NodeProto:
        if axes_as_input:
            return helper.make_node(op, [source, _HEIGHT], [target], name=target)
        return helper.make_node(op, [source], [target], name=target, axes=[2])

    for node in graph.node:
        attributes = _attributes_2d(node, weights)
        if attributes is None:
            nodes.append(node)
            continue
        source, weight, *bias = node.input
        if source not in raised:
            raised[source] = f"{_PREFIX}{source}"
            nodes.append(with_axes("Unsqueeze", source, raised[source]))
        if weight not in weights_2d:
            weights_2d[weight] = f"{_PREFIX}{weight}"
            kernel = numpy_helper.to_array(weights[weight])
            graph.initializer.append(
                numpy_helper.from_array(np.expand_dims(kernel, 2), weights_2d[weight])
            )
        output = node.output[0]
        nodes.append(
            helper.make_node(
                node.op_type,
                [raised[source], weights_2d[weight], *bias],
                [f"{_PREFIX}{output}"],
                name=node.name,
                **attributes,
            )
        )
        nodes.append(with_axes("Squeeze", f"{_PREFIX}{output}", output))
        raised[output] = f"{_PREFIX}{output}"  # a convolution that reads it takes it as is
        rewritten += 1
    if not rewritten:
        return 0
    if axes_as_input:
        graph.initializer.append(numpy_helper.from_array(np.array([2], dtype=np.int64), _HEIGHT))
    del graph.node[:]
    graph.node.extend(nodes)
    still_read = _names_read(graph) | {output.name for output in graph.output}
    for tensor in [t for t in graph.initializer if t.name in weights_2d]:
        if tensor.name not in still_read:  # a 3-D kernel only the old convolution read
            graph.initializer.remove(tensor)
    return rewritten


def _names_read(graph: onnx.GraphProto) -> set[str]:
    """Every tensor name a node of ``graph`` reads, in its subgraphs (If, Loop) too."""
    read = set()
    for node in graph.node:
        read.update(node.input)
        for attribute in node.attribute:
            subgraphs = [attribute.g] if attribute.HasField("g") else []
            for subgraph in [*subgraphs, *attribute.graphs]:
                read |= _names_read(subgraph)
    return read


def _attributes_2d(
    node: onnx.NodeProto, weights: dict[str, onnx.TensorProto]
) -> dict[str, Any] | None:
    """The node's attributes for the same convolution over a height of one, or None when
    it is not a 1-D convolution this rewrites exactly."""
    if node.op_type not in _CONVOLUTIONS or node.domain not in ("", "ai.onnx"):
        return None
    if len(node.input) < 2 or len(node.output) != 1:
        return None
    weight = weights.get(node.input[1])
    if weight is None or len(weight.dims) != 3:
        return None
    attributes: dict[str, Any] = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        if attribute.name in ("kernel_shape", "strides", "dilations"):
            attributes[attribute.name] = [1, *value]
        elif attribute.name == "output_padding":
            attributes[attribute.name] = [0, *value]
        elif attribute.name == "pads":  # [begin, end] -> [top, begin, bottom, end]
            attributes[attribute.name] = [0, value[0], 0, value[1]]
        elif attribute.name == "group":
            attributes[attribute.name] = value
        elif attribute.name == "auto_pad" and value in (b"NOTSET", "NOTSET"):
            continue
        else:  # auto_pad, output_shape: sizes onnxruntime would work out another way
            return None
    return attributes


_TAIL = "tellwell.tail/"
TAIL_FRAMES_OUTPUT = f"{_TAIL}frames_skipped"
"""The output the tail rewrite adds: how many frames of closing silence were left out."""
CLOSING_FRAMES_KEPT = 4
"""Frames of the closing silence still made, after the pad that follows the last spoken
id: the speech's release then matches the shipped graph's to 35 dB or better (measured
on 42 names and sentences without sampling noise; median 47 dB). With none kept the
release of a short phrase changes (16 dB); with 4, 11 of a name's 15 frames are left out."""


def closing_silence_skipped(
    model: onnx.ModelProto, silent_ids: Collection[int], kept_frames: int = CLOSING_FRAMES_KEPT
) -> bool:
    """Rewrite, in place, a Piper voice's graph so it does not make most of the silence
    it closes a text with, and says how long that was; return whether it did.

    A VITS voice gives every phoneme id a length in frames (its one ``Ceil`` node), and
    the frames of the silent ids after the speech (the closing punctuation, pads, the end
    ``$``) cost as much to decode as speech: about a tenth of a name's. The rewritten
    graph keeps the pad right after the last spoken id (the speech's release) and
    ``kept_frames`` more, and gives the rest none; its second output,
    ``TAIL_FRAMES_OUTPUT``, is the frames it left out, for ``ClosingSilenceRestored`` to
    put back as zeros, so a text lasts as long as it did and pauses stay as they were.
    The silence before the speech is left as it is: without it the onset changes.
    The graph then takes one text at a time, as Piper runs it (a batch of one).
    A graph without one ``Ceil`` or an ``input`` of phoneme ids is not rewritten; one
    rewritten before (saved after this) is left as it is, and leaves the silence out.
    """
    graph = model.graph
    if TAIL_FRAMES_OUTPUT in {output.name for output in graph.output}:
        return True
    ceil = [node for node in graph.node if node.op_type == "Ceil"]
    if len(ceil) != 1 or "input" not in {i.name for i in graph.input} or not silent_ids:
        return False
    lengths = ceil[0].output[0]
    silent = np.zeros(max(silent_ids) + 2, dtype=np.float32)
    silent[list(silent_ids)] = 1.0  # the last entry stays 0: an id past the table is spoken
    constants: dict[str, np.ndarray] = {
        "silent": silent,
        "last_entry": np.array(len(silent) - 1, dtype=np.int64),
        "one": np.array(1.0, dtype=np.float32),
        "zero": np.array(0.0, dtype=np.float32),
        "kept": np.array(float(kept_frames), dtype=np.float32),
        "last_axis": np.array(-1, dtype=np.int64),
        "id_axis": np.array([1], dtype=np.int64),
        "first": np.array([0], dtype=np.int64),
        "but_last": np.array([-1], dtype=np.int64),
        "spoken_before_first": np.ones((1, 1), dtype=np.float32),
    }
    graph.initializer.extend(
        numpy_helper.from_array(value, f"{_TAIL}{name}") for name, value in constants.items()
    )
    outside: dict[str, str] = {"input": "input", "lengths": lengths, "skipped": TAIL_FRAMES_OUTPUT}

    def op(op_type: str, inputs: list[str], output: str, **attributes: Any) -> onnx.NodeProto:
        def full(name: str) -> str:
            return outside.get(name, f"{_TAIL}{name}")

        return helper.make_node(
            op_type, [full(i) for i in inputs], [full(output)], name=full(output), **attributes
        )

    added = [
        # Per id [1, ids]: is it spoken, and is anything spoken from the one before it on.
        op("Min", ["input", "last_entry"], "ids"),
        op("Gather", ["silent", "ids"], "is_silent"),
        op("Sub", ["one", "is_silent"], "is_spoken"),
        op("CumSum", ["is_spoken", "last_axis"], "spoken_from_here", reverse=1),
        op("Slice", ["is_spoken", "first", "but_last", "id_axis"], "is_spoken_but_last"),
        op("Concat", ["spoken_before_first", "is_spoken_but_last"], "previous_spoken", axis=1),
        op("Add", ["spoken_from_here", "previous_spoken"], "spoken_from_previous"),
        op("Equal", ["spoken_from_previous", "zero"], "closing"),
        op("Cast", ["closing"], "closing_mask", to=onnx.TensorProto.FLOAT),
        op("Unsqueeze", ["closing_mask", "id_axis"], "closing_mask_3d"),
        # Per id [1, 1, ids]: the closing lengths, the first kept_frames of them kept.
        op("Mul", ["lengths", "closing_mask_3d"], "closing_lengths"),
        op("CumSum", ["closing_lengths", "last_axis"], "closing_before", exclusive=1),
        op("Sub", ["kept", "closing_before"], "still_to_keep"),
        op("Max", ["still_to_keep", "zero"], "room_to_keep"),
        op("Min", ["closing_lengths", "room_to_keep"], "closing_kept"),
        op("Sub", ["closing_lengths", "closing_kept"], "left_out"),
        op("Sub", ["lengths", "left_out"], "made"),
        op("ReduceSum", ["left_out"], "frames_left_out", keepdims=0),
        op("Unsqueeze", ["frames_left_out", "first"], "skipped"),
    ]
    made = f"{_TAIL}made"
    for consumer in graph.node:
        consumer.input[:] = [made if name == lengths else name for name in consumer.input]
    after_ceil = list(graph.node).index(ceil[0]) + 1
    nodes = [*graph.node[:after_ceil], *added, *graph.node[after_ceil:]]
    del graph.node[:]
    graph.node.extend(nodes)
    graph.output.append(
        helper.make_tensor_value_info(TAIL_FRAMES_OUTPUT, onnx.TensorProto.FLOAT, [1])
    )
    return True


class ClosingSilenceRestored:
    """A session of a graph ``closing_silence_skipped`` rewrote, run as Piper runs one:
    the audio with the silence it left out put back as zeros, Piper's one output."""

    def __init__(self, session: onnxruntime.InferenceSession, hop_length: int) -> None:
        self._session = session
        self._hop_length = hop_length

    def run(self, output_names: list[str] | None, feed: dict[str, np.ndarray]) -> list[Any]:
        audio, skipped = self._session.run(None, feed)
        silence = np.zeros((*audio.shape[:-1], int(skipped[0]) * self._hop_length), audio.dtype)
        return [np.concatenate([audio, silence], axis=-1)]


def as_piper_runs_it(
    session: onnxruntime.InferenceSession, hop_length: int
) -> onnxruntime.InferenceSession:
    """``session`` for Piper: in ``ClosingSilenceRestored`` when its graph leaves the
    closing silence out (it has ``TAIL_FRAMES_OUTPUT``), else as it is. Piper takes any
    object that runs as its session does."""
    if TAIL_FRAMES_OUTPUT not in {output.name for output in session.get_outputs()}:
        return session
    return cast("onnxruntime.InferenceSession", ClosingSilenceRestored(session, hop_length))
