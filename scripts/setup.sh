#!/usr/bin/env bash
# Installs what nibble needs and builds it. Idempotent: installed packages, the
# virtual environment and the build directory are reused when already present.
#
#   scripts/setup.sh            # packages + venv + build
#   NIBBLE_BUILD_DIR=...        # build directory (default: build)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${NIBBLE_BUILD_DIR:-$root/build}
venv=${NIBBLE_VENV:-$root/.venv}

# Debian packages: LLVM/MLIR 22 (lit and FileCheck come with llvm-22-tools),
# protobuf, GoogleTest, Google Benchmark, pybind11, libzip (calibration .npz),
# cairo and a font (report plots), LLVM's OpenMP runtime (CPU threads),
# ccache, ninja.
apt_packages=(
  libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools lld-22 libomp-22-dev libzstd-dev
  libonnx-dev protobuf-compiler libprotobuf-dev pybind11-dev libgtest-dev libgmock-dev
  libbenchmark-dev libzip-dev libcairo2-dev fonts-dejavu-core ccache ninja-build cmake g++ python3-venv
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python virtual environment with pinned packages.
req="$root/scripts/requirements.txt"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
stamp="$venv/.nibble-requirements"
if ! cmp -s "$req" "$stamp"; then
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  cp "$req" "$stamp"
fi

# Configure once, then build incrementally.
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build_dir" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DPython3_EXECUTABLE="$venv/bin/python"
fi
cmake --build "$build_dir"
