"""LayerNormalization, InstanceNormalization and BatchNormalization models
with constant parameters, plus the variants the importer rejects."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from onnx_test_util import dispatch, save

F = TensorProto.FLOAT


def build(path, op, x_shape, params, outputs=("y",), opset=17, elem=F, **attrs):
    """`op` on x with constant `params` ({name: array}, "" for an omitted
    optional input); every output has x's shape except as given. `elem` is
    the type of x, the parameters and y (other outputs: float32)."""
    names = ["x"] + list(params)
    node = helper.make_node(op, names, [name for name, _ in outputs_with_shapes(outputs, x_shape)],
                            name=op.lower(), **attrs)
    dtype = np.float16 if elem == TensorProto.FLOAT16 else np.float32
    graph = helper.make_graph(
        [node], op.lower(),
        [helper.make_tensor_value_info("x", elem, x_shape)],
        [helper.make_tensor_value_info(name, elem if name == "y" else F, shape)
         for name, shape in outputs_with_shapes(outputs, x_shape) if name],
        initializer=[numpy_helper.from_array(np.asarray(v, dtype), name=k)
                     for k, v in params.items() if k],
    )
    save(graph, path, opset=opset)


def outputs_with_shapes(outputs, x_shape):
    return [(o, x_shape) if isinstance(o, str) else o for o in outputs]


def channel_params(names, channels=3):
    return {name: np.arange(channels) + i + 1 for i, name in enumerate(names)}


dispatch({
    # Normalized over the last two dims; Mean and InvStdDev are [2, 1, 1].
    "layernorm_stats": lambda p: build(
        p, "LayerNormalization", [2, 3, 4],
        {"scale": np.ones((3, 4)), "bias": np.zeros((3, 4))},
        outputs=("y", ("mean", [2, 1, 1]), ("inv_std", [2, 1, 1])), axis=1, epsilon=1e-3),
    "layernorm_no_bias": lambda p: build(p, "LayerNormalization", [2, 3, 4],
                                         {"scale": np.ones(4)}),
    # float16 X: float32 statistics (stash_type 1), float16 Y.
    "layernorm_f16": lambda p: build(
        p, "LayerNormalization", [2, 4], {"scale": np.ones(4), "bias": np.zeros(4)},
        outputs=("y", ("mean", [2, 1]), ("inv_std", [2, 1])), elem=TensorProto.FLOAT16),
    "instancenorm": lambda p: build(p, "InstanceNormalization", [2, 3, 5, 5],
                                    channel_params(["scale", "bias"])),
    "batchnorm": lambda p: build(p, "BatchNormalization", [2, 3, 5, 5],
                                 channel_params(["scale", "bias", "mean", "var"]), opset=15),
    "batchnorm_training": lambda p: build(p, "BatchNormalization", [2, 3, 5, 5],
                                          channel_params(["scale", "bias", "mean", "var"]),
                                          opset=15, training_mode=1),
    "batchnorm_bad_channels": lambda p: build(p, "BatchNormalization", [2, 3, 5, 5],
                                              channel_params(["scale", "bias", "mean", "var"], 4),
                                              opset=15),
})
