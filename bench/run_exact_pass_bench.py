#!/usr/bin/python3
"""Exact pass and sampling benchmark: C++ (1 and 2 threads) against numpy, side by side.

    /usr/bin/python3 bench/run_exact_pass_bench.py [--build-dir build] [--out DIR]
        [--trees 10x6,10x7] [--rounds 2] [--repetitions 3] [--numpy-repeats 3]

Needs the C++ targets built first:
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
    ninja -C build disa bench_exact_pass

For each tree VxT (family "random", vocab V, horizon T, no EOS: V^T leaves; the
default 10x6 and 10x7 are exactly 10^6 and 10^7 leaves with the same vocab, so the
cost per node is comparable between them):
  1. writes the tree as .dtree with `disa tree generate`;
  2. validates before timing anything: bench_exact_pass checks its own pass
     (1 thread == 2 threads bit for bit, from-logits == from-policy) and prints log
     Z; bench/exact_pass_numpy.py must reproduce it to 1e-9 relative, or this
     script stops with exit 1;
  3. times, in --rounds alternating rounds on the same file: bench_exact_pass
     (google benchmark, --repetitions per benchmark) and exact_pass_numpy.py
     (--numpy-repeats), each under /usr/bin/time -v for its peak memory.
Once per round it also times the machine's ceilings (memory read/copy bandwidth,
libm exp throughput, the cost of one OpenMP fork/join) at 1 and 2 threads.

The machine is shared and has 2 vCPUs, so times vary from run to run: each time is
reported as the minimum over all repetitions of all rounds (the least disturbed
run) and the median; ratios use the minima.

Writes to --out (default BUILD_DIR/bench): results.csv, results.md, machine.txt and
raw/ (every JSON and /usr/bin/time log). Prints results.md. Exit 1 when validation
fails or a run fails, 2 on a usage error.
"""
import argparse
import csv
import io
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plots"))
from atomic_output import write_text  # noqa: E402  (plots/atomic_output.py: temp file + rename)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
NUMPY_SCRIPT = HERE / "exact_pass_numpy.py"
PYTHON = "/usr/bin/python3"  # Debian's, with python3-numpy
TREE_BENCHES = ["exact_pass", "log_flows", "sample"]
CEILING_BENCHES = ["memory_read", "memory_copy", "compute_exp", "fork_join"]


def die(msg, code=1):
    print(f"run_exact_pass_bench: {msg}", file=sys.stderr)
    sys.exit(code)


def run(cmd, env=None, log=None):
    """Runs cmd; returns (stdout, stderr). Exits 1 with the output when it fails."""
    p = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True)
    if log is not None:
        Path(log).write_text(f"$ {' '.join(map(str, cmd))}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
    if p.returncode != 0:
        die(f"command failed (exit {p.returncode}): {' '.join(map(str, cmd))}\n{p.stdout[-2000:]}{p.stderr[-4000:]}")
    return p.stdout, p.stderr


def peak_rss_kib(time_stderr):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_stderr)
    return int(m.group(1)) if m else None


def numpy_env():
    # OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on some machines for other tools)
    # slow numpy down; the reference runs without them.
    env = dict(os.environ)
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(k, None)
    return env


