#!/usr/bin/env bash
# Install what is missing (Debian 12, as root or with sudo), then configure and
# build. Idempotent: apt is skipped when every package is present, and the build
# is incremental. Usage: scripts/setup.sh [PRESET [TARGET ...]]   (default: "default", all targets)
set -euo pipefail
cd "$(dirname "$0")/.."

# Everything the project builds against, all from Debian's packages (CUDA, when
# present, is preinstalled outside apt and found through CUDA_HOME / PATH).
# libopenblas0-openmp: LibTorch's CPU matmuls go through libblas.so.3, which is otherwise
# the reference (netlib) BLAS; OpenBLAS takes over that alternative and is several times faster.
PACKAGES=(
  cmake ninja-build g++ pkg-config
  libeigen3-dev libboost-math-dev librapidcheck-dev libgtest-dev libgmock-dev libbenchmark-dev
  libtorch-dev libopenblas0-openmp nlohmann-json3-dev libcli11-dev libfmt-dev libpcre2-dev libutf8proc-dev libgloo-dev zlib1g-dev
  python3-numpy python3-matplotlib time
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} missing package(s): ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # Through env: sudo's env_reset would drop an exported DEBIAN_FRONTEND, and a debconf
  # prompt (tzdata) would then wait on stdin.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#PACKAGES[@]} packages present"
fi

# nvcc is often installed but not on PATH.
if ! command -v nvcc >/dev/null 2>&1; then
  for d in "${CUDA_HOME:-}" /usr/local/cuda; do
    if [ -n "$d" ] && [ -x "$d/bin/nvcc" ]; then export PATH="$d/bin:$PATH"; break; fi
  done
fi

preset="${1:-default}"
shift || true
cmake --preset "$preset"
# Targets after the preset build only those (the demo needs just `disa`); none builds all.
if (($#)); then
  cmake --build --preset "$preset" --target "$@"
else
  cmake --build --preset "$preset"
fi
