#!/usr/bin/env python3
"""Summarise `disa llm pipeline` runs of several seeds: mean and half range per model.

Usage: /usr/bin/python3 plots/seed_summary.py RUN_DIR [RUN_DIR ...] [--out FILE.csv] [--plot FILE.png]
Reads RUN_DIR/eval/results.csv of each run and prints, for every (model, task) row they
share, the mean over the runs and half their range (max - min) / 2 of Mean@k, pass@k
(the largest k), distinct correct, distinct strategies and n-gram dispersion, as the
markdown table of the README's "Language-model pipeline" section. With --out, the same
numbers (mean, half range, min, max per column) as CSV; with --plot, Mean@k against
distinct correct solutions per model, held-out and RL prompts side by side, each point the
mean over the runs with its range as bars (Debian's python3-matplotlib).
"""
import argparse
import math
import os
import sys

from atomic_output import save_figure, write_text  # plots/atomic_output.py
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
    parser.add_argument("--plot", help="also draw Mean@k against distinct correct (PNG)")
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
        lines = ["model,task,runs," + ",".join(f"{c}_mean,{c}_half_range,{c}_min,{c}_max" for c in COLUMNS)]
        for model, task in order:
            cells = [f"{v:.6g}" for c in COLUMNS for v in summary[(model, task)][c]]
            lines.append(f"{model},{task},{len(runs)}," + ",".join(cells))
        write_text(args.out, "\n".join(lines) + "\n")
        print(f"wrote {args.out}")
    if args.plot:
        plot(summary, len(runs), args.plot)
        print(f"wrote {args.plot}")


def plot(summary, runs, path):
    """Mean@k against distinct correct, one panel per task, bars spanning min..max."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t in TASK_NAMES if any(key[1] == t for key in summary)]
    fig, axes = plt.subplots(1, len(tasks), figsize=(6.5 * len(tasks), 5), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for i, (model, t) in enumerate(key for key in summary if key[1] == task):
            x, y = summary[(model, t)]["mean_at_k"], summary[(model, t)]["distinct_correct"]
            ax.errorbar(x[0], y[0], xerr=[[x[0] - x[2]], [x[3] - x[0]]], yerr=[[y[0] - y[2]], [y[3] - y[0]]],
                        fmt="o", color=f"C{i}", capsize=3)
            ax.annotate(model, (x[0], y[0]), textcoords="offset points", xytext=(6, 6))
        ax.set_title(f"{TASK_NAMES[task]} prompts ({task}), mean and range of {runs} runs")
        ax.set_xlabel("Mean@k (accuracy per sample)")
        ax.set_ylabel("distinct correct solutions per prompt")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
