"""ctypes declarations of the C API that a compiled model library exports.

Mirrors runtime/include/nibble/Runtime/ModelABI.h and nibble.h; keep the two in
step. Every function's signature is declared once, in ModelLibrary, so no call
site passes arguments ctypes would have to guess the types of.
"""

from __future__ import annotations

import ctypes
from ctypes import (CFUNCTYPE, POINTER, c_char_p, c_double, c_int, c_int32, c_int64,
                    c_size_t, c_void_p)
from pathlib import Path

import numpy as np

# nibble_dtype values (ONNX TensorProto.DataType numbers) -> numpy dtypes.
DTYPES = {
    1: np.dtype(np.float32),
    2: np.dtype(np.uint8),
    3: np.dtype(np.int8),
    4: np.dtype(np.uint16),
    5: np.dtype(np.int16),
    6: np.dtype(np.int32),
    7: np.dtype(np.int64),
    9: np.dtype(np.bool_),
    10: np.dtype(np.float16),
    11: np.dtype(np.float64),
    12: np.dtype(np.uint32),
    13: np.dtype(np.uint64),
}

# The narrow types numpy knows through ml_dtypes (one element per byte, two
# for bfloat16, as the runtime lays them out). Without ml_dtypes, models
# with such inputs or outputs cannot be loaded.
try:
    import ml_dtypes

    DTYPES.update({
        16: np.dtype(ml_dtypes.bfloat16),
        17: np.dtype(ml_dtypes.float8_e4m3fn),
        18: np.dtype(ml_dtypes.float8_e4m3fnuz),
        19: np.dtype(ml_dtypes.float8_e5m2),
        20: np.dtype(ml_dtypes.float8_e5m2fnuz),
        21: np.dtype(ml_dtypes.uint4),
        22: np.dtype(ml_dtypes.int4),
        23: np.dtype(ml_dtypes.float4_e2m1fn),
        24: np.dtype(ml_dtypes.float8_e8m0fnu),
        25: np.dtype(ml_dtypes.uint2),
        26: np.dtype(ml_dtypes.int2),
    })
except ImportError:
    pass


class TensorDesc(ctypes.Structure):
    """nibble_tensor_desc: one graph input or output."""

    _fields_ = [
        ("name", c_char_p),
        ("dtype", c_int),  # nibble_dtype; a C enum is an int
        ("rank", c_int32),
        ("shape", POINTER(c_int64)),
    ]


class LayerDesc(ctypes.Structure):
    """nibble_layer_desc: one quantizable layer and its precision."""

    _fields_ = [
        ("name", c_char_p),
        ("op_type", c_char_p),
        ("precision", c_char_p),
        ("weight_bytes", c_int64),
        ("kernel", c_char_p),  # GPU: "gemv", "tensor cores", "generic loops"; CPU: ""
    ]


class DeviceHooks(ctypes.Structure):
    """nibble_device_hooks: how a model that runs on an accelerator reports
    and times its device. Each field is NULL or callable from Python."""

    _fields_ = [
        # NULL (None) when the device is usable, else one line saying why not.
        ("status", CFUNCTYPE(c_char_p)),
        # time_runs(buffers, runs, ms): 0, or non-zero with status() saying why.
        ("time_runs", CFUNCTYPE(c_int, POINTER(c_void_p), c_int32, POINTER(c_double))),
        # The device's name, e.g. b"NVIDIA H100 80GB HBM3 (sm_90)", or None.
        ("describe", CFUNCTYPE(c_char_p)),
    ]


class ModelDesc(ctypes.Structure):
    """nibble_model_desc: the static description of a compiled model."""

    _fields_ = [
        ("model_name", c_char_p),
        ("target", c_char_p),
        ("num_inputs", c_int32),
        ("inputs", POINTER(TensorDesc)),
        ("num_outputs", c_int32),
        ("outputs", POINTER(TensorDesc)),
        ("num_layers", c_int32),
        ("layers", POINTER(LayerDesc)),
        ("weight_bytes", c_int64),
        ("entry", c_void_p),  # never called from Python: nibble_model_run is
        ("device", POINTER(DeviceHooks)),  # NULL (falsy) for a CPU model
    ]


def _setsig(library: ctypes.CDLL, name: str, restype, *argtypes):
    """Looks up `name` in `library` and declares its C signature."""
    function = getattr(library, name)
    function.restype = restype
    function.argtypes = list(argtypes)
    return function


class ModelLibrary:
    """A loaded model library (libNAME.so) with the nibble.h functions typed.

    The library stays mapped for the life of the process: ctypes offers no
    safe unload, and a model's runtime may own threads that run its code.
    """

    def __init__(self, path: Path):
        try:
            # RTLD_LOCAL: several model libraries export the same symbols, and
            # each must resolve its own nibble_model_descriptor().
            library = ctypes.CDLL(str(path), mode=ctypes.RTLD_LOCAL)
        except OSError as error:
            raise OSError(f"cannot load model library '{path}': {error}") from None
        try:
            self.load = _setsig(library, "nibble_model_load", c_void_p)
            self.free = _setsig(library, "nibble_model_free", None, c_void_p)
            self.describe = _setsig(library, "nibble_model_describe",
                                    POINTER(ModelDesc), c_void_p)
            self.tensor_bytes = _setsig(library, "nibble_tensor_bytes", c_size_t,
                                        POINTER(TensorDesc))
            self.run = _setsig(library, "nibble_model_run", c_int, c_void_p, c_int32,
                               POINTER(c_char_p), POINTER(c_void_p), POINTER(c_void_p))
            self.last_error = _setsig(library, "nibble_model_last_error", c_char_p,
                                      c_void_p)
            self.set_num_threads = _setsig(library, "nibble_set_num_threads", c_int, c_int32)
            self.get_num_threads = _setsig(library, "nibble_get_num_threads", c_int32)
        except AttributeError as error:
            raise OSError(f"'{path}' is not a nibble model library (built with "
                          f"nibble-compile --emit=lib): {error}") from None
        self.path = path
        self._library = library
