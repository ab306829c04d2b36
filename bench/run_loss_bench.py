#!/usr/bin/python3
"""Loss heads: the LibTorch adapter against the same formulas as eager torch ops, side by side.

    /usr/bin/python3 bench/run_loss_bench.py [--build-dir build] [--out results/bench]
        [--threads 1] [--rows 256] [--columns 4096] [--repetitions 5] [--min-time 0.5]

Needs the target built first (LibTorch found, DISA_TORCH ON; the default preset does):
    cmake --preset default && ninja -C build bench_loss_heads

For each --threads value (comma-separated), with OMP_NUM_THREADS, MKL_NUM_THREADS and
torch's intra-op threads all pinned to it:
  1. bench_loss_heads --validate-only: both implementations must agree with the float64
     formula (the program exits 1 otherwise, and so does this script);
  2. bench_loss_heads with --benchmark_repetitions: ours/<head> (adapter forward +
     backward), head/<head> (compute_loss alone), torch/<head> (eager ops + autograd),
     stream/<k> (the machine's bandwidth for k reads + 1 write of the same arrays).
Each time is the minimum over repetitions (the least disturbed run; the machine is
shared), with the median beside it. speed-up = torch time / ours time.

Writes --out/loss_heads.csv, loss_heads.md, loss_heads_machine.txt and
loss_heads_raw/ (JSON and logs); prints loss_heads.md. Exit 1 when validation or a
run fails, 2 on a usage error.
"""
import argparse
import csv
import io
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plots"))
from atomic_output import write_text  # noqa: E402  (plots/atomic_output.py: temp file + rename)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
HEADS = ["tb", "flowrl", "grpo", "gspo", "sft", "kl"]
HEAD_OPTIONS = {"tb": "beta 1, no weight", "flowrl": "weight_clip max10", "grpo": "token-mean, k3 KL 0.001",
                "gspo": "clip 3e-4/4e-4", "sft": "threshold 0.5", "kl": "k3, token-mean"}
TIME_UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def die(msg, code=1):
    print(f"run_loss_bench: {msg}", file=sys.stderr)
    sys.exit(code)


