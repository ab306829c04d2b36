#!/usr/bin/env bash
# The one command to check the CUDA kernels (issue 7) on a GPU machine: configures the
# standalone kernels build (kernels/standalone/CMakeLists.txt) against pip's PyTorch,
# builds the checkers and bench_kernels, runs them, and writes four logs to
# ${OUT:-results/gpu}: gpu.txt (nvidia-smi, nvcc, torch), build.log, tests.log, bench.log,
# and where the toolkit has them sass.txt (kernel 1's sm_90 machine code) and, with
# PROFILE=1, ncu.txt (Nsight Compute on kernel 1).
# Exit status: 0 when every checker passed (a checker that SKIPS on a GPU machine counts
# as a failure: it means no device was visible), 1 otherwise.
#
#   scripts/gpu_check.sh                 on the GPU machine (nvcc, cmake, ninja, python3 with torch)
#   scripts/gpu_check.sh --pack [DIR]    on a Debian machine with the project's packages: copies the
#                                        header-only/source dependencies the GPU machine lacks into
#                                        DIR (default build-gpu-deps, about 11 MB; git ignores /build*/): fmt's headers (used
#                                        header-only), the Boost headers src/is_estimator.cpp
#                                        includes (found with g++ -M) plus boost/config, and the
#                                        googletest sources (/usr/src/googletest).
#
# With the device tool of this workplace, from the repository root:
#   scripts/gpu_check.sh --pack                                                  # here, once
#   run(command="PROFILE=1 scripts/gpu_check.sh", carry=["build-gpu-deps"], timeout_s=600)  # there
# Environment: DISA_DEPS (dependency folder, default build-gpu-deps), CUDA_HOME (nvcc's
# toolkit, default: nvcc on PATH, else /usr/local/cuda), BENCH_ARGS (extra bench_kernels
# flags, e.g. "--fp32"), JOBS (build parallelism, default nproc), PROFILE (1: run ncu),
# GPU_CHECK_BUDGET_S (seconds the whole script may take, default 570: ncu gets what is left),
# TORCH_CUDA_ARCH_LIST (what torch's CMake config compiles for, default "8.0;9.0").
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ "${1:-}" == "--pack" ]]; then
  set -e
  DIR="${2:-$ROOT/build-gpu-deps}"
  mkdir -p "$DIR/include"
  cp -r /usr/include/fmt "$DIR/include/"
  # Exactly the Boost headers the estimator includes, as this compiler resolves them.
  g++ -std=c++20 -M -I"$ROOT" "$ROOT/src/is_estimator.cpp" | tr ' \\' '\n\n' | grep '^/usr/include/boost/' |
    sort -u | while read -r h; do
      mkdir -p "$DIR/include/$(dirname "${h#/usr/include/}")"
      cp "$h" "$DIR/include/${h#/usr/include/}"
    done
  cp -r /usr/include/boost/config "$DIR/include/boost/"
  rm -rf "$DIR/googletest"
  cp -r /usr/src/googletest "$DIR/googletest"
  du -sh "$DIR"
  echo "packed into $DIR; carry it to the GPU machine (git ignores /build*/)"
  exit 0
fi

OUT="${OUT:-$ROOT/results/gpu}"
mkdir -p "$OUT"
DEPS="${DISA_DEPS:-$ROOT/build-gpu-deps}"
BUILD="$ROOT/build-gpu"
if command -v nvcc >/dev/null; then NVCC="$(command -v nvcc)"; else NVCC="${CUDA_HOME:-/usr/local/cuda}/bin/nvcc"; fi
# CUDA_HOME picks the toolkit only where it has an nvcc (an image may set it elsewhere).
[[ -n "${CUDA_HOME:-}" && -x "${CUDA_HOME}/bin/nvcc" ]] && NVCC="$CUDA_HOME/bin/nvcc"
if [[ ! -x "$NVCC" ]]; then
  echo "gpu_check: nvcc not found (set CUDA_HOME)" | tee "$OUT/build.log"
  exit 1
fi
# Without torch the kernels, their other checkers and the benchmark (minus its eager
# side) still build and run; the missing torch checker then counts as a failure.
TORCH_PREFIX="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)" || {
  echo "gpu_check: python3 cannot import torch: building without LibTorch"
  TORCH_PREFIX=""
}

{
  date -u
  nvidia-smi || echo "nvidia-smi failed"
  "$NVCC" --version
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "device",
              torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)'
  echo "git: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null) $(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) changed files"
} >"$OUT/gpu.txt" 2>&1

# -k 0: a target that fails to compile (most likely one compiled against this machine's
# LibTorch only, never built on the Debian box) must not keep every other checker from
# running in the one device session; what did not build is a failure below.
failed=0
TORCH_CUDA="$(python3 -c 'import torch; print("ON" if torch.version.cuda else "OFF")' 2>/dev/null || echo OFF)"
# pip torch's CMake config compiles for TORCH_CUDA_ARCH_LIST (else what it probes on the
# visible GPU); the standalone CMakeLists.txt restores 80;90 for the project's targets.
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-8.0;9.0}"
configure() {
  cmake -S "$ROOT/kernels/standalone" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DDISA_DEPS="$DEPS" -DCMAKE_CUDA_COMPILER="$NVCC" \
    -DCMAKE_CUDA_ARCHITECTURES="80;90" -DDISA_REQUIRE_TORCH_CUDA_STREAM="$TORCH_CUDA" "$@" >>"$OUT/build.log" 2>&1
}
: >"$OUT/build.log"
if [[ -z "$TORCH_PREFIX" ]] || ! configure; then
  # Torch's config (its CUDA probes) failing must not cost the kernels' checks.
  failed=1
  [[ -n "$TORCH_PREFIX" ]] && { echo "gpu_check: configuring with LibTorch failed (first errors below; all in $OUT/build.log); again without it"; grep -m 10 -E "Error|error" "$OUT/build.log"; }
  rm -rf "$BUILD"
  configure -DDISA_STANDALONE_TORCH=OFF || {
    echo "gpu_check: cmake failed; see $OUT/build.log"
    tail -30 "$OUT/build.log"
    exit 1
  }
