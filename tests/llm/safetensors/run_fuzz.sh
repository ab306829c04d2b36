#!/usr/bin/env bash
# Fuzz the safetensors reader with libFuzzer for SECONDS (default 60).
#   tests/llm/safetensors/run_fuzz.sh [SECONDS]
# Builds fuzz_safetensors.cpp and the parser's sources with clang++ (libFuzzer, ASan,
# UBSan; no CMake) into build-fuzz/, starts from the seed corpus (corpus/, copied so
# the committed seeds stay as they are), and prints the run count and the outcome.
# A finding is saved under build-fuzz/artifacts/; copy it into corpus/ as
# invalid_<what>.safetensors (or valid_...) so corpus_replay_test keeps it fixed.
# Exit status: 0 when the run ended clean, 1 on a finding, 2 on a build failure.
set -euo pipefail
seconds="${1:-60}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
out="$root/build-fuzz"
mkdir -p "$out/corpus" "$out/artifacts"

CXX="${CXX_FUZZ:-clang++}"
command -v "$CXX" >/dev/null || { echo "run_fuzz: $CXX not found (apt-get install clang)"; exit 2; }
src="$root/llm/safetensors"
# The undefined-behaviour checks trap (no recovery) so they count as findings.
"$CXX" -std=c++20 -O1 -g -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I "$root" \
  "$here/fuzz_safetensors.cpp" \
  "$src/dtype.cpp" "$src/header_parser.cpp" "$src/safetensors_file.cpp" \
  "$src/safetensors_parse.cpp" "$src/safetensors_write.cpp" "$src/utf8.cpp" \
  "$root/src/atomic_file.cpp" \
  -lfmt -o "$out/fuzz_safetensors" || { echo "run_fuzz: build failed"; exit 2; }

cp -n "$here"/corpus/* "$out/corpus/" 2>/dev/null || true
log="$out/fuzz.log"
set +e
# malloc_limit_mb: one allocation above 256 MB is a finding ("never a huge allocation").
"$out/fuzz_safetensors" "$out/corpus" \
  -dict="$here/safetensors.dict" -max_total_time="$seconds" -max_len=4096 \
  -malloc_limit_mb=256 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$out/artifacts/" >"$log" 2>&1
status=$?
set -e
runs="$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 || true)"
if [ "$status" -eq 0 ]; then
  echo "run_fuzz: clean. ${runs:-(no run count in $log)}; corpus now $(ls "$out/corpus" | wc -l) files"
  exit 0
fi
echo "run_fuzz: FINDING (exit $status); see $log and $out/artifacts/"
grep -E 'ERROR|invariant broken|unexpected exception|runtime error|Test unit written' "$log" | head -20
exit 1
