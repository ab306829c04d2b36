#!/usr/bin/env python3
"""plots/figure_title.py: a long figure title was cut off at both sides, a two-line one ran
over the first row's panel titles; title_and_layout fits both, and layout_problems (the
check) names what the plain suptitle + tight_layout did wrong. Run by ctest."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "plots"))
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from figure_title import layout_problems, title_and_layout  # noqa: E402

# The titles of paced_curves.png (one line, wider than its 13-inch figure) and of
# coupled_log_z_curves.png (two lines over four rows of panels), as the plots had them.
LONG = ("check_12_paced (item 12): uniform vs paced prompt selection (our rule), 16 prompts, 4 per step, "
        "group 8; replay: 64 groups kept, 4 replayed per step by accuracy-estimation error (or uniformly)")
TWO_LINES = ("check_11_coupled_log_z (item 11): c_t = log Z_phi - log Z; c*_t = fixed-policy optimum\n"
             "plain: c*_t = -KL_t, both -> 0; 1/|y|: c_t ends above 0 at a policy away from p*")


def panels(rows, cols, size):
    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    for i, ax in enumerate(a for row in axes for a in row):
        ax.plot([1, 2, 3], [3, 1, 2])
        ax.set_title(f"random T4 (fixed length), panel {i}: c_t (solid), c*_t (dotted)", fontsize=10)
        ax.set_xlabel("step")
    return fig


def main():
    failures = []
    for text, rows, cols, size in ((LONG, 2, 2, (13, 9)), (TWO_LINES, 4, 2, (14, 15.2))):
        old = panels(rows, cols, size)
        old.suptitle(text, fontsize=11)
        old.tight_layout()
        if not layout_problems(old):
            failures.append(f"the check found nothing wrong with the old layout of '{text[:30]}'")
        plt.close(old)

        new = panels(rows, cols, size)
        title = title_and_layout(new, text)
        problems = layout_problems(new)
        if problems:
            failures.append(f"'{text[:30]}' after title_and_layout: {problems}")
        # Wrapped, not cut: every word of the title is still there, in order.
        if title.get_text().split() != text.split():
            failures.append(f"the wrapped title lost words: {title.get_text()!r}")
        plt.close(new)

    # A short title stays one line.
    fig = panels(1, 2, (10, 4))
    if "\n" in title_and_layout(fig, "short title").get_text() or layout_problems(fig):
        failures.append("a short title was wrapped or laid out badly")
    plt.close(fig)

    for f in failures:
        print("FAIL:", f)
    print("figure_title_test:", "FAIL" if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
