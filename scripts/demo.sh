#!/usr/bin/env bash
# The main job: installs what is missing, builds nibble, then compiles the
# example transformer encoder as fp32, int8 and int4 (weights only), w8a8
# and w4a8 (int8 activations), runs them all and onnxruntime on the same
# input and prints size, latency and error.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${NIBBLE_BUILD_DIR:-$root/build}
venv=${NIBBLE_VENV:-$root/.venv}

"$root/scripts/setup.sh"
exec "$venv/bin/python" "$root/scripts/demo.py" --bin-dir "$build_dir/bin" \
  --out-dir "${NIBBLE_DEMO_DIR:-$root/demo-out}" "$@"
