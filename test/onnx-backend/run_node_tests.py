#!/usr/bin/env python3
"""Runs the ONNX backend node tests through nibble-compile and checks them
against a manifest of expected failures.

Each test directory (`<data>/node/test_*/model.onnx` with
`test_data_set_*/input_*.pb` and `output_*.pb`) is compiled to an executable,
run on every data set, and each output compared with the expected one:
floats with rtol 1e-3 and atol 1e-5, integers and booleans exactly.

Graph inputs that nibble needs at compile time (a Reshape's shape or a
reduction's axes passed as an input) are frozen to the test's data with
`nibble-compile --bind-input`, as a user of an ahead-of-time compiler would;
the summary says how many passes needed that.

A test ends in one of these states:
  pass            every output of every data set matches
  mismatch        it ran, but an output differs (or has the wrong dtype/shape)
  compile-error   nibble-compile refused it with a one-line diagnostic
  run-error       the executable refused its inputs with a one-line error
  crash           a tool died from a signal, or wrote more than one error line
  timeout         a tool ran past the per-model limit

The manifest (one line per test expected not to pass: `name  reason`) is the
contract: the run fails when a test outside the manifest does not pass, or
when a test in the manifest passes (so the manifest stays true). Crashes and
timeouts fail the run wherever they are.

    run_node_tests.py --bin-dir build/bin --manifest manifest-cpu.txt
    run_node_tests.py --bin-dir build/bin --filter 'test_concat*' -v
    run_node_tests.py --bin-dir build/bin --write-manifest manifest-cpu.txt
"""

from __future__ import annotations

import argparse
import concurrent.futures
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

COMPILE_TIMEOUT_S = 60
RUN_TIMEOUT_S = 60
FLOAT_RTOL = 1e-3
FLOAT_ATOL = 1e-5
PASS = "pass"
BAD_STATES = ("crash", "timeout")


@dataclass
class Result:
    name: str
    status: str
    detail: str = ""
    seconds: float = 0.0
    bound: list[str] = field(default_factory=list)


# A compile error naming a value nibble needs at compile time.
NEEDS_CONSTANT = re.compile(r"\('([^']+)'\) (?:is computed at run time|must be a constant)")
MAX_BINDINGS = 8


def default_data_dir() -> Path:
    """The node tests shipped inside the installed onnx package."""
    return Path(onnx.__file__).parent / "backend" / "test" / "data" / "node"


def load_tensor(path: Path) -> np.ndarray:
    tensor = onnx.TensorProto()
    tensor.ParseFromString(path.read_bytes())
    return numpy_helper.to_array(tensor)


def one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def run_tool(args: list, timeout: float) -> tuple[str, subprocess.CompletedProcess | None]:
    """Runs a tool; classifies signals and multi-line errors as crashes."""
    try:
        proc = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", None
    if proc.returncode < 0:
        return "crash", proc
    if proc.returncode != 0 and len(proc.stderr.strip().splitlines()) > 1:
        return "crash", proc
    return ("ok" if proc.returncode == 0 else "error"), proc


def compare(name: str, got: np.ndarray, want: np.ndarray) -> str:
    """Empty when `got` matches `want`, else why not."""
    if got.shape != want.shape:
        return f"output {name}: shape {list(got.shape)} != expected {list(want.shape)}"
    if got.dtype.kind == "V" and got.dtype.itemsize == want.dtype.itemsize:
        # ml_dtypes arrays (float8, int4, bfloat16...) are raw bytes in .npy.
        got = got.view(want.dtype)
    if want.dtype.type.__module__.startswith("ml_dtypes") and got.dtype == want.dtype:
        # Compare their values exactly, NaN equal to NaN.
        got, want = got.astype(np.float32), want.astype(np.float32)
        if not np.array_equal(got, want, equal_nan=True):
            return f"output {name}: {int(np.sum(~((got == want) | (np.isnan(got) & np.isnan(want)))))} elements differ"
        return ""
    if got.dtype != want.dtype:
        return f"output {name}: dtype {got.dtype} != expected {want.dtype}"
    if np.issubdtype(want.dtype, np.floating):
        if not np.allclose(got, want, rtol=FLOAT_RTOL, atol=FLOAT_ATOL, equal_nan=True):
            worst = float(np.nanmax(np.abs(got.astype(np.float64) - want)))
            return f"output {name}: max abs error {worst:.3g}"
        return ""
    if not np.array_equal(got, want):
        return f"output {name}: {int(np.sum(got != want))} elements differ"
    return ""


