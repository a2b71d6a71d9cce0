"""Model: a compiled nibble model library, run from Python through its C API.

The library does the work; this class only checks what Python callers pass
(names, dtypes, shapes) before handing numpy buffers to nibble_model_run, so a
mistake is a ValueError naming the input instead of a wrong answer.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import weakref
from collections.abc import Mapping, Sequence
from ctypes import c_char_p, c_void_p
from pathlib import Path
from typing import NamedTuple

import numpy as np

from nibble import _capi


class TensorSpec(NamedTuple):
    """A graph input or output: its ONNX name, numpy dtype and static shape."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.name}: {self.dtype}{list(self.shape)}"


class Layer(NamedTuple):
    """A quantizable layer (MatMul/Gemm) and the precision the compiler chose."""

    name: str
    op_type: str
    precision: str
    weight_bytes: int
    # On a GPU, the kernel that runs it: "gemv", "tensor cores" or
    # "generic loops"; empty on the CPU.
    kernel: str = ""


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", errors="replace") if value else ""


def _tensor_specs(library: _capi.ModelLibrary, descs, count: int) -> list[TensorSpec]:
    """Copies tensor descriptors into Python, checking that numpy and the
    library agree on each tensor's size in bytes."""
    specs = []
    for i in range(count):
        desc = descs[i]
        name = _text(desc.name)
        if desc.dtype not in _capi.DTYPES:
            hint = ("; install ml_dtypes for bfloat16, float8, float4, int4 and int2"
                    if 16 <= desc.dtype <= 26 else "")
            raise RuntimeError(f"tensor '{name}' has dtype code {desc.dtype}, which this "
                               f"version of the nibble package does not know{hint}")
        spec = TensorSpec(name, _capi.DTYPES[desc.dtype],
                          tuple(desc.shape[d] for d in range(desc.rank)))
        expected = int(np.prod(spec.shape, dtype=np.int64)) * spec.dtype.itemsize
        actual = library.tensor_bytes(descs[i])
        if actual != expected:
            raise RuntimeError(f"tensor '{name}' is {actual} bytes in the library but "
                               f"{expected} for numpy: the library does not match this "
                               f"version of the nibble package")
        specs.append(spec)
    return specs


def _release(library: _capi.ModelLibrary, handle: int,
             workdir: tempfile.TemporaryDirectory | None) -> None:
    """Frees the model handle and deletes the directory it was compiled into.

    Runs once, from close() or when the Model is garbage collected; it must not
    refer to the Model itself (weakref.finalize would then never fire).
    """
    library.free(handle)
    if workdir is not None:
        workdir.cleanup()


