#!/usr/bin/env python3
"""Plot a `disa llm pipeline` run (Debian's python3-matplotlib).

Usage: /usr/bin/python3 plots/plot_llm_pipeline.py RUN_DIR [--out-dir DIR]
Reads RUN_DIR/eval/results.csv, RUN_DIR/eval/per_prompt.csv and RUN_DIR/train/*/steps.jsonl;
writes (default into RUN_DIR/eval):
  quality_diversity.png  Mean@k against distinct correct solutions per prompt, one point
                         per model: the question DISA asks (accuracy up, diversity kept?)
  methods.png            Mean@k, pass@k, distinct correct and distinct strategies per model
  training.png           per-step batch accuracy and loss of every method
Reads only those files, so every figure traces to a run.
"""
import argparse
import csv
import glob
import json
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from atomic_output import save_figure  # noqa: E402  (plots/atomic_output.py)


def number(text):
    try:
        return float(text)
    except ValueError:
        return math.nan


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--out-dir", default=None)
    args = parser.parse_args()
    out_dir = args.out_dir or os.path.join(args.run_dir, "eval")
    results = os.path.join(args.run_dir, "eval", "results.csv")
    if not os.path.exists(results):
        raise SystemExit(f"plot_llm_pipeline: {results} not found (run `disa llm pipeline` first)")
    os.makedirs(out_dir, exist_ok=True)
    with open(results) as f:
        all_rows = list(csv.DictReader(f))
    tasks = sorted({r["task"] for r in all_rows})
    task = "average" if "average" in tasks else tasks[0]  # the bars: held-out prompts
    rows = [r for r in all_rows if r["task"] == task]
    models = [r["model"] for r in rows]
    k = rows[0]["k"]
    pass_columns = [c for c in rows[0] if c.startswith("pass_at_")]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    # Quality against diversity, one panel per task (held-out prompts, and the RL prompts).
    shown = [t for t in sorted({r["task"] for r in all_rows}) if t != "average"]
    fig, axes = plt.subplots(1, len(shown), figsize=(5.5 * len(shown), 4.5), squeeze=False)
    for ax, name in zip(axes[0], shown):
        task_rows = [r for r in all_rows if r["task"] == name]
        # A task without solution signatures (math) has nan distinct counts: its diversity
        # axis is the n-gram dispersion of the correct samples instead.
        by_count = any(not math.isnan(number(r["distinct_correct"])) for r in task_rows)
        column = "distinct_correct" if by_count else "ngram_dispersion"
        for i, r in enumerate(task_rows):
            x, y = number(r["mean_at_k"]), number(r[column])
            ax.scatter(x, y, s=70, color=colors[i % len(colors)])
            ax.annotate(r["model"], (x, y), textcoords="offset points", xytext=(6, 4), fontsize=9)
        ax.set_xlabel(f"Mean@{k} (accuracy per sample)")
        ax.set_ylabel(f"distinct correct solutions per prompt (of {k})" if by_count else
                      "n-gram dispersion of correct samples (0: all alike)")
        ax.set_title(("RL training prompts" if name.endswith(":rl") else "held-out prompts") + f" ({name})",
                     fontsize=10)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, os.path.join(out_dir, "quality_diversity.png"), dpi=120)
    plt.close(fig)

    # Per-model bars.
    panels = [("mean_at_k", f"Mean@{k}")] + [(c, c.replace("pass_at_", "pass@")) for c in pass_columns[-1:]] + [
        ("distinct_correct", "distinct correct / prompt"), ("distinct_strategies", "distinct strategies / prompt")]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.6))
    for ax, (column, title) in zip(axes, panels):
        values = [number(r[column]) for r in rows]
        if all(math.isnan(v) for v in values):
            title += "\n(n/a for this task)"  # a key the task does not define
        ax.bar(range(len(models)), values, color=[colors[i % len(colors)] for i in range(len(models))])
        ax.set_xticks(range(len(models)))
        ax.set_xticklabels(models, rotation=45, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, os.path.join(out_dir, "methods.png"), dpi=120)
    plt.close(fig)

    # Training curves.
    logs = sorted(glob.glob(os.path.join(args.run_dir, "train", "*", "steps.jsonl")))
    if logs:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        for i, path in enumerate(logs):
            method = os.path.basename(os.path.dirname(path))
            with open(path) as f:
                lines = [json.loads(line) for line in f if line.strip()]
            steps = [line["step"] for line in lines]
            window = max(1, len(lines) // 15)
            acc = [line["accuracy"] for line in lines]
            smooth = [sum(acc[max(0, j - window + 1): j + 1]) / len(acc[max(0, j - window + 1): j + 1])
                      for j in range(len(acc))]
            # Offline methods train on q's trajectories: their batch reward is the proposal's,
            # not the policy's accuracy, so they are drawn dashed and labelled so.
            offline = method in ("disa", "sft")
            axes[0].plot(steps, smooth, label=method + (" (q's samples)" if offline else ""),
                         color=colors[i % len(colors)], linestyle="--" if offline else "-")
            axes[1].plot(steps, [line["loss"] for line in lines], label=method, color=colors[i % len(colors)])
        axes[0].set_title(f"batch reward (moving mean of {window}); on-policy = the policy's accuracy", fontsize=10)
        axes[0].set_xlabel("step")
        axes[1].set_title("loss (each method's own scale)")
        axes[1].set_xlabel("step")
        axes[1].set_yscale("symlog", linthresh=1e-2)
        axes[0].legend(fontsize=8)
        for ax in axes:
            ax.grid(alpha=0.3)
        fig.tight_layout()
        save_figure(fig, os.path.join(out_dir, "training.png"), dpi=120)
        plt.close(fig)
    print(f"wrote {out_dir}/quality_diversity.png, methods.png" + (", training.png" if logs else ""))


if __name__ == "__main__":
    main()
