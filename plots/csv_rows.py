"""Reading the CSV files that the C++ programs write, for the plot scripts."""
import csv
import math


def read(path):
    """All rows of a CSV file as dicts."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def fnum(s):
    """A CSV cell as a float; empty cells are NaN ("inf", "nan" parse as such)."""
    return float(s) if s not in ("", None) else math.nan
