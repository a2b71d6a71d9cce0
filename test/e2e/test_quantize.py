"""Float models compiled with --quantize=int8 and --quantize=int4: outputs
stay close to the float reference, and the binary shrinks with the bits.

The models have 512x512 weights (3 in the MLP, 4 in the attention block), so
weights dominate the binary and the size check is about them, not the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest

import harness
import models

VARIANTS = {
    "fp32": {"quantize": "none"},
    "int8": {"quantize": "int8"},
    "int4": {"quantize": "int4", "group_size": 32},
}

# Minimum SQNR of every output against onnxruntime on the float model.
# Fake-quantizing the weights with plain symmetric round-to-nearest and running
# onnxruntime gives 38-39 dB (int8, per channel) and 15-17 dB (int4, groups of
# 32) on these models; the bounds leave room for any sound scheme and still
# fail a broken one (wrong scale, group or nibble order gives < 5 dB).
MIN_SQNR_DB = {"int8": 30.0, "int4": 12.0}

MODELS = {"large_mlp": models.large_mlp, "large_attention": models.large_attention}


@dataclass
class Build:
    binary_bytes: int
    outputs: dict[str, np.ndarray]


@dataclass
class Builds:
    weight_elements: int
    reference: dict[str, np.ndarray]
    variants: dict[str, Build]


@pytest.fixture(scope="module", params=list(MODELS))
def builds(request, nibble_compile: Path, tmp_path_factory) -> Builds:
    """Compiles one model in every variant and runs each on the same input."""
    name = request.param
    work = tmp_path_factory.mktemp(name)
    model = MODELS[name]()
    path = work / f"{name}.onnx"
    onnx.save(model, path)
    inputs = models.random_inputs(model, seed=20)
    output_names = harness.graph_output_names(path)
    variants = {}
    for variant, flags in VARIANTS.items():
        exe = harness.compile_ok(nibble_compile, path, work / variant, emit="exe", **flags)
        outputs = harness.run_executable(exe, inputs, work / f"{variant}_run", output_names)
        variants[variant] = Build(exe.stat().st_size, outputs)
    weight_elements = sum(int(np.prod(t.dims)) for t in model.graph.initializer
                          if len(t.dims) == 2)
    return Builds(weight_elements, harness.ort_run(path, inputs), variants)


def test_fp32_build_matches_onnxruntime(builds: Builds):
    harness.assert_outputs_match(builds.variants["fp32"].outputs, builds.reference)


@pytest.mark.parametrize("variant", MIN_SQNR_DB)
def test_quantized_outputs_close_to_float(builds: Builds, variant: str):
    outputs = builds.variants[variant].outputs
    for name, ref in builds.reference.items():
        assert outputs[name].shape == ref.shape and outputs[name].dtype == ref.dtype
        sqnr = harness.sqnr_db(outputs[name], ref)
        assert sqnr >= MIN_SQNR_DB[variant], (
            f"{variant} output {name!r}: SQNR {sqnr:.1f} dB < {MIN_SQNR_DB[variant]} dB")


def test_binary_shrinks_with_bits(builds: Builds):
    """fp32 > int8 > int4 by at least half of what the weights alone save:
    4 -> 1 byte per weight, then 1 -> 0.5 byte less one fp32 scale per 32
    weights."""
    w = builds.weight_elements
    size = {variant: build.binary_bytes for variant, build in builds.variants.items()}
    int8_saving = size["fp32"] - size["int8"]
    int4_saving = size["int8"] - size["int4"]
    assert int8_saving >= 0.5 * (3 * w), f"sizes {size}, {w} weights"
    assert int4_saving >= 0.5 * (0.5 - 4 / 32) * w, f"sizes {size}, {w} weights"
