"""nibble: compile ONNX models ahead of time into native code, from Python.

    import nibble, numpy as np
    with nibble.compile("model.onnx", quantize="int4", group_size=32) as model:
        print(model.inputs, model.layers)
        outputs = model.run({"x": np.zeros((4, 64), np.float32)})

nibble.compile() drives the C++ compiler (the nibble._nibble extension) and
loads the library it writes; nibble.load() loads a library that
`nibble-compile --emit=lib` built. Either way the model runs through the C API
of nibble.h, so Python adds argument checks and no computation.
"""

from nibble.model import Layer, Model, TensorSpec, compile, load

__all__ = ["Layer", "Model", "TensorSpec", "compile", "load"]
