#!/usr/bin/env bash
# The one command to check the CUDA kernels (issue 7) on a GPU machine: configures the
# standalone kernels build (kernels/standalone/CMakeLists.txt) against pip's PyTorch,
# builds the checkers, bench_kernels and bench_kernels_core, runs them, and writes four
# logs to ${OUT:-results/gpu}: gpu.txt (nvidia-smi, nvcc, torch), build.log, tests.log,
# bench.log, and where the toolkit has them sass.txt (kernel 1's sm_90 machine code) and,
# with PROFILE=1, ncu.txt (Nsight Compute on kernel 1).
# Exit status: 0 when every checker passed (a checker that SKIPS on a GPU machine counts
# as a failure: it means no device was visible), 1 otherwise.
#
#   scripts/gpu_check.sh                 on the GPU machine (nvcc, cmake, ninja, python3 with torch)
#   scripts/gpu_check.sh --pack [DIR]    on a Debian machine with the project's packages: copies the
#                                        header-only/source dependencies the GPU machine lacks into
#                                        DIR (default build-gpu-deps, about 12 MB; git ignores /build*/): fmt's headers (used
#                                        header-only), nlohmann-json's, the Boost headers the library
#                                        sources of src/sources.cmake include (found with g++ -M) plus
#                                        boost/config, and the googletest sources (/usr/src/googletest).
#   scripts/gpu_check.sh --dry-run       on a machine without a GPU (this Debian box, or CI): what the
#                                        GPU run will do, as far as it can be done without one. Packs
#                                        into the build folder, configures with the system's fmt,
#                                        Boost, GTest and nlohmann-json turned off (the packed copies
#                                        only, as there) against Debian's CPU-only LibTorch when
#                                        libtorch-dev is installed, builds every target, fails if any
#                                        object used a header the pack should have held, runs every
#                                        checker (its *Gpu* cases must SKIP, all others pass) and both
#                                        benchmarks (they must print "no CUDA device: skipped").
#                                        Folder: GPU_CHECK_BUILD (default build-gpu-dry: build/, deps/,
#                                        and the logs in logs/ or OUT). Exit 0 when all of that held,
#                                        77 without nvcc (the test gpu_check_dry_run then skips), else 1.
#                                        Cold on 2 cores: about 4-5 min of CPU time (4-7 min wall here,
#                                        with other builds running); seconds once built.
#
# With the device tool of this workplace, from the repository root:
#   scripts/gpu_check.sh --pack                                                  # here, once
#   run(command="PROFILE=1 scripts/gpu_check.sh", carry=["build-gpu-deps"], timeout_s=600)  # there
# Environment: DISA_DEPS (dependency folder, default build-gpu-deps), CUDA_HOME (nvcc's
# toolkit, default: nvcc on PATH, else /usr/local/cuda), BENCH_ARGS (extra bench_kernels
# flags, e.g. "--fp32"), JOBS (build parallelism, default nproc), PROFILE (1: run ncu, the
# toolkit's beside nvcc first, else the one on PATH; it never changes the GPU's clocks),
# GPU_CHECK_BUDGET_S (seconds the whole script may take, default 570: ncu gets what is left),
# TORCH_CUDA_ARCH_LIST (what torch's CMake config compiles for, default "8.0;9.0").
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Fills DIR with what the standalone build takes from DISA_DEPS. cp -p throughout: a
# re-pack keeps the files' times, so a build that used an earlier pack is not redone.
pack() (
  set -e
  local dir="$1" list
  mkdir -p "$dir/include"
  cp -rp /usr/include/fmt /usr/include/nlohmann "$dir/include/"
  # Exactly the Boost headers the library sources include, as this compiler resolves them;
  # the sources come from src/sources.cmake, the list both builds compile.
  list="$(mktemp)"
  printf 'include("%s/src/sources.cmake")\nforeach(s ${DISA_COMMON_SOURCES} ${DISA_LOSS_SOURCES})\n  message("${s}")\nendforeach()\n' \
    "$ROOT" >"$list"
  mapfile -t sources < <(cmake -P "$list" 2>&1)
  rm -f "$list"
  g++ -std=c++20 -M -I"$ROOT" "${sources[@]}" | tr ' \\' '\n\n' | grep '^/usr/include/boost/' |
    sort -u | while read -r h; do
      mkdir -p "$dir/include/$(dirname "${h#/usr/include/}")"
      cp -p "$h" "$dir/include/${h#/usr/include/}"
    done
  cp -rp /usr/include/boost/config "$dir/include/boost/"
  rm -rf "$dir/googletest"
  cp -rp /usr/src/googletest "$dir/googletest"
)

if [[ "${1:-}" == "--pack" ]]; then
  DIR="${2:-$ROOT/build-gpu-deps}"
  pack "$DIR"
  [[ $? -eq 0 ]] || { echo "gpu_check: packing into $DIR failed"; exit 1; }
  du -sh "$DIR"
  echo "packed into $DIR; carry it to the GPU machine (git ignores /build*/)"
  exit 0
fi

DRY_RUN=0
[[ "${1:-}" == "--dry-run" ]] && DRY_RUN=1
if [[ $DRY_RUN == 1 ]]; then
  DRY="${GPU_CHECK_BUILD:-$ROOT/build-gpu-dry}"
  BUILD="$DRY/build"
  DEPS="$DRY/deps"
  OUT="${OUT:-$DRY/logs}"
else
  BUILD="$ROOT/build-gpu"
  OUT="${OUT:-$ROOT/results/gpu}"
  DEPS="${DISA_DEPS:-$ROOT/build-gpu-deps}"
fi
mkdir -p "$OUT"
if command -v nvcc >/dev/null; then NVCC="$(command -v nvcc)"; else NVCC="${CUDA_HOME:-/usr/local/cuda}/bin/nvcc"; fi
# CUDA_HOME picks the toolkit only where it has an nvcc (an image may set it elsewhere).
[[ -n "${CUDA_HOME:-}" && -x "${CUDA_HOME}/bin/nvcc" ]] && NVCC="$CUDA_HOME/bin/nvcc"
if [[ ! -x "$NVCC" ]]; then
  echo "gpu_check: nvcc not found (set CUDA_HOME)" | tee "$OUT/build.log"
  # 77: ctest's SKIP_RETURN_CODE for the dry-run test; on the GPU machine it is a failure.
  [[ $DRY_RUN == 1 ]] && exit 77
  exit 1
fi

if [[ $DRY_RUN == 1 ]]; then
  # The GPU machine's LibTorch is pip's (CUDA); here Debian's CPU-only one stands in, so
  # that the torch glue, its checker and bench_kernels are compiled and linked, never run
  # on a device. python3's torch is not asked: this box's is not the GPU machine's either.
  TORCH_PREFIX=""
  TORCH_CUDA=OFF
  HAVE_TORCH=0
  dpkg -s libtorch-dev >/dev/null 2>&1 && HAVE_TORCH=1
  # Not `pack ... ||`: set -e inside pack would be ignored there.
  pack "$DEPS" >"$OUT/pack.log" 2>&1
  [[ $? -eq 0 ]] || { echo "gpu_check: packing into $DEPS failed (see $OUT/pack.log)"; exit 1; }
  {
    date -u
    echo "dry run: no GPU expected; LibTorch: $([[ $HAVE_TORCH == 1 ]] && echo "Debian's libtorch-dev (CPU)" || echo none)"
    "$NVCC" --version
    echo "git: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null) $(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) changed files"
  } >"$OUT/gpu.txt" 2>&1
else
  # Without torch the kernels, their other checkers and the benchmark (minus its eager
  # side) still build and run; the missing torch checker then counts as a failure.
  TORCH_PREFIX="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)" || {
    echo "gpu_check: python3 cannot import torch: building without LibTorch"
    TORCH_PREFIX=""
  }
  HAVE_TORCH=0
  [[ -n "$TORCH_PREFIX" ]] && HAVE_TORCH=1
  TORCH_CUDA="$(python3 -c 'import torch; print("ON" if torch.version.cuda else "OFF")' 2>/dev/null || echo OFF)"
  # A pack made before nlohmann-json was added to it (or none carried) shows here, not as a
  # compile error deep in build.log; not fatal: this machine may have its own copies.
  for d in include/fmt include/nlohmann include/boost/math googletest; do
    [[ -e "$DEPS/$d" ]] || echo "gpu_check: $DEPS/$d is missing (re-run scripts/gpu_check.sh --pack and carry it)"
  done
  {
    date -u
    nvidia-smi || echo "nvidia-smi failed"
    "$NVCC" --version
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "device",
                torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)'
    echo "git: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null) $(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) changed files"
  } >"$OUT/gpu.txt" 2>&1
