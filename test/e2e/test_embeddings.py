"""Embedding tables (Gather from a constant table) quantized to int8 per row.

A transformer's token table is often its largest weight; quantizing only the
MatMuls would leave it float. The table is stored as int8 with one scale per
row and only the looked-up rows are dequantized.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

import harness
import models
import transformers

VOCAB, DIM, SEQ = 300, 48, 8


def lookup_model() -> tuple[onnx.ModelProto, np.ndarray]:
    g = models.GraphBuilder("lookup", 3)
    ids = g.input("ids", np.int64, [1, SEQ])
    table = g.rng.standard_normal((VOCAB, DIM)).astype(np.float32)
    table[7] = 0.0  # a row of zeros: scale 1, no division by zero
    g.op("Gather", g.f32(table, "table"), ids, axis=0, name="embed", out="y")
    g.output("y", np.float32, [1, SEQ, DIM])
    return g.build(), table


def test_table_is_int8_per_row_and_exact(nibble_compile, tmp_path):
    model, table = lookup_model()
    path = tmp_path / "lookup.onnx"
    onnx.save(model, path)
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "lookup", quantize="int4")
    ids = np.array([[0, 7, 299, 5, 5, 42, 1, 150]], np.int64)
    got = harness.run_executable(exe, {"ids": ids}, tmp_path / "run", ["y"])["y"]
    scale = (np.max(np.abs(table), axis=1) / np.float32(127)).astype(np.float32)
    scale[scale == 0] = 1
    codes = np.clip(np.rint(table / scale[:, None]), -128, 127)
    want = (codes * scale[:, None]).astype(np.float32)[ids]
    np.testing.assert_array_equal(got, want)
    info = harness.run_tool([exe, "--info"], 60).stdout
    row = next(line.split() for line in info.splitlines() if line.strip().startswith("embed"))
    assert row == ["embed", "Gather", "int8", str(VOCAB * DIM + 4 * VOCAB)]


@pytest.mark.parametrize("mode", ["w8a8", "w4a8"])
def test_activation_modes_quantize_the_table_too(nibble_compile, tmp_path, mode):
    """Dynamic W8A8 and W4A8 need no calibration data; the table still
    becomes int8 per row, as in every other quantizing mode."""
    model, _ = lookup_model()
    path = tmp_path / "lookup.onnx"
    onnx.save(model, path)
    flags = {"activations": "dynamic"} if mode == "w8a8" else {}
    exe = harness.compile_ok(nibble_compile, path, tmp_path / mode, quantize=mode, **flags)
    info = harness.run_tool([exe, "--info"], 60).stdout
    row = next(line.split() for line in info.splitlines() if line.strip().startswith("embed"))
    assert row == ["embed", "Gather", "int8", str(VOCAB * DIM + 4 * VOCAB)]


def test_encoder_int8_shrinks_its_token_table(nibble_compile, tmp_path):
    model = transformers.encoder(layers=1, seq=16, d=64, heads=2, ffn=128, vocab=2000)
    path = tmp_path / "encoder.onnx"
    onnx.save(model, path)
    samples = np.stack([transformers.token_ids(seq=16, vocab=2000, seed=s)["input_ids"]
                        for s in range(8)])
    np.savez(tmp_path / "ids.npz", input_ids=samples)
    report_path = tmp_path / "auto.json"
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "auto", quantize="auto",
                             budget="size=0.3", calibration=tmp_path / "ids.npz",
                             report=report_path)
    report = json.loads(report_path.read_text())
    table = next(layer for layer in report["layers"] if layer["op_type"] == "Gather")
    assert table["shape"] == [2000, 64]
    assert set(table["sensitivity_db"]) == {"int8"}
    # The table is 2000 x 64 of the model's float bytes: a 0.3 budget needs it
    # in int8.
    assert table["precision"] == "int8"
    assert report["weight_bytes"] <= 0.3 * report["float_weight_bytes"]
    inputs = {"input_ids": samples[0]}
    out = harness.run_executable(exe, inputs, tmp_path / "run", ["last_hidden_state"])
    ref = harness.ort_run(path, inputs)["last_hidden_state"]
    assert harness.sqnr_db(out["last_hidden_state"], ref) > 25.0


def test_table_precision_config_is_checked(nibble_compile, tmp_path):
    model, _ = lookup_model()
    path = tmp_path / "lookup.onnx"
    onnx.save(model, path)
    config = tmp_path / "config.json"
    config.write_text('{"layers": [{"match": "embed", "precision": "int4-g32"}]}')
    proc = harness.compile_model(nibble_compile, path, tmp_path / "out", quantize="int8",
                                 precision_config=config)
    harness.assert_one_line_error(proc, "nibble-compile: error: precision config",
                                  "node 'embed' has one scale per output",
                                  "skip (fp32) or int8")
    config.write_text('{"layers": [{"match": "embed", "precision": "skip"}]}')
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "kept", quantize="int8",
                             precision_config=config)
    info = harness.run_tool([exe, "--info"], 60).stdout
    assert any(line.split()[:3] == ["embed", "Gather", "fp32"] for line in info.splitlines())
