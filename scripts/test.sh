#!/usr/bin/env bash
# The tests: set up (install what is missing, build), then run ctest.
# Usage: scripts/test.sh [CTEST ARGS...]
#   scripts/test.sh              every test (gpu tests report "skipped" without a GPU)
#   scripts/test.sh -L cpu       the fast deterministic set
#   scripts/test.sh -L statistical | -L torch | -L gpu | -L slow
# Sanitizers: SANITIZE=1 scripts/test.sh -L cpu   (the "asan" preset: ASan + UBSan)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="default"
[ "${SANITIZE:-0}" = "1" ] && preset="asan"
scripts/setup.sh "$preset"
ctest --preset "$preset" "$@"