fi

# -k 0: a target that fails to compile (most likely one compiled against this machine's
# LibTorch only, never built on the Debian box) must not keep every other checker from
# running in the one device session; what did not build is a failure below.
failed=0
# pip torch's CMake config compiles for TORCH_CUDA_ARCH_LIST (else what it probes on the
# visible GPU); the standalone CMakeLists.txt restores 80;90 for the project's targets.
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-8.0;9.0}"
DRY_FLAGS=()
# The system's copies hidden, so that the packed ones are what builds, as on the GPU machine.
[[ $DRY_RUN == 1 ]] && DRY_FLAGS=(-DCMAKE_DISABLE_FIND_PACKAGE_fmt=ON -DCMAKE_DISABLE_FIND_PACKAGE_Boost=ON
  -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON)
configure() {
  cmake -S "$ROOT/kernels/standalone" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DDISA_DEPS="$DEPS" -DCMAKE_CUDA_COMPILER="$NVCC" \
    -DCMAKE_CUDA_ARCHITECTURES="80;90" -DDISA_REQUIRE_TORCH_CUDA_STREAM="$TORCH_CUDA" "${DRY_FLAGS[@]}" "$@" \
    >>"$OUT/build.log" 2>&1
}
: >"$OUT/build.log"
if [[ $HAVE_TORCH == 0 ]] || ! configure -DDISA_STANDALONE_TORCH=ON; then
  # Torch's config (its CUDA probes) failing must not cost the kernels' checks.
  failed=1
  [[ $HAVE_TORCH == 1 ]] && { echo "gpu_check: configuring with LibTorch failed (first errors below; all in $OUT/build.log); again without it"; grep -m 10 -E "Error|error" "$OUT/build.log"; }
  rm -rf "$BUILD"
  configure -DDISA_STANDALONE_TORCH=OFF || {
    echo "gpu_check: cmake failed; see $OUT/build.log"
    tail -30 "$OUT/build.log"
    exit 1
  }
  # A dry run without libtorch-dev checks all but the torch targets, and says so.
  [[ $DRY_RUN == 1 && $HAVE_TORCH == 0 ]] && { failed=0; echo "gpu_check: no libtorch-dev here: the torch targets are not checked"; }
