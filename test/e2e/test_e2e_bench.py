"""bench/e2e/run_e2e.py runs end to end on the encoder and writes every
variant it promises, for both runtimes. A smoke test of the script, not a
performance test: nothing here depends on how fast anything is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

VARIANTS = {
    ("float32", "onnxruntime"), ("float32", "nibble"),
    ("int8 W8A8 (ort quantize_dynamic)", "onnxruntime"),
    ("int8 W8A8 (ort's model, nibble)", "nibble"),
    ("int8 W8A8 (nibble w8a8 dynamic)", "nibble"),
    ("int4 g32 x int8 (ort MatMulNBits acc4)", "onnxruntime"),
    ("int4 g32 x int8 (ort's model, nibble)", "nibble"),
    ("int4 g32 x int8 (nibble w4a8, GPTQ)", "nibble"),
    ("int4 g128 x int8 (ort MatMulNBits acc4)", "onnxruntime"),
    ("int4 g128 x int8 (ort's model, nibble)", "nibble"),
    ("int4 g128 x int8 (nibble w4a8, GPTQ)", "nibble"),
    ("int4 g128 asymmetric x int8 (ort MatMulNBits acc4)", "onnxruntime"),
    ("int4 g128 asymmetric x int8 (ort's model, nibble)", "nibble"),
    ("int4 g32 weights only (nibble, GPTQ)", "nibble"),
    ("int8 weights only (nibble, GPTQ)", "nibble"),
}


def test_e2e_bench_writes_every_variant(nibble_bin_dir, tmp_path):
    out, table = tmp_path / "e2e.json", tmp_path / "e2e.md"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "e2e" / "run_e2e.py"), "--bin-dir",
         str(nibble_bin_dir), "--models", "encoder", "--runs", "2", "--rounds", "2",
         "--eval-samples", "1",
         "--calibration-samples", "2", "--json", str(out), "--markdown", str(table)],
        capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [result] = json.loads(out.read_text())
    assert result["threads"] == 1
    rows = result["variants"]
    assert {(r["variant"], r["runtime"]) for r in rows} == VARIANTS
    for row in rows:
        assert "error" not in row, row
        assert row["p50_ms"] > 0 and row["weight_bytes"] > 0, row
        assert len(row["round_p50_ms"]) == 2, row
        assert row["sqnr_db"] > 5, row
    # nibble and onnxruntime run the same quantized files with the same
    # arithmetic: their errors agree.
    for ort_name, nibble_name in [
            ("int8 W8A8 (ort quantize_dynamic)", "int8 W8A8 (ort's model, nibble)"),
            *[(f"int4 g{block} x int8 (ort MatMulNBits acc4)",
               f"int4 g{block} x int8 (ort's model, nibble)") for block in (32, 128)],
            ("int4 g128 asymmetric x int8 (ort MatMulNBits acc4)",
             "int4 g128 asymmetric x int8 (ort's model, nibble)")]:
        ort_row, nibble_row = (next(r for r in rows if r["variant"] == name)
                               for name in (ort_name, nibble_name))
        assert abs(ort_row["sqnr_db"] - nibble_row["sqnr_db"]) < 0.5
    assert "| int8 W8A8 (nibble w8a8 dynamic) | nibble |" in table.read_text()