def machine_info(build_dir):
    lines = []
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        lscpu = ""
    fields = {}
    for line in lscpu.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip()] = v.strip()
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    compiler = build_type = ""
    cache = Path(build_dir) / "CMakeCache.txt"
    if cache.exists():
        for line in cache.read_text(errors="replace").splitlines():
            if line.startswith("CMAKE_CXX_COMPILER:"):
                compiler = line.split("=", 1)[1]
            elif line.startswith("CMAKE_BUILD_TYPE:"):
                build_type = line.split("=", 1)[1]
    if compiler:
        try:
            compiler += " (" + subprocess.run([compiler, "--version"], capture_output=True,
                                              text=True).stdout.splitlines()[0] + ")"
        except (OSError, IndexError):
            pass
    np_version = subprocess.run([PYTHON, "-c", "import numpy; print(numpy.__version__)"],
                                capture_output=True, text=True, env=numpy_env()).stdout.strip()
    info = {
        "cpu": fields.get("Model name", platform.processor()),
        "cpus": fields.get("CPU(s)", str(os.cpu_count())),
        "threads_per_core": fields.get("Thread(s) per core", "?"),
        "hypervisor": fields.get("Hypervisor vendor", "none"),
        "l2": fields.get("L2 cache", "?"),
        "l3": fields.get("L3 cache", "?"),
        "memory": mem,
        "kernel": platform.release(),
        "compiler": compiler,
        "build_type": build_type,
        "python": PYTHON + " " + platform.python_version(),
        "numpy": np_version,
    }
    lines.append(lscpu)
    return info, "\n".join(lines)


def generate_tree(build_dir, vocab, horizon, seed, path, raw):
    """Writes the tree with `disa tree generate`; returns the tool used."""
    disa = Path(build_dir) / "bin" / "disa"
    if not disa.exists():
        die(f"{disa} not built (ninja -C {build_dir} disa)")
    run([disa, "tree", "generate", "--family", "random", "--set", f"vocab={vocab}", "--set",
         f"horizon={horizon}", "--seed", str(seed), "--out", str(path)],
        log=raw / f"generate-v{vocab}-t{horizon}.log")
    return "disa tree generate"


