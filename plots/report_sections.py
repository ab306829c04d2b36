#!/usr/bin/env python3
"""Appends the theory-check and training-study sections to the demo's report.md.

Usage: /usr/bin/python3 plots/report_sections.py DEMO_DIR
DEMO_DIR holds report.md (from `disa demo`), theory_checks/ (`disa check estimator` + its plots)
and training_checks/ (`disa check training` + plots/plot_training_checks.py). Reads only the
tables the checks wrote (<check>.csv, <check>.json, check_14_disa_sensitivity_cells.csv) and
links the PNGs beside them; report.md is rewritten through a temporary file and a rename.
Running it twice does not duplicate the sections (everything after the marker is replaced).
"""
import json
import os
import sys

from csv_rows import fnum, read  # noqa: E402  (plots/csv_rows.py, beside this script)

MARKER = "<!-- sections below: plots/report_sections.py -->"


def short(x, digits=4):
    if x != x:  # NaN
        return "-"
    return f"{x:.{digits}g}"


def mean_se(row):
    m, se = fnum(row["measured"]), fnum(row["se"])
    return short(m) if se != se or se == 0 else f"{short(m)} ± {short(se, 2)}"


def load(d, name):
    """(json summary, csv rows) of one check, or None when it did not run."""
    j, c = os.path.join(d, name + ".json"), os.path.join(d, name + ".csv")
    if not (os.path.exists(j) and os.path.exists(c)):
        return None
    with open(j) as f:
        return json.load(f), read(c)


def overall(summary):
    return (f"{summary['passed']}/{summary['exact_rows']} exact statements pass, "
            f"{len(summary.get('findings', []))} findings")


def row(*cells):
    """A markdown table row; a '|' inside a cell (KL(pi||p*) in a statement) is escaped,
    or the row would split into more cells than the header and lose its last ones."""
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def figure(md, rel, caption):
    md.append(f"![{caption}]({rel})\n")


def findings(md, rows, prefix="FINDING"):
    picked = [r for r in rows if r["verdict"].startswith(prefix)]
    for r in picked:
        md.append(f"- **{r['quantity']}** ({r['tree']}, beta {r['beta']}, {r['proposal']}): "
                  f"{r['verdict'][len(prefix) + 2:] if r['verdict'].startswith(prefix + ':') else r['verdict']}")
    if picked:
        md.append("")


def estimator_section(md, d):
    md.append("## Theory checks of the importance-sampled log Z (THEORY.md items 1-5, 7)\n")
    names = ["check_01_unbiased", "check_02_relative_variance", "check_03_log_bias", "check_04_ess",
             "check_05_binary_bound", "check_07_sensitivity"]
    md.append("| check | statement | result |")
    md.append("|---|---|---|")
    for n in names:
        got = load(d, n)
        if got:
            md.append(row(n, got[0]['statement'], overall(got[0])))
    md.append("\nEvery row with its numbers: `theory_checks/<check>.csv`. A finding there is a first-order "
              "prediction (delta method, ESS ~ N/(1+chi2)) off by more than 10%; exact statements decide PASS/FAIL.\n")
    for png, cap in (("log_bias_vs_n.png", "log-space bias against -chi2/(2N)"),
                     ("variance_vs_lambda.png", "variance of log Zhat against chi2/N over lambda and beta"),
                     ("ess_vs_n.png", "ESS/N against 1/(1+chi2)"),
                     ("chi2_vs_horizon.png", "chi2 over the horizon")):
        if os.path.exists(os.path.join(d, png)):
            figure(md, f"theory_checks/{png}", cap)


def collapse_table(md, rows):
    quantities = ["final KL(pi||p*)", "final KL(p*||pi)", "final accuracy (exact: p*'s)",
                  "final strategy entropy (exact: p*'s)", "final strategies > 1% (exact: p*'s)"]
    cells = {}
    order = []
    for r in rows:
        if r["quantity"] in quantities:
            key = (r["tree"], r["proposal"])
            if key not in cells:
                order.append(key)
            cells.setdefault(key, {})[r["quantity"]] = r
    md.append("| tree | method | KL(pi‖p*) | KL(p*‖pi) | accuracy (p*'s) | strategy entropy (p*'s) | strategies > 1% (p*'s) |")
    md.append("|---|---|---|---|---|---|---|")
    for key in order:
        c = cells[key]
        def with_target(q):
            r = c.get(q)
            return "-" if r is None else f"{mean_se(r)} ({short(fnum(r['exact']))})"
        md.append(row(key[0], key[1], mean_se(c[quantities[0]]), mean_se(c[quantities[1]]),
                      with_target(quantities[2]), with_target(quantities[3]), with_target(quantities[4])))
    md.append("\nMean ± standard error over training seeds (grpo/gspo sampled; disa-online and sft exact, one run).\n")


def paced_table(md, rows):
    md.append("| arm | steps | seeds | samples to the target (mean ± se) | reached, final and best values |")
    md.append("|---|---|---|---|---|")
    for r in rows:
        if r["quantity"] == "samples to reach the target":
            md.append(row(r['proposal'], r['n'], r['replicates'], mean_se(r), r['note']))
    md.append("")