fi
# The torch targets are expected exactly when the configure found LibTorch.
TORCH_BUILT=0
if [[ $HAVE_TORCH == 1 && $failed == 0 ]]; then
  if grep -q "LibTorch not found or not usable" "$OUT/build.log"; then
    failed=1
    echo "gpu_check: CMake did not find a usable LibTorch (see $OUT/build.log)"
  else
    TORCH_BUILT=1
  fi
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
if [[ $DRY_RUN == 1 ]]; then
  # The GPU machine has no /usr/include/{fmt,boost,nlohmann,gtest}: a header found there
  # instead of in the pack would be missing there. The depfiles name every header used.
  leaked="$(ninja -C "$BUILD" -t deps 2>/dev/null | grep -E '^ +/usr/include/(fmt|boost|nlohmann|gtest|gmock)/' | sort -u)"
  if [[ -n "$leaked" ]]; then
    failed=1
    echo "gpu_check: the build used headers the pack lacks (extend pack() in this script):"
    echo "$leaked" | head -20
  else
    echo "gpu_check: every fmt, Boost, nlohmann-json and googletest header came from the pack"
  fi
fi

# The dry run's verdict on a checker's log: every *Gpu* case SKIPPED, every other case OK,
# and at least one case ran.
dry_verdict() {
  local log="$1" ran skipped
  ran="$(grep -E '^\[       OK \] [^ ]+ \(' "$log" | awk '{print $4}')"
  skipped="$(grep -E '^\[  SKIPPED \] [^ ]+ \(' "$log" | awk '{print $4}')"
  if [[ -z "$ran$skipped" ]]; then
    echo "no test case ran"
  elif grep -q Gpu <<<"$ran"; then
    echo "GPU cases passed without a GPU: $(grep Gpu <<<"$ran" | tr '\n' ' ')"
  elif [[ -n "$skipped" ]] && grep -qv Gpu <<<"$skipped"; then
    echo "non-GPU cases skipped: $(grep -v Gpu <<<"$skipped" | tr '\n' ' ')"
  fi
}

: >"$OUT/tests.log"
checkers=(kernels_cpu_device_test kernels_token_logprobs_math_test kernels_log_z_hat_math_test
  kernels_loss_heads_math_test kernels_token_logprobs_test kernels_loss_heads_test kernels_log_z_hat_test)
[[ $DRY_RUN == 0 || $TORCH_BUILT == 1 ]] && checkers+=(kernels_torch_test)
for t in "${checkers[@]}"; do
  echo "==== $t" >>"$OUT/tests.log"
  one="$OUT/$t.log"
  if [[ ! -x "$BUILD/bin/$t" ]]; then
    failed=1
    echo "gpu_check: $t was not built"
    continue
  fi
  "$BUILD/bin/$t" >"$one" 2>&1
  rc=$?
  cat "$one" >>"$OUT/tests.log"
  if [[ $rc -ne 0 ]]; then
    failed=1
    echo "gpu_check: $t FAILED"
  elif [[ $DRY_RUN == 1 ]]; then
    why="$(dry_verdict "$one")"
    if [[ -n "$why" ]]; then
      failed=1
      echo "gpu_check: $t: $why"
    else
      echo "gpu_check: $t passed ($(grep -cE '^\[  SKIPPED \] [^ ]+ \(' "$one") GPU cases skipped, as expected without a GPU)"
    fi
  elif tail -5 "$one" | grep -q "SKIPPED"; then
    failed=1
    echo "gpu_check: $t SKIPPED on a GPU machine (no device visible?)"
  else
    echo "gpu_check: $t passed"
  fi
  rm -f "$one"