class Model:
    """A compiled model, loaded from its shared library (libNAME.so).

    Made by nibble.compile() or nibble.load(). ``inputs``/``outputs`` describe
    the graph, ``run()`` executes it, ``layers`` and ``report`` say how it was
    compiled. ``close()`` (or leaving a ``with`` block, or garbage collection)
    frees the model and deletes the files nibble.compile() made for it.
    """

    def __init__(self, library_path: str | os.PathLike,
                 _workdir: tempfile.TemporaryDirectory | None = None,
                 _measured_report: dict | None = None):
        library = _capi.ModelLibrary(Path(library_path))
        handle = library.load()
        if not handle:
            raise MemoryError("nibble_model_load returned NULL (out of memory)")
        self._finalizer = weakref.finalize(self, _release, library, handle, _workdir)
        self._library = library
        self._handle = handle
        self._lock = threading.Lock()  # last_error is per handle: one run at a time

        desc_ptr = library.describe(handle)
        if not desc_ptr:
            raise RuntimeError(f"'{library_path}' has no model descriptor; rebuild it "
                               "with nibble-compile --emit=lib")
        desc = desc_ptr.contents
        self.name = _text(desc.model_name)
        self.target = _text(desc.target)
        self.inputs = _tensor_specs(library, desc.inputs, desc.num_inputs)
        self.outputs = _tensor_specs(library, desc.outputs, desc.num_outputs)
        self.layers = [Layer(_text(layer.name), _text(layer.op_type),
                             _text(layer.precision), layer.weight_bytes, _text(layer.kernel))
                       for layer in desc.layers[:desc.num_layers]]
        self.weight_bytes = desc.weight_bytes
        self._measured_report = _measured_report

    @property
    def library_path(self) -> Path:
        """The shared library this model was loaded from."""
        return self._library.path

    # -- lifetime ------------------------------------------------------------

    def close(self) -> None:
        """Frees the model and its temporary files; later run() calls fail."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        ins = ", ".join(map(str, self.inputs))
        outs = ", ".join(map(str, self.outputs))
        state = " (closed)" if self.closed else ""
        return f"<nibble.Model '{self.name}' ({ins}) -> ({outs}){state}>"

    # -- description ---------------------------------------------------------

    @property
    def info(self) -> dict:
        """What `./model --info` prints, as JSON-ready data."""
        def tensors(specs):
            return [{"name": s.name, "dtype": str(s.dtype), "shape": list(s.shape)}
                    for s in specs]
        return {"model_name": self.name, "target": self.target,
                "inputs": tensors(self.inputs), "outputs": tensors(self.outputs),
                **self.report}

    @property
    def report(self) -> dict:
        """The compilation report: the data of `nibble-compile --report`.

        A model compiled with calibration data, --quantize=auto or
        ``report=True`` was measured: the report then holds per-layer
        precisions, bytes, sensitivities and SQNR, and end-to-end error with
        its tails (docs/quantization.md lists every key). Otherwise it holds
        each layer's precision and weight bytes and the total weight bytes.
        Read it by key: keys may be added.
        """
        if self._measured_report is not None:
            return self._measured_report
        return {"layers": [layer._asdict() for layer in self.layers],
                "weight_bytes": self.weight_bytes}

    # -- running -------------------------------------------------------------

    @property
    def num_threads(self) -> int:
        """Threads the CPU kernels use in runs from this Python thread (1 for
        a model without parallel kernels)."""
        return int(self._library.get_num_threads())

    @num_threads.setter
    def num_threads(self, threads: int) -> None:
        """Sets the CPU kernels' threads for runs from this Python thread:
        1 or more, or 0 for every core (the default comes from
        NIBBLE_NUM_THREADS, then OMP_NUM_THREADS)."""
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise ValueError(f"num_threads must be an integer >= 0, got {threads!r}")
        self._library.set_num_threads(min(threads, 4096))

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Runs the model once; returns {output name: ndarray} in graph order.

        `inputs` maps every graph input name to an ndarray of exactly the
        declared dtype and shape. Arrays are never cast: a float64 array for a
        float32 input is a ValueError, as is a missing, unknown or misshapen
        input. Non-contiguous arrays are copied to C order.
        """
        if self.closed:
            raise ValueError("this nibble.Model is closed")
        arrays = self._checked_inputs(inputs)
        outputs = {spec.name: np.empty(spec.shape, spec.dtype) for spec in self.outputs}
        names = (c_char_p * len(arrays))(*(name.encode() for name in arrays))
        in_ptrs = (c_void_p * len(arrays))(*(a.ctypes.data for a in arrays.values()))
        out_ptrs = (c_void_p * len(outputs))(*(o.ctypes.data for o in outputs.values()))
        with self._lock:
            if self._library.run(self._handle, len(arrays), names, in_ptrs, out_ptrs):
                raise RuntimeError(_text(self._library.last_error(self._handle)))
        return outputs

    def _checked_inputs(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Validates `inputs` against the model's inputs; returns C-contiguous
        arrays in descriptor order."""
        if not isinstance(inputs, Mapping):
            raise TypeError(f"run() takes a dict of input name -> ndarray, "
                            f"not {type(inputs).__name__}")
        expected = {spec.name: spec for spec in self.inputs}
        known = ", ".join(map(str, self.inputs)) or "none"
        for name in inputs:
            if name not in expected:
                raise ValueError(f"unknown input {name!r}; the model's inputs are {known}")
        arrays = {}
        for name, spec in expected.items():
            if name not in inputs:
                raise ValueError(f"missing input {name!r}; the model's inputs are {known}")
            value = inputs[name]
            if not isinstance(value, np.ndarray):
                raise TypeError(f"input {name!r} must be a numpy.ndarray, "
                                f"not {type(value).__name__}")
            if value.dtype != spec.dtype:
                raise ValueError(f"input {name!r} has dtype {value.dtype} but the model "
                                 f"expects {spec.dtype}; convert it with "
                                 f".astype(numpy.{spec.dtype.name})")
            if value.shape != spec.shape:
                raise ValueError(f"input {name!r} has shape {list(value.shape)} but the "
                                 f"model expects {list(spec.shape)}")
            arrays[name] = np.require(value, requirements="C")
        return arrays


def load(library_path: str | os.PathLike) -> Model:
    """Loads a model library built with `nibble-compile --emit=lib`."""
    return Model(library_path)


def compile(path: str | os.PathLike, quantize: str = "none", target: str = "host",
            group_size: int = 128,
            input_shapes: Mapping[str, Sequence[int]] | None = None, *,
            calibration: str | os.PathLike | None = None, budget: str | None = None,
            precision_config: str | os.PathLike | None = None, method: str = "auto",
            asymmetric: bool = False, activations: str = "static", smoothquant: float = 0.0,
            activation_range: str = "minmax", report: bool = False) -> Model:
    """Compiles an ONNX model into a temporary library and loads it.

    The arguments mean what nibble-compile's flags of the same names mean;
    `input_shapes` fixes symbolic dimensions, e.g. {"x": (4, 64)};
    `calibration` is a .npz file or directory of sample inputs, `budget`
    "size=F" or "sqnr=DB" for quantize="auto"; `activations` ("static" or
    "dynamic"), `smoothquant` (alpha) and `activation_range` ("minmax",
    "percentile", "entropy") for quantize="w8a8"; `report=True` measures the
    quantized model even without calibration data (on random inputs). The
    measured report is ``model.report``. Compiler errors raise RuntimeError
    with nibble-compile's one-line message. The returned Model owns the
    temporary directory and deletes it on close().
    """
    # Imported here so that load() works where only the pure-Python part of the
    # package is installed (deploying libraries built by nibble-compile).
    try:
        from nibble import _nibble
    except ImportError as error:
        raise ImportError("nibble.compile needs the compiler extension nibble._nibble, "
                          f"which failed to import ({error}); build nibble's "
                          "python-bindings or use nibble-compile --emit=lib with "
                          "nibble.load") from error
    workdir = tempfile.TemporaryDirectory(prefix="nibble-")
    try:
        stem = re.sub(r"\W", "_", Path(path).stem, flags=re.ASCII) or "model"
        output = Path(workdir.name) / stem
        report_path = Path(workdir.name) / "report.json"
        _nibble.compile_model(
            os.fspath(path), str(output), quantize, target, group_size,
            _shape_flags(input_shapes), asymmetric=asymmetric,
            calibration=os.fspath(calibration) if calibration is not None else "",
            budget=budget or "",
            precision_config=os.fspath(precision_config) if precision_config is not None else "",
            method=method, report_path=str(report_path), measure=report,
            activations=activations, smoothquant=smoothquant,
            activation_range=activation_range)
        measured = json.loads(report_path.read_text()) if report_path.exists() else None
        return Model(output.with_name(f"lib{stem}.so"), _workdir=workdir,
                     _measured_report=measured)
    except BaseException:
        workdir.cleanup()
        raise


def _shape_flags(input_shapes: Mapping[str, Sequence[int]] | None) -> list[str]:
    """{"x": (4, 64)} -> ["x:4x64"], the form of --input-shape."""
    if input_shapes is None:
        return []
    if not isinstance(input_shapes, Mapping):
        raise TypeError("input_shapes must map input names to shapes, "
                        "e.g. {'x': (4, 64)}")
    return [f"{name}:{'x'.join(str(int(d)) for d in shape)}"
            for name, shape in input_shapes.items()]
