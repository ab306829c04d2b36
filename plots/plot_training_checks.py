#!/usr/bin/env python3
"""Learning curves of the training checks (Debian's python3-matplotlib).

Usage: /usr/bin/python3 plots/plot_training_checks.py RESULTS_DIR
where RESULTS_DIR is the --out folder of build/bin/check_13_collapse and
build/bin/check_11_coupled_log_z, build/bin/check_12_paced, build/bin/check_09_envelope, build/bin/check_14_disa_sensitivity (default results/training_checks). Reads only the
*_curves.csv and table CSVs the checks wrote, and writes beside them:
  collapse_curves.png         check_13: KL(pi||p*), strategy entropy (p*'s dashed), accuracy per method and tree
  coupled_log_z_curves.png    check_11: c_t (solid) with the fixed-policy optimum c*_t (dotted), and KL(pi||p*),
                              per tree and residual, over log_z_learning_rate (colour) and initial error (style)
  paced_curves.png            check_12: mean KL(pi||p*) (disa-online, Adam and SGD) and mean accuracy (grpo) against trajectories
                              sampled, uniform vs paced prompt selection, one line per seed
  sensitivity.png             check_14: final KL(pi||p*) of disa-offline vs proposal strength lambda per beta and N
                              (estimated vs exact anchor), and the anchor's Var[log Zhat_N] vs chi2/N
  envelope.png                check_09: final KL(pi_c||p*) vs the frozen-log Z error c per proposal (log scale), the
                              exact principal stationary point, the k c^2 law, and disa-online (~0 for every c)
A missing CSV is skipped with a message.
"""
import math
import os
import sys
from collections import OrderedDict, defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from csv_rows import fnum, read  # noqa: E402  (plots/csv_rows.py, beside this script)
from atomic_output import save_figure  # noqa: E402  (plots/atomic_output.py)
from figure_title import title_and_layout  # noqa: E402  (plots/figure_title.py)

METHOD_STYLE = {
    "grpo": dict(color="tab:red", lw=0.8, alpha=0.6),
    "gspo": dict(color="tab:orange", lw=0.8, alpha=0.6, ls="--"),
    "disa-online": dict(color="tab:blue", lw=2.0),
    "sft:reference": dict(color="tab:green", lw=1.6),
    "sft:interp:lambda=0.5": dict(color="tab:purple", lw=1.6),
}


def csv_or_skip(d, name):
    """Rows of DIR/name, or None (with a message) when the check did not write it."""
    path = os.path.join(d, name)
    if not os.path.exists(path):
        print(f"skip: {path} not found")
        return None
    return read(path)


def save(fig, d, name, title=None):
    if title is None:
        fig.tight_layout()
    else:
        title_and_layout(fig, title)
    out = os.path.join(d, name)
    save_figure(fig, out, dpi=110)
    plt.close(fig)
    print(f"wrote {out}")


def runs_of(rows):
    """OrderedDict run -> list of rows (in step order)."""
    out = OrderedDict()
    for r in rows:
        out.setdefault(r["run"], []).append(r)
    return out


def positive(values, floor=1e-16):
    return [max(v, floor) if not math.isnan(v) else math.nan for v in values]


def plot_collapse(d):
    rows = csv_or_skip(d, "check_13_collapse_curves.csv")
    if rows is None:
        return
    table = read(os.path.join(d, "check_13_collapse.csv"))
    target_h = {r["tree"]: fnum(r["exact"]) for r in table if r["quantity"].startswith("final strategy entropy")}
    target_acc = {r["tree"]: fnum(r["exact"]) for r in table if r["quantity"].startswith("final accuracy")}
    runs = runs_of(rows)
    trees = list(OrderedDict.fromkeys(r["tree"] for r in rows))
    fig, axes = plt.subplots(len(trees), 3, figsize=(16, 4.2 * len(trees)), squeeze=False)
    for i, tree in enumerate(trees):
        labelled = set()
        for run, pts in runs.items():
            if pts[0]["tree"] != tree:
                continue
            group = pts[0]["group"]
            style = METHOD_STYLE.get(group, dict(color="gray"))
            label = None if group in labelled else group
            labelled.add(group)
            steps = [max(int(p["step"]), 1) for p in pts]
            axes[i][0].plot(steps, positive([fnum(p["kl_policy_target"]) for p in pts]), label=label, **style)
            axes[i][1].plot(steps, [fnum(p["strategy_entropy"]) for p in pts], label=label, **style)
            axes[i][2].plot(steps, [fnum(p["accuracy"]) for p in pts], label=label, **style)
        axes[i][1].axhline(target_h.get(tree, math.nan), color="k", ls=":", lw=1.2, label="p*")
        axes[i][2].axhline(target_acc.get(tree, math.nan), color="k", ls=":", lw=1.2, label="p*")
        axes[i][0].set_yscale("log")
        for ax, title in zip(axes[i], ("KL(pi || p*)", "strategy entropy among correct (nats)", "accuracy")):
            ax.set_xscale("log")
            ax.set_xlabel("step")
            ax.set_title(f"{tree}: {title}")
            ax.grid(alpha=0.3)
        axes[i][1].legend(fontsize=8)
    save(fig, d, "collapse_curves.png",
         "check_13_collapse (item 13): GRPO/GSPO (one line per seed; the two coincide here) collapse the "
         "strategy distribution; DISA reaches p*; SFT reaches q(.|correct)")