def run(cmd, env, log):
    p = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True)
    Path(log).write_text(f"$ {' '.join(map(str, cmd))}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
    if p.returncode != 0:
        die(f"command failed (exit {p.returncode}): {' '.join(map(str, cmd))}\n{p.stdout[-2000:]}{p.stderr[-4000:]}")
    return p.stdout


def machine():
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip() or str(os.cpu_count())
    mem = ""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    return {"cpu": model, "nproc": nproc, "memory": mem, "kernel": platform.release(),
            "load_average_1min": f"{os.getloadavg()[0]:.2f}"}


def entries(path):
    doc = json.loads(Path(path).read_text())
    out = {}
    for b in doc["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        name = b["run_name"].replace("/real_time", "")
        out.setdefault(name, []).append((b["real_time"] * TIME_UNIT[b["time_unit"]], b))
    return doc.get("context", {}), out


def stat(samples):
    times = sorted(t for t, _ in samples)
    entry = samples[0][1]
    bytes_per_iter = entry.get("bytes_per_second", 0) * entry["real_time"] * TIME_UNIT[entry["time_unit"]]
    return {"min": times[0], "median": statistics.median(times), "n": len(times), "bytes": bytes_per_iter}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=str(REPO / "build"))
    ap.add_argument("--out", default=str(REPO / "results" / "bench"))
    ap.add_argument("--threads", default="1", help="comma-separated thread counts, e.g. 1,2")
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--columns", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.5)
    args = ap.parse_args()
    try:
        thread_counts = [int(x) for x in args.threads.split(",")]
    except ValueError:
        die(f"--threads: expected integers, got '{args.threads}'", 2)
    for name in ("rows", "columns", "repetitions"):
        if getattr(args, name) < 1:
            die(f"--{name}: must be >= 1, got {getattr(args, name)}", 2)
    if min(thread_counts) < 1:
        die(f"--threads: every count must be >= 1, got '{args.threads}'", 2)
    if not args.min_time > 0:
        die(f"--min-time: must be > 0, got {args.min_time}", 2)

    bench = Path(args.build_dir).resolve() / "bin" / "bench_loss_heads"
    if not bench.exists():
        die(f"{bench} not built; run: ninja -C {args.build_dir} bench_loss_heads", 2)
    out = Path(args.out).resolve()
    raw = out / "loss_heads_raw"
    raw.mkdir(parents=True, exist_ok=True)
    info = machine()
    write_text(out / "loss_heads_machine.txt", json.dumps(info, indent=1) + "\n")
    machine_line = (f"Machine: {info['cpu']}, nproc {info['nproc']}, {info['memory']}, kernel {info['kernel']}; "
                    f"1-min load average {info['load_average_1min']} at the start (other work shares it).")
    print(machine_line, file=sys.stderr)

    ours_args = [f"--rows={args.rows}", f"--columns={args.columns}", f"--seed={args.seed}"]
    rows, md, commands = [], [], []
    md.append("# Loss heads: forward + backward, ours (LibTorch adapter) vs eager LibTorch ops\n")
    md.append(machine_line + "\n")
    validation = {}
    results = {}
    for th in thread_counts:
        env = dict(os.environ, OMP_NUM_THREADS=str(th), MKL_NUM_THREADS=str(th))
        cmd = [bench, *ours_args, f"--threads={th}", "--validate-only"]
        validation[th] = json.loads(run(cmd, env, raw / f"validate-t{th}.log"))
        if not validation[th]["ok"]:
            die(f"validation failed at {th} threads: {validation[th]}")
        out_json = raw / f"bench-t{th}.json"
        cmd = [bench, *ours_args, f"--threads={th}", f"--benchmark_repetitions={args.repetitions}",
               f"--benchmark_min_time={args.min_time}", "--benchmark_out_format=json",
               f"--benchmark_out={out_json}"]
        commands.append(" ".join(shlex.quote(str(c)) for c in ["OMP_NUM_THREADS=" + str(th), *cmd]))
        print(f"timing at {th} thread(s) ...", file=sys.stderr)
        run(cmd, env, raw / f"bench-t{th}.log")
        context, e = entries(out_json)
        results[th] = (context, {name: stat(s) for name, s in e.items()})

    v0 = validation[thread_counts[0]]
    B, T, N = v0["rows"], v0["columns"], v0["valid_tokens"]
    md.append(f"Batch: B = {B} sequences x T = {T} padded tokens, float32, CPU; {N:,} valid tokens "
              f"({100 * N / (B * T):.0f}% of B x T: log-normal lengths, median T/4, ~5% truncated at T), groups of 8. "
              f"Time per forward + backward: minimum (median) over {args.repetitions} repetitions. "
              f"**ours** = `disa::llm::loss(...)` + `loss.backward()` (the head inside a `torch::autograd::Function`); "
              f"**head** = `compute_loss<float>` alone; **torch** = the same formula as eager LibTorch ops "
              f"(tests/torch/loss_torch_reference.cpp) + `loss.backward()`. "
              f"GB/s = the head's minimal traffic / ours time (mask and d/dlogp over B x T, the other token "
              f"inputs over valid tokens; bench/bench_loss_heads.cpp). Stream = `out = a + b (+ c + d)` over the "
              f"same B x T arrays: the machine's bandwidth for that access pattern; % of stream = ours GB/s over the "
              f"4-reads stream.\n")
    for th in thread_counts:
        context, r = results[th]
        md.append(f"\n## {th} thread{'s' if th > 1 else ''} (OMP_NUM_THREADS={th}, at::set_num_threads({th}); "
                  f"torch reports {context.get('torch_threads', '?')})\n")
        md.append("| head | options | ours ms | head only ms | torch eager ms | speed-up (torch / ours) "
                  "| ours GB/s | % of stream | max rel. error ours / torch vs float64 |")
        md.append("|---|---|---:|---:|---:|---:|---:|---:|---|")
        stream4 = r.get("stream/4")
        ceiling = stream4["bytes"] / stream4["min"] if stream4 else None
        for h in HEADS:
            o, hd, t = r[f"ours/{h}"], r[f"head/{h}"], r[f"torch/{h}"]
            val = validation[th]["heads"][h]
            eo, et = max(val["ours_error"]), max(val["torch_error"])
            pct = "" if ceiling is None else f"{100 * o['bytes'] / o['min'] / ceiling:.0f}%"
            md.append(f"| {h} | {HEAD_OPTIONS[h]} | {o['min'] * 1e3:.2f} ({o['median'] * 1e3:.2f}) "
                      f"| {hd['min'] * 1e3:.2f} ({hd['median'] * 1e3:.2f}) "
                      f"| {t['min'] * 1e3:.2f} ({t['median'] * 1e3:.2f}) | {t['min'] / o['min']:.1f}x "
                      f"| {o['bytes'] / o['min'] / 1e9:.2f} "
                      f"| {pct} "
                      f"| {eo:.1e} / {et:.1e} |")
            for impl, s in (("ours", o), ("head", hd), ("torch", t)):
                rows.append({"threads": th, "head": h, "options": HEAD_OPTIONS[h], "impl": impl,
                             "time_min_s": s["min"], "time_median_s": s["median"], "repetitions": s["n"],
                             "bytes": s["bytes"], "gb_per_s": s["bytes"] / s["min"] / 1e9,
                             "speedup_vs_torch": t["min"] / s["min"], "rows": B, "columns": T, "valid_tokens": N,
                             "error_vs_float64": eo if impl != "torch" else et})
        streams = []
        for k in (2, 4):
            s = r.get(f"stream/{k}")
            if s:
                streams.append(f"{k} reads + 1 write {s['bytes'] / s['min'] / 1e9:.2f} GB/s")
                rows.append({"threads": th, "head": f"stream/{k}", "impl": "stream", "time_min_s": s["min"],
                             "time_median_s": s["median"], "repetitions": s["n"], "bytes": s["bytes"],
                             "gb_per_s": s["bytes"] / s["min"] / 1e9, "rows": B, "columns": T})
        md.append(f"\nStream ceiling at {th} thread(s): " + "; ".join(streams) + ".")
    md.append("\n## Commands\n")
    md.append("```")
    md.extend(commands)
    md.append("```")
    text = "\n".join(md) + "\n"
    write_text(out / "loss_heads.md", text)
    keys = []
    for row in rows:
        for k in row:
            if k not in keys:
                keys.append(k)
    table = io.StringIO()
    w = csv.DictWriter(table, fieldnames=keys)
    w.writeheader()
    w.writerows(rows)
    write_text(out / "loss_heads.csv", table.getvalue(), newline="")
    print(text)
    print(f"wrote {out / 'loss_heads.md'}, {out / 'loss_heads.csv'}, {out / 'loss_heads_machine.txt'}, {raw}/",
          file=sys.stderr)


if __name__ == "__main__":
    main()