def sensitivity_table(md, d):
    path = os.path.join(d, "check_14_disa_sensitivity_cells.csv")
    if not os.path.exists(path):
        return
    md.append("| beta | lambda | N | chi2(p*‖q) | E[c] (pred. -chi2/2N) | Var c (pred. chi2/N) | final KL, log Zhat_N | "
              "final KL, exact log Z |")
    md.append("|---|---|---|---|---|---|---|---|")
    for c in read(path):
        md.append(f"| {c['beta']} | {c['lambda']} | {c['n']} | {short(fnum(c['chi2']))} | "
                  f"{short(fnum(c['c_mean']), 3)} ({short(fnum(c['c_mean_predicted']), 3)}) | "
                  f"{short(fnum(c['c_var']), 3)} ({short(fnum(c['c_var_predicted']), 3)}) | "
                  f"{short(fnum(c['kl_estimated_mean']), 3)} ± {short(fnum(c['kl_estimated_se']), 2)} | "
                  f"{short(fnum(c['kl_exact_mean']), 3)} ± {short(fnum(c['kl_exact_se']), 2)} |")
    md.append("\nc = log Zhat_N - log Z, over the offline sets training used; both runs train on the same samples.\n")


def training_section(md, d):
    md.append("## Training studies on exact trees (THEORY.md items 7, 9-13)\n")
    studies = [
        ("check_13_collapse", "Reward maximisation collapses, DISA does not (item 13)",
         [("collapse_curves.png", "KL(pi||p*), strategy entropy and accuracy per method")]),
        ("check_09_envelope", "The perturbation envelope of a wrong frozen log Z (items 8-10)",
         [("envelope.png", "final KL(pi_c||p*) against the log Z error c")]),
        ("check_14_disa_sensitivity", "DISA end to end: log Zhat_N from N proposal samples, frozen, then trained on "
         "(items 1-3, 7, 9)", [("sensitivity.png", "final KL against proposal strength, beta and N")]),
        ("check_11_coupled_log_z", "Coupled (FlowRL) versus decoupled log Z (item 11)",
         [("coupled_log_z_curves.png", "c_t and KL_t of coupled training")]),
        ("check_12_paced", "PACED-RL: log Z as an accuracy estimate, prompt selection and replay (item 12)",
         [("paced_curves.png", "learning curves against trajectories sampled")]),
    ]
    md.append("| study | statement | result |")
    md.append("|---|---|---|")
    loaded = {}
    for name, _, _ in studies:
        got = load(d, name)
        if got:
            loaded[name] = got
            md.append(row(name, got[0]['statement'], overall(got[0])))
    md.append("\nExact statements (identities, thresholds derived from the theory) decide PASS/FAIL; measured "
              "statements about training dynamics are findings, each with its numbers. Every row: "
              "`training_checks/<study>.csv`; per-step curves: `training_checks/<study>_curves.csv`.\n")
    for name, title, pngs in studies:
        if name not in loaded:
            continue
        summary, rows = loaded[name]
        md.append(f"### {title}\n")
        md.append(f"`{name}`: {summary['config']}\n")
        if name == "check_13_collapse":
            collapse_table(md, rows)
        if name == "check_12_paced":
            paced_table(md, rows)
        if name == "check_14_disa_sensitivity":
            sensitivity_table(md, d)
        for png, cap in pngs:
            if os.path.exists(os.path.join(d, png)):
                figure(md, f"training_checks/{png}", cap)
        findings(md, rows)


def llm_section(md, d):
    """The language-model pipeline's results table and figures (disa llm pipeline)."""
    table = os.path.join(d, "eval", "results.md")
    if not os.path.exists(table):
        return
    md.append("## DISA on the in-house language model (`disa llm pipeline`)\n")
    md.append("Countdown, held-out prompts (`countdown`) and the RL training prompts (`countdown:rl`); "
              "every method from the same reference, prompts, steps and LoRA rank. "
              "Files: `llm_pipeline/eval/results.csv`, `per_prompt.csv`, `samples/`, `llm_pipeline/train/*/steps.jsonl`.\n")
    with open(table) as f:
        md.append(f.read())
    for png, cap in [("quality_diversity.png", "Mean@k against distinct correct solutions per prompt"),
                     ("methods.png", "per-model metrics on held-out prompts"),
                     ("training.png", "batch accuracy and loss per step")]:
        if os.path.exists(os.path.join(d, "eval", png)):
            figure(md, f"llm_pipeline/eval/{png}", cap)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "results/demo"
    report = os.path.join(d, "report.md")
    with open(report) as f:
        text = f.read()
    text = text.split(MARKER)[0].rstrip() + "\n\n" + MARKER + "\n\n"
    md = []
    estimator_section(md, os.path.join(d, "theory_checks"))
    training_section(md, os.path.join(d, "training_checks"))
    llm_section(md, os.path.join(d, "llm_pipeline"))
    tmp = report + ".tmp-sections"
    with open(tmp, "w") as f:
        f.write(text + "\n".join(md) + "\n")
    os.replace(tmp, report)
    print(f"wrote the theory-check and training sections into {report}")


if __name__ == "__main__":
    main()
