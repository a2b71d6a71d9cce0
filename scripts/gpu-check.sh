#!/usr/bin/env bash
# The GPU check: run on a machine with an NVIDIA GPU and driver.
#
#   scripts/gpu-check.sh ARTIFACTS [RESULT.json]
#
# ARTIFACTS is the folder (or a .tar.gz / .tar.xz of it) that
#   .venv/bin/python bench/gpu/build_artifacts.py --bin-dir build/bin --out ARTIFACTS \
#       [--models-dir MODELS]
# made on a build machine (no GPU needed there). The GPU machine needs only
# python3 with numpy, and torch for the fp16 cuBLAS peer and bandwidth probe.
# Optionally a third argument: a NibbleRuntimeTests binary to run there too.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 ARTIFACTS[.tar.gz|.tar.xz] [RESULT.json] [NibbleRuntimeTests]" >&2
  exit 2
fi
artifacts=$1
result=${2:-gpu-check.json}
runtime_tests=${3:-}
here=$(cd "$(dirname "$0")/.." && pwd)

if [[ -f $artifacts ]]; then
  unpacked=$(mktemp -d)
  trap 'rm -rf "$unpacked"' EXIT
  # Python's tarfile reads gzip and xz alike, with no xz binary needed.
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
    "$artifacts" "$unpacked"
  artifacts=$(find "$unpacked" -name manifest.json -printf '%h\n' | head -n1)
fi

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.memory --format=csv || true
if [[ -n $runtime_tests ]]; then
  "$runtime_tests" --gtest_brief=1
fi
python3 "$here/bench/gpu/run_artifacts.py" "$artifacts" --json "$result"