def plot_coupled(d):
    rows = csv_or_skip(d, "check_11_coupled_log_z_curves.csv")
    if rows is None:
        return
    runs = runs_of(rows)
    panels = list(OrderedDict.fromkeys((r["tree"], r["group"]) for r in rows))
    lrs = sorted({run.split("lrz=")[1].split("/")[0] for run in runs}, key=float)
    inits = sorted({run.split("c0=")[1] for run in runs}, key=float)
    colours = dict(zip(lrs, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")))
    styles = dict(zip(inits, ("-", "--", "-.", ":")))
    fig, axes = plt.subplots(len(panels), 2, figsize=(14, 3.8 * len(panels)), squeeze=False)
    for i, (tree, group) in enumerate(panels):
        ax_c, ax_kl = axes[i]
        for run, pts in runs.items():
            if (pts[0]["tree"], pts[0]["group"]) != (tree, group):
                continue
            lr = run.split("lrz=")[1].split("/")[0]
            c0 = run.split("c0=")[1]
            steps = [max(int(p["step"]), 1) for p in pts]
            kw = dict(color=colours[lr], ls=styles[c0], lw=1.2)
            ax_c.plot(steps, [fnum(p["log_z_error"]) for p in pts], label=f"lr_z={lr}, c0={c0}", **kw)
            ax_c.plot(steps, [fnum(p["c_star"]) for p in pts], color=colours[lr], ls=":", lw=0.8, alpha=0.7)
            ax_kl.plot(steps, positive([fnum(p["kl_policy_target"]) for p in pts]), **kw)
        ax_c.axhline(0.0, color="k", lw=0.8)
        ax_c.set_title(f"{tree}, {group}: c_t (solid), c*_t (dotted)", fontsize=10)
        ax_kl.set_title(f"{tree}, {group}: KL(pi_t || p*)", fontsize=10)
        ax_kl.set_yscale("log")
        for ax in (ax_c, ax_kl):
            ax.set_xscale("log")
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
        ax_c.legend(fontsize=7, ncol=3)
    save(fig, d, "coupled_log_z_curves.png",
         "check_11_coupled_log_z (item 11): c_t = log Z_phi - log Z; c*_t = fixed-policy optimum\n"
         "plain: c*_t = -KL_t, both -> 0; 1/|y|: c_t ends above 0 at a policy away from p*")


def plot_paced(d):
    rows = csv_or_skip(d, "check_12_paced_curves.csv")
    if rows is None:
        return
    runs = runs_of(rows)
    colours = {"uniform": "tab:blue", "paced tau=0.5": "tab:red", "paced tau=0.3": "tab:orange",
               "uniform +replay(accuracy_error)": "tab:cyan", "paced tau=0.5 +replay(accuracy_error)": "tab:purple",
               "paced tau=0.5 +replay(uniform)": "tab:olive"}
    panels = (("disa-online", False, "kl_policy_target", "mean KL(pi || p*), Adam"),
              ("disa-online/sgd", False, "kl_policy_target", "mean KL(pi || p*), SGD"),
              ("grpo", False, "accuracy", "mean accuracy, Adam"),
              ("disa-online", True, "kl_policy_target", "replay: mean KL(pi || p*), Adam"))
    fig, axes = plt.subplots(2, 2, figsize=(13, 9), squeeze=False)
    for ax, (method, replay_panel, field, title) in zip([a for row in axes for a in row], panels):
        labelled = set()
        for run, pts in runs.items():
            group = pts[0]["group"]
            if not group.startswith(method + " "):
                continue
            rule = group[len(method) + 1:]
            # The replay panel shows the replay arms beside the same rules without replay.
            if replay_panel and rule not in ("uniform", "paced tau=0.5") and "+replay" not in rule:
                continue
            if not replay_panel and "+replay" in rule:
                continue
            label = None if rule in labelled else rule
            labelled.add(rule)
            ax.plot([fnum(p["samples"]) for p in pts], [fnum(p[field]) for p in pts], color=colours.get(rule, "gray"),
                    lw=0.9, alpha=0.7, label=label)
        ax.set_xlabel("trajectories sampled")
        ax.set_title(f"{method}: {title} (one line per seed)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save(fig, d, "paced_curves.png",
         "check_12_paced (item 12): uniform vs paced prompt selection (our rule), 16 prompts, 4 per step, "
         "group 8; replay: 64 groups kept, 4 replayed per step by accuracy-estimation error (or uniformly)")


def plot_envelope(d):
    table = csv_or_skip(d, "check_09_envelope.csv")
    if table is None:
        return
    env = defaultdict(list)  # proposal -> [(c, measured, principal, k c^2)]
    online = []
    spread = defaultdict(list)  # proposal -> [(c, min, max)] over optimiser starts
    for r in table:
        if r["quantity"].startswith("final KL(pi_c||p*) from pi_ref"):
            q, c = r["proposal"].rsplit(" c=", 1)
            env[q].append((float(c), fnum(r["measured"]), fnum(r["exact"]), fnum(r["predicted"])))
        elif r["quantity"].startswith("c = 0: final KL"):
            env[r["proposal"]].append((0.0, fnum(r["measured"]), 0.0, 0.0))
        elif r["quantity"].startswith("c > 0: spread"):
            q, c = r["proposal"].rsplit(" c=", 1)
            # Spread::text(): "mean [min, max]", or just "mean" when every start ended alike.
            text = r["verdict"].split("KL over starts ")[1]
            lo, hi = text.split("[")[1].split("]")[0].split(",") if "[" in text else (text.split()[0].rstrip(";"),) * 2
            spread[q].append((float(c), float(lo), float(hi)))
        elif r["quantity"].startswith("on-policy final KL"):
            online.append((float(r["proposal"].split("c=")[1]), fnum(r["measured"])))
    fig, ax = plt.subplots(figsize=(9, 5.5))
    colours = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")
    for colour, (q, pts) in zip(colours, env.items()):
        pts.sort()
        cs = [p[0] for p in pts]
        ax.plot(cs, positive([p[1] for p in pts]), "o", color=colour, label=f"{q}: trained (SGD from pi_ref)")
        for side, lab in ((-1, "principal stationary point (exact)"), (1, None)):  # 0 at c = 0: off the log axis
            sp = [p for p in pts if p[0] * side > 0]
            ax.plot([p[0] for p in sp], positive([p[2] for p in sp]), "-", color=colour, lw=1.0, alpha=0.8, label=lab)
        for c, lo, hi in spread.get(q, []):
            ax.plot([c, c], [max(lo, 1e-16), max(hi, 1e-16)], "-", color=colour, lw=4, alpha=0.35)
            ax.plot([c, c], [max(lo, 1e-16), max(hi, 1e-16)], "_", color=colour, ms=10)
        nz = [p for p in pts if p[0] != 0.0 and p[3] > 0]
        k = nz[0][3] / nz[0][0] ** 2 if nz else math.nan
        grid = [min(cs) + (max(cs) - min(cs)) * i / 200 for i in range(201)]
        ax.plot(grid, positive([k * c * c for c in grid]), "--", color=colour, lw=1.0, label=f"k c^2, k = {k:.4g}")
    if online:
        online.sort()
        ax.plot([o[0] for o in online], positive([o[1] for o in online]), "s", color="k", ms=4,
                label="disa-online (item 8): ~0 for every c")
    ax.set_yscale("log")
    ax.set_xlabel("c = log Z_frozen - log Z")
    ax.set_ylabel("final KL(pi_c || p*)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("check_09_envelope (item 9): DISA offline (exact, weighted by q) with a frozen log Z off by c\n"
                 "the perturbation envelope per proposal, with the small-c law k c^2; bars: range over 4 starts (c > 0)", fontsize=10)
    save(fig, d, "envelope.png")


def plot_sensitivity(d):
    cells = csv_or_skip(d, "check_14_disa_sensitivity_cells.csv")
    if cells is None:
        return
    betas = sorted({float(c["beta"]) for c in cells})
    ns = sorted({int(c["n"]) for c in cells})
    colours = dict(zip(ns, ("tab:blue", "tab:orange", "tab:green", "tab:red")))
    fig, axes = plt.subplots(2, len(betas), figsize=(5.5 * len(betas), 8.5), squeeze=False)
    for j, beta in enumerate(betas):
        top, bottom = axes[0][j], axes[1][j]
        zeros = {}
        for n in ns:
            pts = sorted((float(c["lambda"]), c) for c in cells if float(c["beta"]) == beta and int(c["n"]) == n)
            lam = [p[0] for p in pts]
            top.errorbar(lam, [fnum(p[1]["kl_estimated_mean"]) for p in pts],
                         yerr=[2 * fnum(p[1]["kl_estimated_se"]) for p in pts], color=colours[n], marker="o", lw=1.6,
                         capsize=3, label=f"N={n}: log Zhat_N")
            top.plot(lam, [fnum(p[1]["kl_exact_mean"]) for p in pts], color=colours[n], ls="--", lw=1.0,
                     label=f"N={n}: exact log Z")
            # Var[c] measured vs chi2/N (0 at lambda = 1: off the log axis).
            keep = [p for p in pts if fnum(p[1]["chi2"]) > 1e-12]
            # A variance that is rounding alone (every offline set drew the same weights: 1e-31
            # where chi2/N is 4e-3) has no place on a log axis: drawn at the axis' foot below,
            # not as a point that stretched the axis over 25 decades.
            measured = [(p[0], fnum(p[1]["c_var"]), fnum(p[1]["c_var_predicted"])) for p in keep]
            alike = [m for m in measured if m[1] <= 1e-12 * m[2]]
            shown = [m[:2] for m in measured if m not in alike]
            bottom.plot(*zip(*shown or [(math.nan, math.nan)]), "o", color=colours[n],
                        label=f"N={n}: Var[log Zhat_N] over the offline sets")
            zeros[n] = [m[0] for m in alike]
            bottom.plot([p[0] for p in keep], [fnum(p[1]["c_var_predicted"]) for p in keep], "-", color=colours[n],
                        lw=1.0, label=f"N={n}: chi2/N")
            exact = [(p[0], fnum(p[1].get("c_var_exact", "nan"))) for p in keep]
            exact = [e for e in exact if e[1] == e[1]]  # nan where no exact law
            if exact:
                bottom.plot(*zip(*exact), "x", ms=8, color=colours[n], label=f"N={n}: exact law")
        top.set_yscale("log")
        top.set_title(f"beta = {beta:g}: final KL(pi || p*) after disa-offline", fontsize=10)
        bottom.set_yscale("log")
        foot = bottom.get_ylim()[0]
        for n, lams in zeros.items():
            if lams:
                bottom.plot(lams, [foot] * len(lams), "v", ms=8, color=colours[n], clip_on=False,
                            label=f"N={n}: measured 0 (every set alike, to rounding)")
        bottom.set_ylim(bottom=foot)
        bottom.set_title(f"beta = {beta:g}: the anchor's variance vs chi2(p*||q)/N", fontsize=10)
        for ax in (top, bottom):
            ax.set_xlabel("proposal strength lambda (q ∝ pi_ref e^(lambda beta r); 1 = p*)")
            ax.grid(alpha=0.3)
        top.legend(fontsize=7)
        bottom.legend(fontsize=7)
    save(fig, d, "sensitivity.png",
         "check_14_disa_sensitivity: log Zhat_N frozen from N samples of q_lambda, disa-offline trained on the "
         "same samples (error bars 2 se over offline sets); dashed: the exact log Z on the same samples")


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "results/training_checks"
    plot_collapse(d)
    plot_coupled(d)
    plot_paced(d)
    plot_envelope(d)
    plot_sensitivity(d)


if __name__ == "__main__":
    main()
