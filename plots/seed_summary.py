#!/usr/bin/env python3
"""Summarise `disa llm pipeline` runs of several seeds: mean and half range per model.

Usage: /usr/bin/python3 plots/seed_summary.py RUN_DIR [RUN_DIR ...] [--out FILE.csv]
Reads RUN_DIR/eval/results.csv of each run and prints, for every (model, task) row they
share, the mean over the runs and half their range (max - min) / 2 of Mean@k, pass@k
(the largest k), distinct correct, distinct strategies and n-gram dispersion, as the
markdown table of the README's "Language-model pipeline" section. With --out, the same
numbers (mean, half range, min, max per column) as CSV.
"""
import argparse
import math
import os
import sys

from csv_rows import fnum, read  # plots/csv_rows.py

COLUMNS = ["mean_at_k", "pass_at_k", "distinct_correct", "distinct_strategies", "ngram_dispersion"]
HEADERS = ["Mean@k", "pass@k", "distinct correct", "distinct strategies", "n-gram dispersion"]
TASK_NAMES = {"countdown": "held-out", "countdown:rl": "RL"}


def run_rows(run_dir):
    """(model, task) -> {column: value} of one run, pass@k at the run's largest k."""
    path = os.path.join(run_dir, "eval", "results.csv")
    if not os.path.exists(path):
        sys.exit(f"seed_summary: {path} does not exist (is {run_dir} a finished pipeline run?)")
    rows = {}
    for r in read(path):
        k = int(r["k"])
        values = {c: fnum(r[c]) for c in COLUMNS if c in r}
        values["pass_at_k"] = fnum(r[f"pass_at_{k}"])
        rows[(r["model"], r["task"])] = values
    return rows


def summarise(runs):
    """(model, task) -> {column: (mean, half range, min, max)} over the rows every run has."""
    keys = [key for key in runs[0] if all(key in run for run in runs)]
    out = {}
    for key in keys:
        stats = {}
        for c in COLUMNS:
            values = [run[key][c] for run in runs if not math.isnan(run[key][c])]
            if not values:
                stats[c] = (math.nan, math.nan, math.nan, math.nan)
                continue
            lo, hi = min(values), max(values)
            stats[c] = (sum(values) / len(values), (hi - lo) / 2, lo, hi)
        out[key] = stats
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="pipeline output folders (one per seed)")
    parser.add_argument("--out", help="also write the summary as CSV")
    args = parser.parse_args()
    runs = [run_rows(d) for d in args.runs]
    summary = summarise(runs)
    # Held-out rows first, then the RL prompts', in the runs' model order.
    order = sorted(summary, key=lambda key: (key[1] != "countdown", list(summary).index(key)))
    print(f"{len(runs)} runs: " + ", ".join(args.runs))
    print("| model | prompts | " + " | ".join(HEADERS) + " |")
    print("|---|---|" + "---:|" * len(HEADERS))
    for model, task in order:
        cells = []
        for c in COLUMNS:
            mean, half, _, _ = summary[(model, task)][c]
            cells.append("nan" if math.isnan(mean) else f"{mean:.3f}" if half == 0 else f"{mean:.3f} ± {half:.3f}")
        print(f"| {model} | {TASK_NAMES.get(task, task)} | " + " | ".join(cells) + " |")
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write("model,task,runs," + ",".join(f"{c}_mean,{c}_half_range,{c}_min,{c}_max" for c in COLUMNS) + "\n")
            for model, task in order:
                cells = [f"{v:.6g}" for c in COLUMNS for v in summary[(model, task)][c]]
                f.write(f"{model},{task},{len(runs)}," + ",".join(cells) + "\n")
        os.replace(tmp, args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
