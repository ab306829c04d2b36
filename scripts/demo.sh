#!/usr/bin/env bash
# The main job on built-in defaults: set up (install what is missing, build),
# run `disa demo`, and draw its plots. Output: results/demo/ (report.md, CSV, PNG).
# Usage: scripts/demo.sh [OUTPUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-results/demo}"
scripts/setup.sh default
build/bin/disa demo --out "$out"
/usr/bin/python3 plots/plot_demo.py "$out"
echo "demo: open $out/report.md"