TIME_UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def gbench_entries(path):
    """(context, {benchmark name: [(seconds per iteration, JSON entry) per repetition]})."""
    doc = json.loads(Path(path).read_text())
    out = {}
    for b in doc["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        name = b["run_name"].replace("/real_time", "")
        t = b["real_time"] * TIME_UNIT[b["time_unit"]]
        out.setdefault(name, []).append((t, b))
    return doc.get("context", {}), out


def per_iteration(entry, rate_key):
    """What one iteration processed (bytes, items), from google benchmark's rate."""
    return entry[rate_key] * entry["real_time"] * TIME_UNIT[entry["time_unit"]]


def summarise(samples):
    ts = sorted(samples)
    return {"min": ts[0], "median": statistics.median(ts), "n": len(ts)}


def fmt_rate(x, unit=1e6):
    return "" if x is None else f"{x / unit:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=str(REPO / "build"))
    ap.add_argument("--out", default=None, help="output folder (default BUILD_DIR/bench)")
    ap.add_argument("--trees", default="10x6,10x7", help="VOCABxHORIZON,... (family random, no EOS)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--beta", type=float, default=1.0)
    ap.add_argument("--samples", type=int, default=100000, help="trajectories per sampling call")
    ap.add_argument("--rounds", type=int, default=2, help="alternating C++/numpy rounds")
    ap.add_argument("--repetitions", type=int, default=3, help="google benchmark repetitions per round")
    ap.add_argument("--min-time", type=float, default=0.5, help="google benchmark min time (s)")
    ap.add_argument("--numpy-repeats", type=int, default=3, help="numpy timed runs per round")
    ap.add_argument("--keep-trees", action="store_true", help="keep the .dtree files in OUT/trees")
    args = ap.parse_args()
    # Usage errors first (exit 2), before anything is written.
    for name in ("samples", "rounds", "repetitions", "numpy_repeats"):
        if getattr(args, name) < 1:
            die(f"--{name.replace('_', '-')}: must be >= 1, got {getattr(args, name)}", 2)
    if not args.min_time > 0:
        die(f"--min-time: must be > 0, got {args.min_time}", 2)
    shapes = []
    for spec in args.trees.split(","):
        m = re.fullmatch(r"\s*(\d+)x(\d+)\s*", spec)
        if not m or int(m.group(1)) < 2 or int(m.group(2)) < 1:
            die(f"--trees: expected VOCABxHORIZON with VOCAB >= 2 and HORIZON >= 1, got '{spec}'", 2)
        shapes.append((int(m.group(1)), int(m.group(2))))

    build_dir = Path(args.build_dir).resolve()
    out = Path(args.out).resolve() if args.out else build_dir / "bench"
    raw = out / "raw"
    trees_dir = out / "trees"
    for d in (out, raw, trees_dir):
        d.mkdir(parents=True, exist_ok=True)
    bench = build_dir / "bin" / "bench_exact_pass"
    if not bench.exists():
        die(f"{bench} not built; run: cmake -S {REPO} -B {build_dir} -G Ninja -DCMAKE_BUILD_TYPE=Release "
            f"&& ninja -C {build_dir} disa bench_exact_pass", 2)
    if not Path(PYTHON).exists():
        die(f"{PYTHON} not found (Debian's python3 with python3-numpy)", 2)
    if not Path("/usr/bin/time").exists():
        die("/usr/bin/time not found (Debian package `time`)", 2)

    info, lscpu = machine_info(build_dir)
    write_text(out / "machine.txt", json.dumps(info, indent=1) + "\n\n" + lscpu)
    print(f"machine: {info['cpu']}, {info['cpus']} CPUs ({info['threads_per_core']} thread/core, "
          f"hypervisor {info['hypervisor']}), {info['memory']}; numpy {info['numpy']}", file=sys.stderr)

    gb_common = [f"--benchmark_min_time={args.min_time}", f"--benchmark_repetitions={args.repetitions}",
                 "--benchmark_format=console", "--benchmark_out_format=json"]
    ours = [f"--beta={args.beta}", f"--samples={args.samples}", f"--seed={args.seed}"]
    commands = []
    trees = []
    # ---- generate and validate every tree before timing anything -----------------
    for vocab, horizon in shapes:
        path = trees_dir / f"random-v{vocab}-t{horizon}-s{args.seed}.dtree"
        t0 = time.perf_counter()
        tool = generate_tree(build_dir, vocab, horizon, args.seed, path, raw)
        gen_s = time.perf_counter() - t0
        stdout, _ = run([bench, f"--tree={path}", *ours, "--validate-only"],
                        log=raw / f"validate-cpp-v{vocab}-t{horizon}.log")
        meta = json.loads(stdout)
        np_json = raw / f"validate-numpy-v{vocab}-t{horizon}.json"
        p = subprocess.run([PYTHON, NUMPY_SCRIPT, "--tree", path, "--beta", repr(args.beta),
                            "--expect-log-z", repr(meta["log_z"]), "--repeats", "0", "--json", np_json],
                           capture_output=True, text=True, env=numpy_env())
        if p.returncode != 0:
            die(f"validation failed on {path.name}: numpy and C++ disagree on log Z\n{p.stderr}")
        np_meta = json.loads(np_json.read_text())
        print(f"{path.name}: {meta['num_leaves']} leaves, {meta['num_internal']} internal; written by "
              f"{tool} in {gen_s:.1f}s; log Z C++ {meta['log_z']!r} numpy {np_meta['log_z']!r} "
              f"(rel diff {np_meta['log_z_rel_diff']:.2g}): validated", file=sys.stderr)
        trees.append({"vocab": vocab, "horizon": horizon, "path": path, "meta": meta,
                      "numpy_rel_diff": np_meta["log_z_rel_diff"], "generator": tool,
                      "cpp": {}, "numpy": [], "rss_cpp": [], "rss_numpy": [], "context": {}})

    # ---- time: alternating rounds ------------------------------------------------
    ceilings = {}
    ceiling_rounds = []
    round_load = []  # 1-minute load average as each round starts: other work on the machine
    for r in range(args.rounds):
        # The machine's ceilings, once per round (on the smallest tree's process).
        smallest = min(trees, key=lambda t: t["meta"]["num_leaves"])
        ceil_json = raw / f"ceilings-r{r}.json"
        cmd = [bench, f"--tree={smallest['path']}", *ours, *gb_common,
               f"--benchmark_filter={'|'.join(CEILING_BENCHES)}", f"--benchmark_out={ceil_json}"]
        if r == 0:
            commands.append(cmd)
        round_load.append(os.getloadavg()[0])
        print(f"round {r + 1}/{args.rounds}: machine ceilings (load average {round_load[-1]:.2f})", file=sys.stderr)
        run(cmd, log=raw / f"ceilings-r{r}.log")
        ceiling_rounds.append(gbench_entries(ceil_json)[1])
        for name, samples in ceiling_rounds[-1].items():
            ceilings.setdefault(name, []).extend(samples)
        for t in trees:
            tag = f"v{t['vocab']}-t{t['horizon']}-r{r}"
            cpp_json = raw / f"cpp-{tag}.json"
            cmd = ["/usr/bin/time", "-v", bench, f"--tree={t['path']}", *ours, *gb_common,
                   f"--benchmark_filter=^({'|'.join(TREE_BENCHES)})/", f"--benchmark_out={cpp_json}"]
            if r == 0:
                commands.append(cmd)
            print(f"round {r + 1}/{args.rounds}: {t['path'].name}: C++", file=sys.stderr)
            _, err = run(cmd, log=raw / f"cpp-{tag}.log")
            t["rss_cpp"].append(peak_rss_kib(err))
            context, entries = gbench_entries(cpp_json)
            t["context"] = context
            for name, samples in entries.items():
                t["cpp"].setdefault(name, []).extend(samples)
            np_json = raw / f"numpy-{tag}.json"
            cmd = ["/usr/bin/time", "-v", PYTHON, NUMPY_SCRIPT, "--tree", t["path"], "--beta", repr(args.beta),
                   "--expect-log-z", repr(t["meta"]["log_z"]), "--repeats", str(args.numpy_repeats),
                   "--json", np_json]
            if r == 0:
                commands.append(cmd)
            print(f"round {r + 1}/{args.rounds}: {t['path'].name}: numpy", file=sys.stderr)
            p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=numpy_env())
            (raw / f"numpy-{tag}.log").write_text(p.stdout + "\n--- stderr\n" + p.stderr)
            if p.returncode != 0:
                die(f"numpy run failed on {t['path'].name} (exit {p.returncode})\n{p.stderr[-3000:]}")
            t["rss_numpy"].append(peak_rss_kib(p.stderr))
            t["numpy"].extend(json.loads(np_json.read_text())["times_s"])

    # ---- tables ------------------------------------------------------------------
    rows = []
    md = []
    md.append("# Exact pass and sampling: C++ vs numpy\n")
    md.append(f"Machine: {info['cpu']}, {info['cpus']} CPUs ({info['threads_per_core']} thread/core, "
              f"hypervisor {info['hypervisor']}), L2 {info['l2']}, L3 {info['l3']}, {info['memory']} RAM; "
              f"kernel {info['kernel']}; {info['compiler']} {info['build_type']}; {info['python']}, "
              f"numpy {info['numpy']}.\n")
    md.append(f"Trees: family `random` (N(0,1) logits, binary rewards), seed {args.seed}, beta {args.beta}. "
              f"nodes = internal nodes + leaves (each visited once per pass). Times: min (median) over "
              f"{args.rounds} rounds x {args.repetitions} google-benchmark repetitions (C++) and "
              f"{args.rounds} x {args.numpy_repeats} runs (numpy). GB/s = minimal bytes of the pass / time "
              f"(bench/bench_exact_pass.cpp: 24*V*I + 8*L + 16*I - 8 for logits -> log Z); for numpy "
              f"the same bytes (its real traffic, with temporaries, is higher).\n")
    md.append("## Exact pass (logits -> log Z), same file, same work\n")
    md.append("| tree | leaves | nodes | C++ 1 thread ms | Mnodes/s | GB/s | C++ 2 threads ms | Mnodes/s | GB/s "
              "| numpy ms | Mnodes/s | GB/s | speed-up C++ 1T vs numpy | C++ 2T vs numpy |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

    def cpp_stat(t, name):
        samples = t["cpp"].get(name, [])
        if not samples:
            return None, None
        times = [s for s, _ in samples]
        entry = samples[0][1]
        return summarise(times), entry

    per_node = {}
    ex_bytes = {}
    for t in trees:
        meta = t["meta"]
        nodes = meta["num_internal"] + meta["num_leaves"]
        label = f"V={t['vocab']} T={t['horizon']}"
        ex = {}
        for th in (1, 2):
            s, e = cpp_stat(t, f"exact_pass/threads:{th}")
            ex[th] = (s, per_iteration(e, "bytes_per_second"))
        bytes_pass = ex[1][1]
        ex_bytes[t["path"].name] = bytes_pass
        nps = summarise(t["numpy"])
        cells = [label, f"{meta['num_leaves']:,}", f"{nodes:,}"]
        for th in (1, 2):
            s = ex[th][0]
            cells += [f"{s['min'] * 1e3:.4g} ({s['median'] * 1e3:.4g})", fmt_rate(nodes / s["min"]),
                      f"{bytes_pass / s['min'] / 1e9:.2f}"]
        cells += [f"{nps['min'] * 1e3:.4g} ({nps['median'] * 1e3:.4g})", fmt_rate(nodes / nps["min"]),
                  f"{bytes_pass / nps['min'] / 1e9:.2f}",
                  f"{nps['min'] / ex[1][0]['min']:.2f}x", f"{nps['min'] / ex[2][0]['min']:.2f}x"]
        md.append("| " + " | ".join(cells) + " |")
        per_node[label] = (t["vocab"], nodes, ex[1][0]["min"] / nodes, ex[2][0]["min"] / nodes,
                                    nps["min"] / nodes)
        base = {"tree": t["path"].name, "vocab": t["vocab"], "horizon": t["horizon"],
                "leaves": meta["num_leaves"], "internal": meta["num_internal"], "nodes": nodes,
                "log_z": meta["log_z"], "numpy_log_z_rel_diff": t["numpy_rel_diff"]}
        for name, samples in sorted(t["cpp"].items()):
            s = summarise([x for x, _ in samples])
            e = samples[0][1]
            bench_name, th = name.split("/threads:")
            row = dict(base, impl="cpp", bench=bench_name, threads=int(th), time_min_s=s["min"],
                       time_median_s=s["median"], samples=s["n"],
                       peak_rss_kib=max(x for x in t["rss_cpp"] if x), steps=e.get("steps", ""))
            if bench_name == "sample":
                row["steps_per_s"] = e["steps"] / s["min"]
                row["trajectories_per_s"] = e["trajectories"] / s["min"]
            else:
                row["nodes_per_s"] = nodes / s["min"]
                row["bytes_per_s"] = per_iteration(e, "bytes_per_second") / s["min"]
            rows.append(row)
        rows.append(dict(base, impl="numpy", bench="exact_pass", threads=1, time_min_s=nps["min"],
                         time_median_s=nps["median"], samples=nps["n"], nodes_per_s=nodes / nps["min"],
                         bytes_per_s=bytes_pass / nps["min"],
                         peak_rss_kib=max(x for x in t["rss_numpy"] if x)))

    read_bw = {}
    for th in (1, 2):
        samples = ceilings.get(f"memory_read/threads:{th}", [])
        if samples:
            read_bw[th] = per_iteration(samples[0][1], "bytes_per_second") / min(x for x, _ in samples)
    if len(read_bw) == 2:
        biggest = max(trees, key=lambda t: t["meta"]["num_leaves"])
        fr = []
        for th in (1, 2):
            tmin = min(x for x, _ in biggest["cpp"][f"exact_pass/threads:{th}"])
            fr.append(ex_bytes[biggest["path"].name] / tmin / read_bw[th])
        md.append(f"\nOn {biggest['path'].name} the C++ pass moves its minimal bytes at {100 * fr[0]:.0f}% "
                  f"(1 thread) and {100 * fr[1]:.0f}% (2 threads) of this machine's read bandwidth "
                  f"({read_bw[1] / 1e9:.1f} / {read_bw[2] / 1e9:.1f} GB/s, memory_read below): "
                  + ("it is bound by computation (exp/log), not by memory bandwidth." if max(fr) < 0.5 else
                     "it is close to memory-bound."))

    md.append("\n## log_flows (policy given) and sampling (alias tables built)\n")
    md.append(f"Sampling: {args.samples:,} trajectories per call (AliasSampler::sample), steps = actions drawn.\n")
    md.append("| tree | log_flows 1T Mnodes/s | GB/s | log_flows 2T Mnodes/s | GB/s | sample 1T Msteps/s "
              "| sample 2T Msteps/s |")
    md.append("|---|---:|---:|---:|---:|---:|---:|")
    for t in trees:
        cells = [f"V={t['vocab']} T={t['horizon']}"]
        r = {(x["bench"], x["threads"]): x for x in rows if x["tree"] == t["path"].name and x["impl"] == "cpp"}
        for th in (1, 2):
            x = r[("log_flows", th)]
            cells += [fmt_rate(x["nodes_per_s"]), f"{x['bytes_per_s'] / 1e9:.2f}"]
        for th in (1, 2):
            cells.append(fmt_rate(r[("sample", th)]["steps_per_s"]))
        md.append("| " + " | ".join(cells) + " |")

    md.append("\n## Machine ceilings (same run)\n")
    md.append("| benchmark | 1 thread | 2 threads | 2T / 1T |")
    md.append("|---|---:|---:|---:|")
    for b in CEILING_BENCHES:
        vals = {}
        for th in (1, 2):
            samples = ceilings.get(f"{b}/threads:{th}", [])
            if not samples:
                continue
            s = summarise([x for x, _ in samples])
            e = samples[0][1]
            row = {"impl": "cpp", "bench": b, "threads": th, "time_min_s": s["min"],
                   "time_median_s": s["median"], "samples": s["n"]}
            if b == "fork_join":
                vals[th] = s["min"]
            elif b == "compute_exp":
                vals[th] = row["items_per_s"] = per_iteration(e, "items_per_second") / s["min"]
            else:
                vals[th] = row["bytes_per_s"] = per_iteration(e, "bytes_per_second") / s["min"]
            rows.append(row)
        if len(vals) < 2:
            continue
        if b == "fork_join":
            md.append(f"| fork_join (one empty parallel region) | {vals[1] * 1e6:.2f} us | {vals[2] * 1e6:.2f} us "
                      f"| {vals[2] / vals[1]:.0f} |")
        else:
            unit = (1e6, "M exp/s") if b == "compute_exp" else (1e9, "GB/s")
            md.append(f"| {b} | {vals[1] / unit[0]:.2f} {unit[1]} | {vals[2] / unit[0]:.2f} {unit[1]} "
                      f"| {vals[2] / vals[1]:.2f} |")
    # Whether the 2 vCPUs ran in parallel during each round (a shared host may not let them).
    per_round = []
    for r, rc in enumerate(ceiling_rounds):
        try:
            e1 = min(x for x, _ in rc["compute_exp/threads:1"])
            e2 = min(x for x, _ in rc["compute_exp/threads:2"])
            fj = min(x for x, _ in rc["fork_join/threads:2"])
            per_round.append(f"round {r + 1}: load average {round_load[r]:.2f}, compute_exp 2T/1T "
                             f"{e1 / e2:.2f}, fork/join {fj * 1e6:.0f} us")
        except (KeyError, ValueError):
            pass
    if per_round:
        md.append("\nPer round (2T/1T near 2 and fork/join of a few us: the 2 vCPUs ran in parallel): "
                  + "; ".join(per_round) + ".")

    md.append("\n## Cost per node (linear in nodes: constant within one vocab)\n")
    md.append("| tree | nodes | C++ 1T ns/node | C++ 2T ns/node | numpy ns/node |")
    md.append("|---|---:|---:|---:|---:|")
    for name, (v, nodes, a, b, c) in per_node.items():
        md.append(f"| {name} | {nodes:,} | {a * 1e9:.1f} | {b * 1e9:.1f} | {c * 1e9:.1f} |")
    by_vocab = {}
    for name, (v, nodes, a, b, c) in per_node.items():
        by_vocab.setdefault(v, []).append((nodes, a, b, c))
    for v, xs in sorted(by_vocab.items()):
        if len(xs) < 2:
            continue
        xs.sort()
        lo, hi = xs[0], xs[-1]
        growth = [hi[k] / lo[k] for k in (1, 2, 3)]
        md.append(f"\nV={v}: {hi[0] / lo[0]:.1f}x the nodes costs {growth[0] * hi[0] / lo[0]:.1f}x the time "
                  f"(C++ 1 thread; per-node cost ratio {growth[0]:.2f}), C++ 2 threads per-node ratio "
                  f"{growth[1]:.2f}, numpy {growth[2]:.2f}: "
                  + ("linear within 30%." if all(0.7 < g < 1.3 for g in growth[:1]) else
                     "NOT linear within 30% (C++ 1 thread)."))

    md.append("\n## Memory\n")
    md.append("| tree | leaves | C++ peak RSS MiB | bytes/leaf | C++ exact-pass working set bytes/leaf "
              "| numpy peak RSS MiB | bytes/leaf |")
    md.append("|---|---:|---:|---:|---:|---:|---:|")
    for t in trees:
        L = t["meta"]["num_leaves"]
        c = max(x for x in t["rss_cpp"] if x)
        n = max(x for x in t["rss_numpy"] if x)
        ws = int(t["context"].get("max_rss_kib_exact_pass", "0"))
        md.append(f"| V={t['vocab']} T={t['horizon']} | {L:,} | {c / 1024:.0f} | {c * 1024 / L:.1f} "
                  f"| {ws * 1024 / L:.1f} | {n / 1024:.0f} | {n * 1024 / L:.1f} |")
    md.append("\nC++ peak RSS: the whole timing process (tree, reference policy, alias tables, one pass's "
              "outputs). Working set: peak after loading + reference policy + the validation passes, before "
              "the alias tables (`max_rss_kib_exact_pass` in the JSON context).\n")
    md.append("## Validation\n")
    for t in trees:
        md.append(f"- {t['path'].name}: log Z = {t['meta']['log_z']!r} (C++), numpy relative difference "
                  f"{t['numpy_rel_diff']:.2g} (limit 1e-9); C++ 1 thread == 2 threads bit for bit.")
    md.append("\nThe speed-ups are numpy time / C++ time (minima), on the same tree file and the same "
              "work (logits -> log-softmax -> flows -> log Z).\n")
    md.append("## Commands\n")
    md.append(f"Trees written by {', '.join(sorted({t['generator'] for t in trees}))} "
              f"(`--family random --set vocab=V --set horizon=T --seed {args.seed}`). Timing runs (first round):\n")
    md.append("```")
    for c in commands:
        md.append(" ".join(shlex.quote(str(x)) for x in c))
    md.append("```")
    text = "\n".join(md) + "\n"
    write_text(out / "results.md", text)
    keys = []
    for row in rows:
        for k in row:
            if k not in keys:
                keys.append(k)
    table = io.StringIO()
    w = csv.DictWriter(table, fieldnames=keys)
    w.writeheader()
    w.writerows(rows)
    write_text(out / "results.csv", table.getvalue(), newline="")
    if not args.keep_trees:
        shutil.rmtree(trees_dir, ignore_errors=True)
    print(text)
    print(f"wrote {out / 'results.md'}, {out / 'results.csv'}, {out / 'machine.txt'}, {raw}/", file=sys.stderr)


if __name__ == "__main__":
    main()
