#!/usr/bin/python3
"""The exact pass (log Z and the flows, leaf to root in log space) in plain numpy.

The reference the C++ exact pass is timed against (bench/run_exact_pass_bench.py):
a straightforward vectorised implementation, one level of the tree at a time, on
the same binary tree file (.dtree, toy_envs/tree_json.h). Run it with Debian's
/usr/bin/python3 (python3-numpy).

    /usr/bin/python3 bench/exact_pass_numpy.py --tree T.dtree [--beta 1]
        [--expect-log-z Z] [--repeats 5] [--json out.json]

Layout (toy_envs/tree_shape.h): B = V, or V - 1 with EOS; level d holds B^d internal
nodes, contiguous, in level order; the non-EOS children of level-d node i are
level-(d+1) nodes i*B .. i*B+B-1 in action order (skipping EOS); with EOS, leaf k
< num_internal is the EOS leaf of internal node k and the B^T horizon leaves
follow from num_internal; without EOS the leaves are the B^T horizon leaves.

    log F(leaf) = beta r(leaf)
    log F(s)    = logsumexp_a [ log_softmax(logits(s))_a + log F(s.a) ]
    log Z       = log F(root)

With --expect-log-z the computed log Z must match it to 1e-9 relative (absolute
near 0) before anything is timed; otherwise the script exits 1. The timing covers
the pass only (the file is read into memory first), repeated --repeats times
after one warm-up; the JSON has every time, the median and the minimum.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

HEADER = np.dtype([
    ("magic", "S8"), ("version", "<u4"), ("vocab", "<i4"), ("horizon", "<i4"),
    ("eos", "<i4"), ("num_internal", "<i8"), ("num_leaves", "<i8"),
])  # 40 bytes, packed, as written by save_tree


def load_dtree(path):
    """(vocab, horizon, eos or -1, logits [I, V] float64, reward [L] float64)."""
    header = np.fromfile(path, dtype=HEADER, count=1)
    if header.size != 1 or header["magic"][0] != b"DISATREE":
        sys.exit(f"{path}: not a binary disa tree (.dtree)")
    h = {name: header[name][0].item() for name in HEADER.names}
    if h["version"] != 1:
        sys.exit(f"{path}: version {h['version']}, expected 1")
    V, T, I, L = h["vocab"], h["horizon"], h["num_internal"], h["num_leaves"]
    expected = HEADER.itemsize + 8 * I * V + 8 * L + 4 * L
    if os.path.getsize(path) != expected:
        sys.exit(f"{path}: {os.path.getsize(path)} bytes, expected {expected}")
    logits = np.fromfile(path, dtype="<f8", count=I * V, offset=HEADER.itemsize).reshape(I, V)
    reward = np.fromfile(path, dtype="<f8", count=L, offset=HEADER.itemsize + 8 * I * V)
    return V, T, h["eos"], logits, reward


def logsumexp_rows(x):
    m = x.max(axis=1, keepdims=True)
    return m + np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def exact_pass(V, T, eos, logits, reward, beta):
    """log Z; one vectorised step per level, from the horizon leaves up to the root."""
    B = V - 1 if eos >= 0 else V
    level_offset = [0]
    for d in range(T):
        level_offset.append(level_offset[-1] + B ** d)
    num_internal = level_offset[T]
    horizon_leaf_offset = num_internal if eos >= 0 else 0
    log_f = beta * reward[horizon_leaf_offset:horizon_leaf_offset + B ** T]  # level T
    for d in range(T - 1, -1, -1):
        lo, n = level_offset[d], B ** d
        z = logits[lo:lo + n]
        log_p = z - logsumexp_rows(z)
        if eos >= 0:
            log_f_child = np.empty((n, V))
            log_f_child[:, eos] = beta * reward[lo:lo + n]  # EOS leaf of node lo + i
            below = log_f.reshape(n, B)
            log_f_child[:, :eos] = below[:, :eos]
            log_f_child[:, eos + 1:] = below[:, eos:]
        else:
            log_f_child = log_f.reshape(n, B)
        log_f = logsumexp_rows(log_p + log_f_child)[:, 0]
    return float(log_f[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", required=True)
    ap.add_argument("--beta", type=float, default=1.0)
    ap.add_argument("--expect-log-z", type=float, default=None)
    ap.add_argument("--rtol", type=float, default=1e-9)
    ap.add_argument("--repeats", type=int, default=5, help="timed runs after one warm-up (0: validate only)")
    ap.add_argument("--json", default=None, help="write the results here (else stdout)")
    args = ap.parse_args()

    V, T, eos, logits, reward = load_dtree(args.tree)
    I, L = logits.shape[0], reward.shape[0]
    log_z = exact_pass(V, T, eos, logits, reward, args.beta)  # also the warm-up
    result = {
        "tree": args.tree, "vocab": V, "horizon": T, "eos": eos, "num_internal": I,
        "num_leaves": L, "nodes": I + L, "beta": args.beta, "log_z": log_z,
        "numpy": np.__version__, "python": sys.version.split()[0],
    }
    if args.expect_log_z is not None:
        diff = abs(log_z - args.expect_log_z)
        scale = max(abs(args.expect_log_z), 1.0)
        result["log_z_expected"] = args.expect_log_z
        result["log_z_rel_diff"] = diff / scale
        if not np.isfinite(log_z) or diff > args.rtol * scale:
            print(f"exact_pass_numpy: log Z {log_z!r} != expected {args.expect_log_z!r} "
                  f"(|diff| {diff:.3g} > {args.rtol:g} * {scale:g}); not timing", file=sys.stderr)
            sys.exit(1)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        exact_pass(V, T, eos, logits, reward, args.beta)
        times.append(time.perf_counter() - t0)
    if times:
        result["times_s"] = times
        result["median_s"] = float(np.median(times))
        result["min_s"] = min(times)
    text = json.dumps(result, indent=1)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
