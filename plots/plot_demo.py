#!/usr/bin/env python3
"""Turn the CSV files of `disa demo` into PNG plots (Debian's python3-matplotlib).

Usage: /usr/bin/python3 plots/plot_demo.py RESULTS_DIR
Reads only the CSVs the demo wrote, so every figure traces to a run.
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from csv_rows import fnum, read  # noqa: E402  (plots/csv_rows.py, beside this script)
from atomic_output import save_figure  # noqa: E402  (plots/atomic_output.py)
from figure_title import title_and_layout  # noqa: E402  (plots/figure_title.py)


def plot_proposal_sweep(d):
    rows = read(os.path.join(d, "proposal_sweep.csv"))
    betas = sorted({fnum(r["beta"]) for r in rows})
    families = ["tilted", "interp", "mixture"]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7), sharex=True)
    for col, fam in enumerate(families):
        for beta in betas:
            sel = [r for r in rows if r["family"] == fam and fnum(r["beta"]) == beta]
            lam = [fnum(r["lambda"]) for r in sel]
            chi2 = [max(fnum(r["chi2"]), 1e-16) for r in sel]
            ess = [fnum(r["expected_ess_fraction"]) for r in sel]
            (line,) = axes[0, col].semilogy(lam, chi2, label=f"beta={beta:g}")
            if fam == "tilted":
                cf = [max(fnum(r["chi2_closed_form"]), 1e-16) for r in sel]
                axes[0, col].semilogy(lam, cf, "o", ms=3, color=line.get_color(), alpha=0.6)
            axes[1, col].plot(lam, ess, color=line.get_color())
        axes[0, col].set_title(f"{fam} proposal")
        axes[0, col].set_ylim(bottom=1e-5)  # chi2 = 0 exactly at lambda = 1 (q = p*)
        axes[1, col].set_xlabel("proposal strength lambda")
    axes[0, 0].set_ylabel("chi2(p* || q)  (dots: closed form)")
    axes[1, 0].set_ylabel("expected ESS / N = 1/(1+chi2)")
    axes[0, 0].legend(fontsize=8)
    title_and_layout(fig, "Proposal strength against importance-sampling quality (strategies tree, exact)",
                     fontsize=12)
    save_figure(fig, os.path.join(d, "proposal_sweep.png"), dpi=110)
    plt.close(fig)


def plot_chi2_by_horizon(d):
    rows = read(os.path.join(d, "chi2_by_horizon.csv"))
    fig, ax = plt.subplots(figsize=(6, 4))
    for prop in sorted({r["proposal"] for r in rows}):
        sel = [r for r in rows if r["proposal"] == prop]
        ax.plot([int(r["horizon"]) for r in sel], [fnum(r["log1p_chi2"]) for r in sel], "o-", label=prop)
    ax.set_xlabel("horizon T")
    ax.set_ylabel("log(1 + chi2(p* || q))")
    ax.set_title("Weight degeneracy: q = p* at temperature tau")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, os.path.join(d, "chi2_by_horizon.png"), dpi=110)
    plt.close(fig)


def plot_log_partition(d):
    rows = read(os.path.join(d, "strategies_by_beta.csv"))
    beta = [fnum(r["beta"]) for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].plot(beta, [fnum(r["log_Z"]) for r in rows], "o-", label="log Z (leaf-to-root flow)")
    axes[0].plot(beta, [fnum(r["log_Z_closed_form"]) for r in rows], "x--", label="log(1 + (e^beta - 1) acc)")
    axes[0].set_xlabel("beta")
    axes[0].set_ylabel("log Z")
    axes[0].legend(fontsize=8)
    axes[1].semilogy(beta, [fnum(r["chi2_target_reference"]) for r in rows], "o-", label="chi2(p* || pi_ref)")
    axes[1].semilogy(beta, [fnum(r["chi2_bound"]) for r in rows], "k--", label="bound (1-acc)/acc")
    axes[1].semilogy(beta, [fnum(r["kl_reference_target"]) for r in rows], "s-", label="KL(pi_ref || p*)")
    axes[1].set_xlabel("beta")
    axes[1].legend(fontsize=8)
    title_and_layout(fig, "strategies tree: partition function and divergences over beta (exact)", fontsize=12)
    save_figure(fig, os.path.join(d, "log_partition.png"), dpi=110)
    plt.close(fig)


def plot_sampling_check(d):
    rows = read(os.path.join(d, "sampling_check.csv"))
    k = [int(r["strategy"]) for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    w = 0.38
    ax.bar([x - w / 2 for x in k], [fnum(r["exact"]) for r in rows], w, label="exact P_p*(strategy)")
    ax.bar([x + w / 2 for x in k], [fnum(r["observed"]) for r in rows], w,
           yerr=[2 * fnum(r["standard_error"]) for r in rows], label="sampled (±2 s.e.)")
    ax.set_xlabel("strategy (first action)")
    ax.set_xticks(k)
    ax.legend(fontsize=8)
    ax.set_title("Alias sampler against the exact target")
    fig.tight_layout()
    save_figure(fig, os.path.join(d, "sampling_check.png"), dpi=110)
    plt.close(fig)


def plot_paced(d):
    rows = read(os.path.join(d, "paced_multi_prompt.csv"))
    acc = [fnum(r["expected_reward"]) for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(acc, [fnum(r["identity_rhs"]) for r in rows], "o", label="(log Z - KL)/beta (exact identity)")
    ax.plot(acc, [fnum(r["approx_expected_reward"]) for r in rows], "x", label="log Z / beta (PACED-RL approx.)")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set_xlabel("reference accuracy E[r]")
    ax.set_ylabel("estimate")
    ax.legend(fontsize=8)
    ax.set_title("PACED-RL: accuracy read from log Z (multi_prompt)")
    fig.tight_layout()
    save_figure(fig, os.path.join(d, "paced_multi_prompt.png"), dpi=110)
    plt.close(fig)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: plot_demo.py RESULTS_DIR")
    d = sys.argv[1]
    for plot in (plot_proposal_sweep, plot_chi2_by_horizon, plot_log_partition, plot_sampling_check, plot_paced):
        plot(d)
    print(f"wrote 5 plots into {d}")


if __name__ == "__main__":
    main()
