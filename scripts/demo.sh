#!/usr/bin/env bash
# The main job on built-in defaults: set up (install what is missing, build),
# run `disa demo`, `disa check estimator`, `disa check training` and, where the build has
# LibTorch, the language-model pipeline (`disa llm pipeline`: pretrain the in-house model,
# propose, anchor, train DISA and the baselines, evaluate), and draw their plots.
# Output: results/demo/ (report.md, CSV, PNG), results/demo/theory_checks/,
# results/demo/training_checks/ and results/demo/llm_pipeline/.
# Usage: scripts/demo.sh [OUTPUT_DIR]
set -euo pipefail
# A relative OUTPUT_DIR is taken from where the user stands, before moving to the repository.
out="$(realpath -m "${1:-$(dirname "$0")/../results/demo}")"
cd "$(dirname "$0")/.."
scripts/setup.sh default disa  # only what the demo runs: tests and benchmarks are not built
build/bin/disa demo --out "$out"
/usr/bin/python3 plots/plot_demo.py "$out"
# The estimator's theory checks (THEORY.md items 1-5, 7): a FAIL row is a result to
# read in the tables, not a reason to lose the rest of the demo.
build/bin/disa check estimator --out "$out/theory_checks" || echo "demo: a theory check reported FAIL rows (see above)"
/usr/bin/python3 plots/plot_estimator_checks.py "$out/theory_checks"
# The training studies (THEORY.md items 7, 9-13): tabular training with every loss head.
build/bin/disa check training --out "$out/training_checks" || echo "demo: a training check reported FAIL rows (see above)"
/usr/bin/python3 plots/plot_training_checks.py "$out/training_checks"
# DISA end to end on the in-house language model (about 7 min on 2 idle cores; resumable).
# Only a LibTorch build lists the subcommand (`llm --help`'s own description says
# "pipeline" in every build, and `llm pipeline --help` falls back to it).
if build/bin/disa llm --help 2>/dev/null | grep -qE '^ +pipeline +'; then
  build/bin/disa llm pipeline --out "$out/llm_pipeline"
else
  echo "demo: this build has no LibTorch: the language-model pipeline is skipped"
fi
# report.md gains the checks' tables, findings and figures.
/usr/bin/python3 plots/report_sections.py "$out"
echo "demo: open $out/report.md, $out/theory_checks/, $out/training_checks/ and $out/llm_pipeline/eval/"
