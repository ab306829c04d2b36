#!/usr/bin/env python3
"""plots/seed_summary.py: mean and half range over runs, rows every run shares, pass@k at
the runs' largest k, a missing run named, a PNG drawn. Run by ctest (tests/plots/CMakeLists.txt)."""
import csv
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "plots", "seed_summary.py")
HEADER = ("model,task,prompts,k,mean_at_k,pass_at_1,pass_at_2,pass_at_4,distinct_correct,"
          "distinct_strategies,ngram_dispersion,share_two_or_more_distinct\n")


def write_run(root, name, rows):
    os.makedirs(os.path.join(root, name, "eval"))
    with open(os.path.join(root, name, "eval", "results.csv"), "w") as f:
        f.write(HEADER + "".join(rows))
    return os.path.join(root, name)


def main():
    with tempfile.TemporaryDirectory() as root:
        a = write_run(root, "a", ["disa,countdown,32,4,0.2,0.2,0.3,0.6,1.5,1.4,0.5,0.4\n",
                                  "grpo,countdown,32,4,0.3,0.3,0.4,0.5,1.0,1.0,nan,0.3\n"])
        b = write_run(root, "b", ["disa,countdown,32,4,0.4,0.4,0.5,0.8,1.7,1.6,0.3,0.5\n"])
        out, png = os.path.join(root, "summary.csv"), os.path.join(root, "summary.png")
        text = subprocess.run([sys.executable, SCRIPT, a, b, "--out", out, "--plot", png], check=True,
                              capture_output=True, text=True).stdout
        with open(png, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", "--plot wrote no PNG"
        assert "| disa | held-out | 0.300 ± 0.100 | 0.700 ± 0.100 | 1.600 ± 0.100 | 1.500 ± 0.100 | 0.400 ± 0.100 |" \
            in text, text
        assert "grpo" not in text, "a row only one run has is no summary: " + text
        rows = list(csv.DictReader(open(out)))
        assert len(rows) == 1 and rows[0]["runs"] == "2", rows
        assert float(rows[0]["pass_at_k_min"]) == 0.6 and float(rows[0]["pass_at_k_max"]) == 0.8, rows
        missing = subprocess.run([sys.executable, SCRIPT, a, os.path.join(root, "nowhere")], capture_output=True,
                                 text=True)
        assert missing.returncode != 0 and "nowhere" in missing.stderr, missing.stderr
    print("seed_summary_test: ok")


if __name__ == "__main__":
    main()
