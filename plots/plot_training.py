#!/usr/bin/env python3
"""Plot the metrics.csv files of `disa train` against the step (Debian's python3-matplotlib).

Usage: /usr/bin/python3 plots/plot_training.py METRICS_CSV [METRICS_CSV ...] [--out PNG]
Each run is labelled by the folder that holds its metrics.csv (the --out of `disa train`),
so runs side by side in results/train/<name>/ compare by name. One 2x3 figure:
KL(pi || p*), KL(p* || pi), accuracy, strategy entropy among correct leaves,
c_t = log Z_used - log Z, and the loss. Default PNG: training.png beside the first CSV.
Reads only the CSVs, so every figure traces to a run.
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from csv_rows import fnum, read  # noqa: E402  (plots/csv_rows.py, beside this script)
from atomic_output import save_figure  # noqa: E402  (plots/atomic_output.py)
from figure_title import title_and_layout  # noqa: E402  (plots/figure_title.py)

# (column, axis title, log scale): the KLs fall over orders of magnitude.
PANELS = [
    ("kl_policy_target", "KL(pi || p*)", True),
    ("kl_target_policy", "KL(p* || pi)", True),
    ("accuracy", "accuracy P_pi(r >= 0.5)", False),
    ("strategy_entropy", "strategy entropy among correct", False),
    ("log_z_error", "c_t = log Z_used - log Z", False),
    ("loss", "loss (the method's own scale)", False),
]


def labels_for(paths):
    """The parent folder's name, or the whole folder where two runs share a name."""
    names = [os.path.basename(os.path.dirname(os.path.abspath(p))) for p in paths]
    return [(os.path.dirname(p) or ".") if names.count(n) > 1 else n for n, p in zip(names, paths)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="+", help="metrics.csv of one or more runs")
    parser.add_argument("--out", help="PNG to write (default: training.png beside the first CSV)")
    args = parser.parse_args()
    out = args.out or os.path.join(os.path.dirname(args.csv[0]) or ".", "training.png")

    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5), sharex=True)
    for path, label in zip(args.csv, labels_for(args.csv)):
        rows = read(path)
        if rows:
            label = f"{label} ({rows[0]['method']}, {rows[0]['mode']})"
        for ax, (column, _, log) in zip(axes.flat, PANELS):
            # Row k's loss is that of step k; row 0 (no step yet) holds a 0 placeholder.
            sel = rows[1:] if column == "loss" else rows
            step = [int(r["step"]) for r in sel]
            y = [fnum(r[column]) for r in sel]
            if log:
                ax.semilogy(step, [max(v, 1e-16) for v in y], label=label)  # exact 0 at p*
            else:
                ax.plot(step, y, label=label)
    for ax, (_, title, _) in zip(axes.flat, PANELS):
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("step")
    axes[0, 0].legend(fontsize=8)
    title_and_layout(fig, "Tabular training on exact trees (metrics exact by enumeration, averaged over prompts)",
                     fontsize=12)
    save_figure(fig, out, dpi=110)
    plt.close(fig)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
