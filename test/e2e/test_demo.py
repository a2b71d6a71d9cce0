"""The main job's demo (scripts/demo.py) on a small encoder: every variant
compiles, runs and lands in the table, the fp32 build agrees with
onnxruntime (the script checks), and the quantized builds are smaller."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VARIANTS = ["nibble fp32", "nibble int8", "nibble int4 g128", "nibble w8a8",
            "nibble w4a8 g128", "onnxruntime fp32"]


def test_demo_prints_every_variant(nibble_bin_dir, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--bin-dir", str(nibble_bin_dir),
         "--out-dir", str(tmp_path), "--layers", "1", "--hidden", "256", "--heads", "4",
         "--seq", "8", "--bench-runs", "3"],
        capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    rows = {}
    for line in proc.stdout.splitlines():
        for variant in VARIANTS:
            if line.startswith(variant + " "):
                rows[variant] = line[len(variant):].split()
    assert sorted(rows) == sorted(VARIANTS), proc.stdout
    sizes = {v: int(rows[v][1].replace(",", "")) for v in VARIANTS[:-1]}
    # int8 about a quarter of fp32's bytes, int4 less again (g128 scales).
    assert sizes["nibble int8"] < 0.4 * sizes["nibble fp32"]
    assert sizes["nibble int4 g128"] < sizes["nibble int8"]
    assert sizes["nibble w4a8 g128"] < sizes["nibble w8a8"]
    # Every quantized build reports its error against the fp32 build.
    for variant in VARIANTS[1:-1]:
        assert re.fullmatch(r"[0-9.]+", rows[variant][-1]), rows[variant]
