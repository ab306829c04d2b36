#!/usr/bin/env python3
"""Turn the CSV files of the estimator theory checks into PNG plots (Debian's python3-matplotlib).

Usage: /usr/bin/python3 plots/plot_estimator_checks.py RESULTS_DIR
where RESULTS_DIR is the --out folder of `disa check estimator` (default results/theory_checks).
Reads only the CSVs the checks wrote, so every figure traces to a run:
  log_bias_vs_n.png        check_03: |E[log Zhat] - log Z| and Var[log Zhat] against N, with chi2/(2N) and chi2/N
  ess_vs_n.png             check_04: E[ESS]/N against N, with 1/(1 + chi2)
  variance_vs_lambda.png   check_07: Var[log Zhat] and bias over tilted proposal strength lambda, per beta
  chi2_vs_horizon.png      check_07: chi2(p* || q) over the horizon T for q = p* at temperature tau, and ESS
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from csv_rows import fnum, read  # noqa: E402  (plots/csv_rows.py, beside this script)
from atomic_output import save_figure  # noqa: E402  (plots/atomic_output.py)
from figure_title import title_and_layout  # noqa: E402  (plots/figure_title.py)


def case_key(r):
    return (r["tree"], fnum(r["beta"]), r["proposal"])


def case_label(key):
    tree, beta, proposal = key
    return f"{tree}, beta={beta:g}, {proposal}"


def series(rows, quantity, key):
    sel = [r for r in rows if r["quantity"] == quantity and case_key(r) == key]
    return sorted(sel, key=lambda r: int(r["n"]))


def plot_log_bias(d):
    rows = read(os.path.join(d, "check_03_log_bias.csv"))
    keys = []
    for r in rows:
        if r["quantity"] == "E[log Zhat] - log Z" and case_key(r) not in keys:
            keys.append(case_key(r))
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for key in keys:
        chi2 = fnum(series(rows, "E[log Zhat] - log Z", key)[0]["chi2"])
        for ax, quantity, sign, pred_label in (
            (axes[0], "E[log Zhat] - log Z", -1.0, "chi2/(2N)"),
            (axes[1], "Var[log Zhat]", 1.0, "chi2/N"),
        ):
            sel = series(rows, quantity, key)
            n = [int(r["n"]) for r in sel]
            measured = [sign * fnum(r["measured"]) for r in sel]
            err = [1.96 * fnum(r["se"]) for r in sel]
            (line,) = ax.plot(n, [sign * fnum(r["predicted"]) for r in sel], "--", lw=1,
                              label=f"{case_label(key)} (chi2={chi2:.3g}): {pred_label}")
            ax.errorbar(n, measured, yerr=err, fmt="o", ms=4, color=line.get_color(), capsize=2)
            exact = [(int(r["n"]), sign * fnum(r["exact"])) for r in sel if r["exact"] not in ("nan", "")]
            if exact:
                ax.plot(*zip(*exact), "x", ms=8, color=line.get_color())
    axes[0].set_ylabel("log Z - E[log Zhat_N]   (dots: measured ± 95% CI, x: exact)")
    axes[1].set_ylabel("Var[log Zhat_N]")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("samples N")
    axes[0].set_title("Log-space bias against the delta method -chi2/(2N) (dashed)")
    axes[1].set_title("Log-space variance against chi2/N (dashed)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, os.path.join(d, "log_bias_vs_n.png"), dpi=110)
    plt.close(fig)


def plot_ess(d):
    rows = read(os.path.join(d, "check_04_ess.csv"))
    keys = []
    for r in rows:
        if r["quantity"] == "E[ESS]/N" and case_key(r) not in keys:
            keys.append(case_key(r))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key in keys:
        sel = series(rows, "E[ESS]/N", key)
        n = [int(r["n"]) for r in sel]
        (line,) = ax.plot(n, [fnum(r["predicted"]) for r in sel], "--", lw=1,
                          label=f"{case_label(key)} (chi2={fnum(sel[0]['chi2']):.3g})")
        ax.errorbar(n, [fnum(r["measured"]) for r in sel], yerr=[1.96 * fnum(r["se"]) for r in sel], fmt="o", ms=4,
                    color=line.get_color(), capsize=2)
    ax.set_xscale("log")
    ax.set_xlabel("samples N")
    ax.set_ylabel("E[ESS]/N   (dashed: 1/(1+chi2))")
    ax.set_title("Effective sample size: the large-N prediction")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, os.path.join(d, "ess_vs_n.png"), dpi=110)
    plt.close(fig)


def plot_variance_vs_lambda(d):
    rows = read(os.path.join(d, "check_07_sensitivity.csv"))
    tilted = [r for r in rows if r["proposal"].startswith("tilted:lambda=") and r["quantity"] in
              ("Var[log Zhat]", "E[log Zhat] - log Z")]
    betas = sorted({fnum(r["beta"]) for r in tilted})
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for beta in betas:
        for ax, quantity, sign in ((axes[0], "Var[log Zhat]", 1.0), (axes[1], "E[log Zhat] - log Z", -1.0)):
            sel = sorted([r for r in tilted if fnum(r["beta"]) == beta and r["quantity"] == quantity],
                         key=lambda r: fnum(r["proposal"].split("=")[1]))
            lam = [fnum(r["proposal"].split("=")[1]) for r in sel]
            (line,) = ax.plot(lam, [sign * fnum(r["predicted"]) for r in sel], "--", lw=1, label=f"beta={beta:g}")
            ax.errorbar(lam, [sign * fnum(r["measured"]) for r in sel], yerr=[1.96 * fnum(r["se"]) for r in sel],
                        fmt="o", ms=4, color=line.get_color(), capsize=2)
            exact = [(x, sign * fnum(r["exact"])) for x, r in zip(lam, sel) if r["exact"] not in ("nan", "")]
            if exact:
                ax.plot(*zip(*exact), "x", ms=8, color=line.get_color())
    n = next(int(r["n"]) for r in tilted)
    axes[0].set_ylabel(f"Var[log Zhat_N], N={n}   (dashed: chi2/N, x: exact)")
    axes[1].set_ylabel(f"log Z - E[log Zhat_N], N={n}   (dashed: chi2/(2N), x: exact)")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("proposal strength lambda (tilted, q ∝ pi_ref exp(lambda beta r))")
        ax.legend(fontsize=8)
    title_and_layout(fig, "Sensitivity pattern (strategies tree): measured ± 95% CI against the first-order "
                     "predictions; lambda = 1 is exact (zero variance)", fontsize=11)
    save_figure(fig, os.path.join(d, "variance_vs_lambda.png"), dpi=110)
    plt.close(fig)


def plot_chi2_vs_horizon(d):
    rows = read(os.path.join(d, "check_07_horizon.csv"))
    taus = sorted({fnum(r["tau"]) for r in rows})
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for tau in taus:
        sel = sorted([r for r in rows if fnum(r["tau"]) == tau], key=lambda r: int(r["horizon"]))
        t = [int(r["horizon"]) for r in sel]
        (line,) = axes[0].plot(t, [fnum(r["chi2"]) for r in sel], "o-", label=f"tau={tau:g}")
        axes[1].plot(t, [fnum(r["expected_ess_fraction"]) for r in sel], "--", color=line.get_color())
        axes[1].errorbar(t, [fnum(r["ess_fraction_measured"]) for r in sel],
                         yerr=[1.96 * fnum(r["ess_se"]) for r in sel], fmt="o", ms=4, color=line.get_color(),
                         capsize=2, label=f"tau={tau:g}")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("horizon T")
    axes[0].set_ylabel("chi2(p* || q), exact")
    axes[0].set_title("Weight degeneracy: q = p* at temperature tau per node")
    axes[1].set_xlabel("horizon T")
    n = rows[0]["n"]
    axes[1].set_ylabel(f"E[ESS]/N at N={n}   (dashed: 1/(1+chi2))")
    axes[1].set_title("Sampled ESS against the large-N prediction")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, os.path.join(d, "chi2_vs_horizon.png"), dpi=110)
    plt.close(fig)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    plot_log_bias(d)
    plot_ess(d)
    plot_variance_vs_lambda(d)
    plot_chi2_vs_horizon(d)
    print(f"wrote {d}/log_bias_vs_n.png, ess_vs_n.png, variance_vs_lambda.png, chi2_vs_horizon.png")


if __name__ == "__main__":
    main()
