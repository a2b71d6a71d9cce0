# -*- Python -*-
# lit configuration of the nibble IR tests. Paths come from the generated
# lit.site.cfg.py in the build tree; run `lit -sv <build>/test`.

import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import FindTool, ToolSubst

config.name = "nibble"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.nibble_obj_root, "test")

# Inputs/ holds helpers, not tests; e2e/ and onnx-backend/ are run by ctest.
config.excludes = ["Inputs", "e2e", "onnx-backend", "CMakeLists.txt", "README.md",
                   "lit.cfg.py", "lit.site.cfg.py"]

llvm_config.with_system_environment(["HOME", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

# use_default_substitutions binds %python to the interpreter running lit;
# the model scripts need the one with onnx installed.
config.substitutions = [
    (key, value) for key, value in config.substitutions if key != "%python"
]
config.substitutions.append(
    ("%python", '"%s"' % config.nibble_python_executable))
# The model scripts import a helper next to them; keep the source tree free
# of __pycache__ directories.
config.environment["PYTHONDONTWRITEBYTECODE"] = "1"

# Our tools first, then FileCheck/not/count/split-file, on PATH.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.nibble_tools_dir, append_path=True)

tool_dirs = [config.nibble_tools_dir, config.llvm_tools_dir]
tools = [
    # %-names first: the plain-name patterns would otherwise rewrite the
    # tool name inside them.
    ToolSubst("%nibble-opt", FindTool("nibble-opt"), unresolved="fatal"),
    ToolSubst("%nibble-compile", FindTool("nibble-compile"), unresolved="fatal"),
    ToolSubst("nibble-opt", unresolved="fatal"),
    ToolSubst("nibble-compile", unresolved="fatal"),
    ToolSubst("split-file", unresolved="fatal"),
    ToolSubst("mlir-translate", unresolved="fatal"),
    ToolSubst("llc", unresolved="fatal"),
    ToolSubst("opt", unresolved="fatal"),
]
llvm_config.add_tool_substitutions(tools, tool_dirs)
