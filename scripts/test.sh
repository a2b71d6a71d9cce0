#!/usr/bin/env bash
# Runs every nibble test: installs what is missing, builds incrementally, then
# runs CTest (lit/FileCheck, GoogleTest, end-to-end pytest). Idempotent.
#
#   scripts/test.sh            # everything
#   scripts/test.sh -R lit     # extra arguments go to ctest
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${NIBBLE_BUILD_DIR:-$root/build}

"$root/scripts/setup.sh"

if [ ! -d "$root/../shared/models" ]; then
  echo "note: ../shared/models is absent; tests on the real ONNX models will skip"
fi
cd "$build_dir"
ctest --output-on-failure -j "$(nproc)" "$@"