done

# bench_kernels_core is bench_kernels without LibTorch, built beside it when Torch is
# found: it gives the kernels' numbers when bench_kernels failed to link (still a failure).
: >"$OUT/bench.log"
BENCH="$BUILD/bin/bench_kernels"
if [[ ! -x "$BENCH" ]]; then
  failed=1
  echo "gpu_check: bench_kernels was not built" | tee -a "$OUT/bench.log"
  BENCH="$BUILD/bin/bench_kernels_core"
fi
if [[ $DRY_RUN == 1 ]]; then
  benches=(bench_kernels)
  [[ $TORCH_BUILT == 1 ]] && benches+=(bench_kernels_core)
  for b in "${benches[@]}"; do
    if [[ ! -x "$BUILD/bin/$b" ]]; then
      failed=1
      echo "gpu_check: $b was not built"
    elif "$BUILD/bin/$b" >>"$OUT/bench.log" 2>&1 && tail -1 "$OUT/bench.log" | grep -q "no CUDA device: skipped"; then
      echo "gpu_check: $b: no CUDA device: skipped, as expected"
    else
      failed=1
      echo "gpu_check: $b did not skip cleanly without a GPU (see $OUT/bench.log)"
    fi
  done
  echo "gpu_check: dry run: logs in $OUT; $([[ $failed -eq 0 ]] && echo "all targets built and ran as expected" || echo "FAILED")"
  exit $failed
fi
if [[ -x "$BENCH" ]]; then
  [[ "$BENCH" == */bench_kernels_core ]] && echo "gpu_check: running bench_kernels_core instead (no torch eager numbers)" | tee -a "$OUT/bench.log"
  # shellcheck disable=SC2086
  "$BENCH" ${BENCH_ARGS:-} >>"$OUT/bench.log" 2>&1 || {
    failed=1
    echo "gpu_check: $(basename "$BENCH") failed (validation or CUDA error)"
  }
  cat "$OUT/bench.log"
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
# ncu beside nvcc first, as cuobjdump: the toolkit's matches the driver the kernels were
# built for, where a PATH one may be another release's. --clock-control none: ncu locks
# the clocks to base by default, changing the machine's settings and making its numbers
# disagree with bench.log's; the GPU runs as the benchmark saw it.
NCU="$(dirname "$NVCC")/ncu"
command -v ncu >/dev/null && [[ ! -x "$NCU" ]] && NCU="$(command -v ncu)"
# The LibTorch-free benchmark when built: the profiled launches are the same, with fewer
# libraries for ncu to load and intercept.
NCU_BENCH="$BUILD/bin/bench_kernels_core"
[[ -x "$NCU_BENCH" ]] || NCU_BENCH="$BUILD/bin/bench_kernels"
left=$(( ${GPU_CHECK_BUDGET_S:-570} - SECONDS ))
if [[ "${PROFILE:-0}" == 1 && $left -lt 60 ]]; then
  echo "gpu_check: PROFILE=1 but only ${left} s left of ${GPU_CHECK_BUDGET_S:-570}: ncu skipped"
elif [[ "${PROFILE:-0}" == 1 ]]; then
  if [[ ! -x "$NCU" ]]; then
    echo "gpu_check: PROFILE=1 but no ncu beside nvcc or on PATH"
  elif [[ ! -x "$NCU_BENCH" ]]; then
    echo "gpu_check: PROFILE=1 but no benchmark was built: ncu skipped"
  else
    # shellcheck disable=SC2086
    timeout $((left - 10)) "$NCU" --clock-control none --kernel-name regex:token_logprobs --launch-count 8 \
      --section SpeedOfLight --section ComputeWorkloadAnalysis --section Occupancy "$NCU_BENCH" --reps=1 --no-torch \
      ${BENCH_ARGS:-} >"$OUT/ncu.txt" 2>&1 && echo "gpu_check: Nsight Compute report in $OUT/ncu.txt" ||
      echo "gpu_check: ncu failed or timed out (see $OUT/ncu.txt)"
  fi
fi
echo "gpu_check: logs in $OUT; $([[ $failed -eq 0 ]] && echo "all checks passed" || echo "SOME CHECKS FAILED")"
exit $failed
