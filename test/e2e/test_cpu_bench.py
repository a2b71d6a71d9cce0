"""bench/cpu/run_bench.py runs end to end on a tiny shape and writes the
figures it promises for every implementation. A smoke test of the script,
not a performance test: nothing here depends on how fast anything is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

IMPLEMENTATIONS = {"nibble int4 g128", "nibble int4 g32", "nibble int8 g128",
                   "nibble w4a8 g128 (acc4)", "nibble w8a8",
                   "onnxruntime int4 g128 acc0", "onnxruntime int4 g128 acc4",
                   "onnxruntime int8 MatMulInteger", "onnxruntime fp32"}


def test_cpu_bench_writes_every_figure(nibble_bin_dir, tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "cpu" / "run_bench.py"),
         "--bin-dir", str(nibble_bin_dir), "--shapes", "256x128", "--batches", "1", "3",
         "--runs", "2", "--rotation-mib", "1", "--json", str(out),
         "--markdown", str(tmp_path / "bench.md")],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["read_probe_bytes_per_s"] > 0
    assert report["rotation_bytes"] == 1 << 20
    results = report["results"]
    assert {(r["impl"], r["m"]) for r in results} == {
        (impl, m) for impl in IMPLEMENTATIONS for m in (1, 3)}
    for r in results:
        assert r["copies"] * r["weight_bytes_per_layer"] >= 1 << 20, r
        assert r["seconds_per_layer"] > 0 and r["gflops"] > 0, r
        peers = {impl for impl in IMPLEMENTATIONS if impl.startswith("onnxruntime")}
        assert set(r["speedup_vs"]) == peers - {r["impl"]}, r
    # The markdown table: one row per shape and batch, every cell filled.
    table = (tmp_path / "bench.md").read_text().splitlines()
    assert len(table) == 2 + 2, table
    header_cells = table[0].count("|")
    for row, m in zip(table[2:], (1, 3)):
        assert row.startswith(f"| 256 x 128 | {m} |"), row
        assert row.count("|") == header_cells and "nan" not in row, row
