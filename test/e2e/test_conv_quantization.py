"""Convolution filters quantized to int8, one scale per output channel.

The layout check is exact: onnxruntime runs the same model with each filter
replaced by its dequantized int8 values, and nibble's quantized binary must
match it to float rounding.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import harness
import models

SHARED_MODELS = Path(__file__).resolve().parents[3] / "shared" / "models"


def small_cnn() -> onnx.ModelProto:
    """Conv 3->8 (3x3) -> Relu -> grouped strided Conv 8->8 (groups 2, 3x3,
    stride 2) -> Relu -> Conv 8->4 (1x1) = y."""
    g = models.GraphBuilder("small_cnn", 5)
    x = g.input("x", np.float32, [1, 3, 16, 16])
    h = g.op("Relu", g.op("Conv", x, g.weight(8, 3, 3, 3, fan_in=27), g.bias(8),
                          pads=[1, 1, 1, 1], name="conv1"))
    h = g.op("Relu", g.op("Conv", h, g.weight(8, 4, 3, 3, fan_in=36), g.bias(8),
                          pads=[1, 1, 1, 1], strides=[2, 2], group=2, name="conv2"))
    g.op("Conv", h, g.weight(4, 8, 1, 1, fan_in=8), name="conv3", out="y")
    g.output("y", np.float32, [1, 4, 8, 8])
    return g.build()


def with_dequantized_filters(model: onnx.ModelProto) -> onnx.ModelProto:
    """Each Conv filter W[F, ...] replaced by int8 per output channel,
    dequantized: scale = max|W[f]| / 127, round half to even."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    filters = {node.input[1] for node in model.graph.node if node.op_type == "Conv"}
    for init in model.graph.initializer:
        if init.name in filters:
            w = numpy_helper.to_array(init)
            flat = w.reshape(w.shape[0], -1)
            scale = (np.max(np.abs(flat), axis=1) / np.float32(127)).astype(np.float32)
            scale[scale == 0] = 1
            q = np.clip(np.rint(flat / scale[:, None]), -128, 127)
            init.CopyFrom(numpy_helper.from_array(
                (q * scale[:, None]).astype(np.float32).reshape(w.shape), init.name))
    return model


def test_filters_are_int8_per_output_channel(nibble_compile, tmp_path):
    model = small_cnn()
    path = tmp_path / "cnn.onnx"
    onnx.save(model, path)
    onnx.save(with_dequantized_filters(model), tmp_path / "dequantized.onnx")
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "cnn", quantize="int8")
    x = np.random.default_rng(0).standard_normal((1, 3, 16, 16)).astype(np.float32)
    got = harness.run_executable(exe, {"x": x}, tmp_path / "run", ["y"])["y"]
    want = harness.ort_run(tmp_path / "dequantized.onnx", {"x": x})["y"]
    assert harness.relative_error(got, want) < 1e-5
    info = harness.run_tool([exe, "--info"], 60).stdout
    rows = {line.split()[0]: line.split() for line in info.splitlines()
            if line.strip().startswith("conv")}
    # F x rest int8 values and F f32 scales. A strided filter is stored
    # phased (2 x 2 phases of 2 x 2 taps per input channel, zero taps
    # included): 64 values per output channel for the 36 of its 3 x 3 x 4.
    assert rows["conv1"][1:] == ["Conv", "int8", str(8 * 27 + 4 * 8)]
    assert rows["conv2"][1:] == ["Conv", "int8", str(8 * 64 + 4 * 8)]
    assert rows["conv3"][1:] == ["Conv", "int8", str(4 * 8 + 4 * 4)]


def test_auto_measures_filters(nibble_compile, tmp_path):
    path = tmp_path / "cnn.onnx"
    onnx.save(small_cnn(), path)
    np.savez(tmp_path / "c.npz",
             x=np.random.default_rng(1).standard_normal((6, 1, 3, 16, 16)).astype(np.float32))
    report_path = tmp_path / "r.json"
    harness.compile_ok(nibble_compile, path, tmp_path / "auto", quantize="auto",
                       budget="sqnr=30", calibration=tmp_path / "c.npz", report=report_path)
    report = json.loads(report_path.read_text())
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert set(layers) == {"conv1", "conv2", "conv3"}
    assert layers["conv2"]["shape"] == [8, 64]  # phased, see above
    assert all(set(layer["sensitivity_db"]) == {"int8"} for layer in layers.values())
    assert report["end_to_end"]["sqnr_db"] >= 30


def test_paddleocr_classifier_int8(nibble_compile, tmp_path):
    path = SHARED_MODELS / "ch_ppocr_mobile_v2.0_cls_infer.onnx"
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared models live beside the checkout)")
    import test_real_models
    x = test_real_models.synthetic_text_image(48, 192)
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "cls", quantize="int8",
                             input_shape="x:1x3x48x192")
    name = harness.graph_output_names(path)[0]
    got = harness.run_executable(exe, {"x": x}, tmp_path / "run", [name])[name]
    want = harness.ort_run(path, {"x": x})[name]
    assert np.argmax(got) == np.argmax(want)
    # Measured: 20.2 dB on the class probabilities (0.106 / 0.894 against
    # 0.165 / 0.835); onnxruntime's static QDQ int8 reaches 10.6 dB.
    assert harness.sqnr_db(got, want) > 15.0
    info = harness.run_tool([exe, "--info"], 60).stdout
    total = int(info.split("total weight bytes: ")[1].split()[0])
    assert total < 0.35 * 505_800  # float: 505.8 KiB of constants


def test_float16_filters_are_int8_too(nibble_compile, tmp_path):
    """The same network in float16: its filters (a strided one phased in
    float16 at import) become int8 per output channel, and the output stays
    that of the float32 network's int8 build to float16's precision."""
    model = small_cnn()
    path32, path16 = tmp_path / "cnn32.onnx", tmp_path / "cnn16.onnx"
    onnx.save(model, path32)
    onnx.save(models.to_float16(model), path16)
    x = np.random.default_rng(0).standard_normal((1, 3, 16, 16)).astype(np.float16)
    outputs = {}
    for name, path, value in (("f32", path32, x.astype(np.float32)), ("f16", path16, x)):
        exe = harness.compile_ok(nibble_compile, path, tmp_path / name, quantize="int8")
        outputs[name] = harness.run_executable(exe, {"x": value}, tmp_path / f"run{name}",
                                               ["y"])["y"]
        info = harness.run_tool([exe, "--info"], 60).stdout
        rows = {line.split()[0]: line.split() for line in info.splitlines()
                if line.strip().startswith("conv")}
        assert rows["conv2"][1:] == ["Conv", "int8", str(8 * 64 + 4 * 8)], name
    assert outputs["f16"].dtype == np.float16
    assert harness.sqnr_db(outputs["f16"], outputs["f32"]) >= 40.0