fi
# A binary left by an earlier call on a warm machine must not stand in for one that no
# longer builds.
rm -rf "$BUILD/bin"
# The nvcc line kernel 1 is compiled with: which -gencode targets reached it.
ninja -C "$BUILD" -t commands disa_kernels 2>/dev/null | grep -m 1 "token_logprobs.cu" >>"$OUT/build.log"
if ! cmake --build "$BUILD" -j "${JOBS:-$(nproc)}" -- -k 0 >>"$OUT/build.log" 2>&1; then
  failed=1
  echo "gpu_check: some targets failed to build (first errors below; all in $OUT/build.log); running the rest"
  grep -m 20 -E "error|FAILED" "$OUT/build.log"
fi

: >"$OUT/tests.log"
for t in kernels_cpu_device_test kernels_token_logprobs_math_test kernels_log_z_hat_math_test \
  kernels_loss_heads_math_test kernels_token_logprobs_test \
  kernels_loss_heads_test kernels_log_z_hat_test kernels_torch_test; do
  echo "==== $t" >>"$OUT/tests.log"
  if [[ ! -x "$BUILD/bin/$t" ]]; then
    failed=1
    echo "gpu_check: $t was not built"
  elif ! "$BUILD/bin/$t" >>"$OUT/tests.log" 2>&1; then
    failed=1
    echo "gpu_check: $t FAILED"
  elif tail -5 "$OUT/tests.log" | grep -q "SKIPPED"; then
    failed=1
    echo "gpu_check: $t SKIPPED on a GPU machine (no device visible?)"
  else
    echo "gpu_check: $t passed"
  fi
done

if [[ -x "$BUILD/bin/bench_kernels" ]]; then
  # shellcheck disable=SC2086
  "$BUILD/bin/bench_kernels" ${BENCH_ARGS:-} >"$OUT/bench.log" 2>&1 || {
    failed=1
    echo "gpu_check: bench_kernels failed (validation or CUDA error)"
  }
  cat "$OUT/bench.log"
else
  failed=1
  echo "gpu_check: bench_kernels was not built" | tee "$OUT/bench.log"
fi

# Kernel 1's machine code for sm_90 (cuobjdump ships with the toolkit there, not on the
# Debian box): the SASS behind the instructions-per-element estimates that
# bench/RESULTS.md reads off the PTX.
CUOBJDUMP="$(dirname "$NVCC")/cuobjdump"
command -v cuobjdump >/dev/null && [[ ! -x "$CUOBJDUMP" ]] && CUOBJDUMP="$(command -v cuobjdump)"
if [[ -x "$CUOBJDUMP" ]]; then
  "$CUOBJDUMP" --dump-sass -arch sm_90 "$BUILD/kernels/CMakeFiles/disa_kernels.dir/token_logprobs.cu.o" \
    >"$OUT/sass.txt" 2>&1 && echo "gpu_check: kernel 1's SASS in $OUT/sass.txt" ||
    echo "gpu_check: cuobjdump failed (see $OUT/sass.txt)"
fi

# PROFILE=1: Nsight Compute on kernel 1 at the bench's shape (one timed repetition):
# speed of light (memory vs compute throughput), issue-slot use, occupancy. The first
# eight launches are: validation fwd and bwd (16 rows), then warm-up + timed fwd, fwd with
# entropy, bwd. Not a check: it does not change the exit status.
# The device tool gives one command 600 s: ncu gets what is left of GPU_CHECK_BUDGET_S
# (default 570) so that the summary line and the logs still come back.
left=$(( ${GPU_CHECK_BUDGET_S:-570} - SECONDS ))
if [[ "${PROFILE:-0}" == 1 && $left -lt 60 ]]; then
  echo "gpu_check: PROFILE=1 but only ${left} s left of ${GPU_CHECK_BUDGET_S:-570}: ncu skipped"
elif [[ "${PROFILE:-0}" == 1 ]]; then
  if command -v ncu >/dev/null; then
    # shellcheck disable=SC2086
    timeout $((left - 10)) ncu --kernel-name regex:token_logprobs --launch-count 8 --section SpeedOfLight \
      --section ComputeWorkloadAnalysis --section Occupancy "$BUILD/bin/bench_kernels" --reps=1 --no-torch \
      ${BENCH_ARGS:-} >"$OUT/ncu.txt" 2>&1 && echo "gpu_check: Nsight Compute report in $OUT/ncu.txt" ||
      echo "gpu_check: ncu failed or timed out (see $OUT/ncu.txt)"
  else
    echo "gpu_check: PROFILE=1 but no ncu on PATH"
  fi
fi
echo "gpu_check: logs in $OUT; $([[ $failed -eq 0 ]] && echo "all checks passed" || echo "SOME CHECKS FAILED")"
exit $failed