def graph_inputs_feeding(model: onnx.ModelProto, value: str, inputs: list[str]) -> list[str]:
    """The graph inputs `value` is computed from (itself if it is one)."""
    producers = {out: node for node in model.graph.node for out in node.output}
    found, stack, seen = [], [value], set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in inputs:
            found.append(name)
        elif name in producers:
            stack.extend(producers[name].input)
    return sorted(found)


def bind_from_data(test_dir: Path, names: list[str], input_names: list[str],
                   work: Path) -> list[str] | None:
    """--bind-input flags freezing `names` to their test data, or None when
    the data sets disagree on a value (then it is a real run-time input)."""
    flags = []
    for name in names:
        index = input_names.index(name)
        values = [load_tensor(d / f"input_{index}.pb")
                  for d in sorted(test_dir.glob("test_data_set_*"))
                  if (d / f"input_{index}.pb").exists()]
        if not values or any(not np.array_equal(values[0], v) for v in values[1:]):
            return None
        path = work / f"{test_dir.name}.bound{index}.npy"
        np.save(path, values[0])
        flags.append(f"--bind-input={name}={path}")
    return flags


def run_test(test_dir: Path, compiler: Path, work: Path) -> Result:
    """Compiles and runs one node test. Graph inputs that nibble needs at
    compile time (a Reshape's shape, a reduction's axes given as inputs) are
    frozen to their test data with --bind-input, as a user of an
    ahead-of-time compiler would; such passes are reported separately."""
    start = time.monotonic()
    name = test_dir.name
    model = onnx.load(test_dir / "model.onnx", load_external_data=False)
    exe = work / name
    input_names = [i.name for i in model.graph.input
                   if i.name not in {t.name for t in model.graph.initializer}]
    bound: list[str] = []
    bind_flags: list[str] = []
    for _ in range(MAX_BINDINGS + 1):
        state, proc = run_tool([compiler, test_dir / "model.onnx", "-o", exe, *bind_flags],
                               COMPILE_TIMEOUT_S)
        if state != "error":
            break
        match = NEEDS_CONSTANT.search(proc.stderr)
        feeding = graph_inputs_feeding(model, match.group(1), input_names) if match else []
        new = [n for n in feeding if n not in bound]
        flags = bind_from_data(test_dir, new, input_names, work) if new else None
        if not flags:
            break
        bound += new
        bind_flags += flags
    if state != "ok":
        detail = one_line(proc.stderr) if proc else f"compile timed out after {COMPILE_TIMEOUT_S} s"
        status = "compile-error" if state == "error" else state
        return Result(name, status, detail, time.monotonic() - start, bound)

    output_names = [o.name for o in model.graph.output]
    data_sets = sorted(test_dir.glob("test_data_set_*"))
    for data_set in data_sets:
        args = [exe]
        for i, input_name in enumerate(input_names):
            pb = data_set / f"input_{i}.pb"
            if not pb.exists() or input_name in bound:
                continue  # an omitted optional input, or frozen at compile time
            npy = work / f"{name}.in{i}.npy"
            np.save(npy, load_tensor(pb))
            args += ["--input", f"{input_name}={npy}"]
        out_dir = work / f"{name}.out"
        args += ["--output-dir", out_dir]
        state, proc = run_tool(args, RUN_TIMEOUT_S)
        if state != "ok":
            detail = one_line(proc.stderr) if proc else f"run timed out after {RUN_TIMEOUT_S} s"
            status = "run-error" if state == "error" else state
            return Result(name, status, detail, time.monotonic() - start, bound)
        for j, output_name in enumerate(output_names):
            want = load_tensor(data_set / f"output_{j}.pb")
            safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in output_name)
            got_path = out_dir / f"{safe}.npy"
            if not got_path.exists():
                return Result(name, "mismatch", f"output {output_name} was not written",
                              time.monotonic() - start, bound)
            why = compare(output_name, np.load(got_path), want)
            if why:
                return Result(name, "mismatch", why, time.monotonic() - start, bound)
        shutil.rmtree(out_dir, ignore_errors=True)
    return Result(name, PASS, "", time.monotonic() - start, bound)


