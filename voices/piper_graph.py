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

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

__all__ = ["convolutions_as_2d"]

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
