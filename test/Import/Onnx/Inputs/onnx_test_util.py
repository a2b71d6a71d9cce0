"""Shared helpers of the Inputs/ scripts that build the importer tests' models.

Each script is run by a RUN line as ``%python SCRIPT OUT.onnx [VARIANT]`` and
writes one small model. Models carry IR version 10 (what onnxruntime 1.23
reads), so the files are the same as the ones users export.
"""

import sys

import onnx
from onnx import helper

IR_VERSION = 10


def save(graph, path, opset=17, extra_opsets=()):
    """Writes `graph` as a model importing the default domain at `opset`."""
    opsets = [helper.make_opsetid("", opset)]
    opsets += [helper.make_opsetid(domain, version) for domain, version in extra_opsets]
    model = helper.make_model(graph, opset_imports=opsets, ir_version=IR_VERSION)
    onnx.save(model, path)


def args():
    """(output path, variant) from the command line; variant may be None."""
    if len(sys.argv) not in (2, 3):
        sys.exit(f"usage: {sys.argv[0]} OUT.onnx [VARIANT]")
    return sys.argv[1], (sys.argv[2] if len(sys.argv) == 3 else None)


def dispatch(builders):
    """Runs builders[variant](path); the variant names the model to write."""
    path, variant = args()
    if variant not in builders:
        sys.exit(f"unknown variant {variant!r}; choose one of {sorted(builders)}")
    builders[variant](path)