def read_manifest(path: Path) -> dict[str, str]:
    expected = {}
    if not path.exists():
        return expected
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition(" ")
        expected[name] = reason.strip()
    return expected


def write_manifest(path: Path, results: list[Result]) -> None:
    """Lists every failing test with its diagnostic. A reason written by hand
    that starts with "known:" (a judgement, e.g. why expected data is wrong)
    is kept while the test still fails."""
    previous = read_manifest(path)
    lines = ["# ONNX backend node tests expected not to pass on the CPU target.",
             "# Generated by test/onnx-backend/run_node_tests.py --write-manifest;",
             "# one line per test: name, then why it does not pass. Reasons",
             "# starting with 'known:' are written by hand and kept."]
    for r in sorted(results, key=lambda r: r.name):
        if r.status != PASS:
            kept = previous.get(r.name, "")
            reason = kept if kept.startswith("known:") else f"{r.status}: {r.detail}"
            lines.append(f"{r.name}  {reason}")
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--manifest", type=Path, default=None)
    parser.add_argument("--write-manifest", type=Path, default=None)
    parser.add_argument("--filter", action="append", default=[],
                        help="glob on test names (repeatable)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, default=None, help="write all results here")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()

    compiler = args.bin_dir / "nibble-compile"
    if not compiler.exists():
        print(f"error: {compiler} not found; build nibble first", file=sys.stderr)
        return 2
    data_dir = args.data_dir or default_data_dir()
    tests = sorted(p for p in data_dir.iterdir() if (p / "model.onnx").exists())
    if args.filter:
        tests = [t for t in tests if any(fnmatch.fnmatch(t.name, f) for f in args.filter)]
    if not tests:
        print(f"error: no node tests found in {data_dir}", file=sys.stderr)
        return 2

    start = time.monotonic()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="nibble-node-tests-") as tmp:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(run_test, t, compiler, Path(tmp)): t for t in tests}
            for future in concurrent.futures.as_completed(futures):
                test = futures[future]
                try:
                    result = future.result()
                except Exception as error:  # a broken test file, not a nibble failure
                    result = Result(test.name, "mismatch", f"runner: {error}")
                results.append(result)
                if args.verbose:
                    frozen = f" [bound: {', '.join(result.bound)}]" if result.bound else ""
                    print(f"{result.status:14} {result.name}{frozen}  {result.detail}")
    elapsed = time.monotonic() - start

    if args.write_manifest:
        write_manifest(args.write_manifest, results)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=1))

    expected = read_manifest(args.manifest) if args.manifest else {}
    unexpected_failures = [r for r in results if r.status != PASS and r.name not in expected]
    unexpected_passes = [r for r in results if r.status == PASS and r.name in expected]
    bad = [r for r in results if r.status in BAD_STATES]
    by_status: dict[str, int] = {}
    for r in results:
        by_status[r.status] = by_status.get(r.status, 0) + 1
    with_bound = sum(1 for r in results if r.status == PASS and r.bound)
    print(f"node tests: {len(results)} in {elapsed:.0f} s; " +
          ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())) +
          f"; {with_bound} of the passes froze parameter inputs with --bind-input")
    if args.manifest:
        for r in sorted(unexpected_failures, key=lambda r: r.name):
            print(f"UNEXPECTED {r.status}: {r.name}: {r.detail}")
        for r in sorted(unexpected_passes, key=lambda r: r.name):
            print(f"UNEXPECTED PASS (remove it from the manifest): {r.name}")
    for r in sorted(bad, key=lambda r: r.name):
        print(f"{r.status.upper()}: {r.name}: {r.detail}")
    failed = len(unexpected_failures) + len(unexpected_passes) + len(
        [r for r in bad if r.name not in {u.name for u in unexpected_failures}])
    passed = by_status.get(PASS, 0)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 1 if (args.manifest and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
