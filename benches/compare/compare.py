"""Workload W side by side: symgrad against JAX, hand-written numpy, PyTorch (eager), PyTensor
and candle, and
against the GEMM ceiling of the products W needs (the gemm crate, OpenBLAS, and XLA through
JAX), in one run,
alternating peer by peer, round after round. Every peer reads the same parameters and data,
and every peer's F must agree with symgrad's. Writes the table, with the date, machine and
versions, into docs/PERFORMANCE.md (between the `compare:` markers) unless --no-write.

One command does everything, including the set-up (a venv under target/ with numpy,
threadpoolctl, jax, pytensor and torch, about 6 GB with torch's CUDA libraries; release
builds of symgrad's examples and of the candle program):

    python3 benches/compare/compare.py [--rounds 5] [--scaling] [--no-write]

--scaling also records time per call against batch (100, 1000, 10000) and threads (1, 2) for
symgrad and JAX. PyTorch comes from PyPI (its CPU-only wheel index is not reachable here), so
it is the CUDA build, run on the CPU.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.join(ROOT, "benches", "compare")
VENV = os.path.join(ROOT, "target", "compare-venv")
PY = os.path.join(VENV, "bin", "python")
INPUTS = os.path.join(ROOT, "target", "compare", "inputs")
CANDLE_TARGET = os.path.join(ROOT, "target", "compare-candle")
CANDLE = os.path.join(CANDLE_TARGET, "release", "candle_ae")
EX = os.path.join(ROOT, "target", "release", "examples")
PERF = os.path.join(ROOT, "docs", "PERFORMANCE.md")
PEERS = ["symgrad", "jax", "numpy", "pytorch", "pytensor", "candle", "gemm-crate", "gemm-openblas",
         "gemm-xla"]
# F must agree with symgrad's to this relative tolerance (the peers sum in other orders).
TOL = {"float32": 2e-5, "float64": 1e-10}


def sh(cmd, env=None, quiet=False):
    if not quiet:
        print("+", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, cwd=ROOT, env=env, text=True,
                          stdout=subprocess.PIPE).stdout


def setup():
    if not os.path.exists(PY):
        sh([sys.executable, "-m", "venv", VENV])
    # torch from PyPI brings its CUDA libraries: the venv grows to about 6 GB.
    sh([PY, "-m", "pip", "install", "-q", "numpy", "threadpoolctl", "jax", "pytensor", "torch"])
    sh(["cargo", "build", "-q", "--release", "--example", "bench_w", "--example",
        "gemm_ceiling", "--example", "first_call", "--example", "memory_w"])
    sh(["cargo", "build", "-q", "--release", "--manifest-path",
        os.path.join(HERE, "candle_ae", "Cargo.toml"), "--target-dir", CANDLE_TARGET])
    if not os.path.exists(os.path.join(INPUTS, "data.npy")):
        sh([PY, os.path.join(HERE, "common.py"), INPUTS])


def command(peer, batch, threads, reps):
    common = ["--inputs", INPUTS, "--batch", str(batch), "--threads", str(threads),
              "--reps", str(reps)]
    py = {"jax": "jax_ae.py", "numpy": "numpy_ae.py", "pytensor": "pytensor_ae.py",
          "pytorch": "torch_ae.py", "gemm-openblas": "gemm_ceiling.py", "gemm-xla": "jax_gemm.py"}
    if peer == "symgrad":
        cmd = [os.path.join(EX, "bench_w")] + common
    elif peer == "gemm-crate":
        cmd = [os.path.join(EX, "gemm_ceiling"), "--batch", str(batch), "--reps", str(reps)]
    elif peer == "candle":
        cmd = [CANDLE] + common
    else:
        cmd = [PY, os.path.join(HERE, py[peer])] + common
    if threads == 1:
        cmd = ["taskset", "-c", "0"] + cmd
    return cmd


def run_peer(peer, batch, threads, reps):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads), PYTHONPATH=HERE)
    out = sh(command(peer, batch, threads, reps), env=env, quiet=True)
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def rounds(peers, batch, threads, reps, n):
    """{(peer, dtype): [records]} over n rounds, peers alternating within each round."""
    got = {}
    for r in range(n):
        for p in peers:
            for rec in run_peer(p, batch, threads, reps):
                rec["round"] = r
                got.setdefault((p, rec["dtype"]), []).append(rec)
        print(f"round {r + 1}/{n} done", file=sys.stderr, flush=True)
    return got


def med(recs, key="ms"):
    return statistics.median(r.get(key, 0.0) for r in recs)


def first_call_s(n=5):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([os.path.join(EX, "first_call")], check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, RAYON_NUM_THREADS="2"))
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def machine():
    cpu = "unknown cpu"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    rustc = subprocess.run(["rustc", "--version"], text=True, stdout=subprocess.PIPE).stdout.strip()
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; {rustc}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--scaling", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    setup()
    got = rounds(PEERS, 1000, 2, a.reps, a.rounds)
    raw = os.path.join(ROOT, "target", "compare", "last.json")
    with open(raw, "w") as f:
        json.dump([r for recs in got.values() for r in recs], f)
    lines = []
    today = datetime.date.today().isoformat()
    lines.append(f"Measured {today} by `python3 benches/compare/compare.py --rounds {a.rounds}"
                 f"{' --scaling' if a.scaling else ''}`: {machine()}. Batch 1000, 2 threads, "
                 f"median of {a.reps} calls after a warm-up per process, median over "
                 f"{a.rounds} alternating rounds.")
    lines.append("")
    versions = {p: got.get((p, "float32"), [{}])[0].get("version", "") for p in PEERS}
    ok = True
    rows = []
    for dt in ("float32", "float64"):
        base = got[("symgrad", dt)]
        fs = med(base, "f")
        for p in PEERS:
            recs = got.get((p, dt))
            if not recs:
                continue
            f = med(recs, "f")
            agree = "—" if p.startswith("gemm") else (
                "yes" if abs(f - fs) <= TOL[dt] * abs(fs) else "NO")
            if agree == "NO":
                ok = False
            rows.append((dt, p, med(recs), med(base) / med(recs), f, agree,
                         min(r["ms"] for r in recs), max(r["ms"] for r in recs)))
    lines.append("| dtype | system | median ms | symgrad / system | F | F agrees | range over rounds |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for dt, p, ms, ratio, f, agree, lo, hi in rows:
        name = {"gemm-crate": "GEMM ceiling: the 23 products alone, gemm crate",
                "gemm-openblas": "GEMM ceiling: the 23 products alone, OpenBLAS",
                "gemm-xla": "GEMM ceiling: the 23 products alone, XLA (JAX)"}.get(p, p)
        fcol = "" if p.startswith("gemm") else f"{f:.6f}"
        lines.append(f"| {dt} | {name} | {ms:.1f} | {ratio:.2f} | {fcol} | {agree} | {lo:.1f}–{hi:.1f} |")
    lines.append("")
    # Targets.
    t = {}
    for dt in ("float32", "float64"):
        s = med(got[("symgrad", dt)])
        jx = med(got[("jax", dt)]) if ("jax", dt) in got else float("nan")
        ceil = min(med(got[(p, dt)]) for p in ("gemm-crate", "gemm-openblas", "gemm-xla")
                   if (p, dt) in got)
        t[dt] = (s / jx, ceil / s)
    # The ratio round by round: the two systems ran minutes apart at most within a round,
    # so these show how often the target holds, not only whether the medians meet it.
    per_round = {}
    for dt in ("float32", "float64"):
        js = {b["round"]: b["ms"] for b in got.get(("jax", dt), [])}
        per_round[dt] = [a["ms"] / js[a["round"]] for a in got[("symgrad", dt)]
                         if a["round"] in js]
    compile_ms = med(got[("symgrad", "float32")], "compile_ms")
    jax_compile = med(got[("jax", "float32")], "compile_ms") if ("jax", "float32") in got else float("nan")
    pyt_compile = med(got[("pytensor", "float32")], "compile_ms") if ("pytensor", "float32") in got else float("nan")
    first = first_call_s()
    mem = sh([os.path.join(EX, "memory_w")], quiet=True)
    m = re.search(r"all rewrites, fusion, in place\s*:.*?= ([0-9.]+)x needed", mem)
    mem_ratio = float(m.group(1)) if m else float("nan")

    def mark(good):
        return "met" if good else "**not met**"

    lines.append("| target | measured | |")
    lines.append("| --- | --- | --- |")
    for dt in ("float32", "float64"):
        pr = per_round[dt]
        held = sum(r <= 0.95 for r in pr)
        by_round = (f" (round by round {min(pr):.2f}–{max(pr):.2f}, ≤ 0.95 in {held} of {len(pr)})"
                    if pr else "")
        lines.append(f"| symgrad ≤ 0.95 × JAX, {dt} | {t[dt][0]:.2f} ×{by_round} | {mark(t[dt][0] <= 0.95)} |")
    for dt in ("float32", "float64"):
        lines.append(f"| ≥ 90% of the GEMM ceiling, {dt} (ceiling time / symgrad time) | {100 * t[dt][1]:.0f}% | {mark(t[dt][1] >= 0.9)} |")
    lines.append(f"| compile of W's F and ∇F < 20 ms (JAX: first call minus a steady one; PyTensor: `function`) | {compile_ms:.2f} ms (JAX {jax_compile:.0f} ms, PyTensor {pyt_compile:.0f} ms) | {mark(compile_ms < 20)} |")
    lines.append(f"| process start to first F and ∇F < 0.3 s (`examples/first_call`, median of 5) | {first:.3f} s | {mark(first < 0.3)} |")
    lines.append(f"| peak memory ≤ 1.2 × (params + gradient + batch + activations) (`examples/memory_w`) | {mem_ratio:.2f} × | {mark(mem_ratio <= 1.2)} |")
    lines.append("")
    # How much of each call is products: a call can be 0.95 of JAX's time only if it is
    # that much faster than JAX's products alone, or JAX's call is slower than its products.
    for dt in ("float32", "float64"):
        if ("jax", dt) in got and ("gemm-xla", dt) in got and ("gemm-crate", dt) in got:
            jx, xla = med(got[("jax", dt)]), med(got[("gemm-xla", dt)])
            s, crate = med(got[("symgrad", dt)]), med(got[("gemm-crate", dt)])
            lines.append(f"{dt}: JAX's call takes {jx / xla:.2f} × its 23 products alone "
                         f"through XLA; symgrad's call {s / crate:.2f} × its products alone "
                         f"through the gemm crate; 0.95 × JAX's call is {0.95 * jx / crate:.2f} "
                         f"× the gemm crate's products alone.")
    lines.append("")
    lines.append("Versions: " + "; ".join(f"{p} {v}" for p, v in versions.items() if v) + ".")
    if a.scaling:
        lines.append("")
        lines.append("Scaling (median ms per call, 1 round; 1 thread pinned with `taskset -c 0`):")
        lines.append("")
        lines.append("| dtype | batch | threads | symgrad | JAX | symgrad / JAX |")
        lines.append("| --- | --- | --- | --- | --- | --- |")
        for batch in (100, 1000, 10000):
            for threads in (1, 2):
                reps = 5 if batch == 10000 else a.reps
                s = {r["dtype"]: r["ms"] for r in run_peer("symgrad", batch, threads, reps)}
                j = {r["dtype"]: r["ms"] for r in run_peer("jax", batch, threads, reps)}
                for dt in ("float32", "float64"):
                    lines.append(f"| {dt} | {batch} | {threads} | {s[dt]:.1f} | {j[dt]:.1f} | {s[dt] / j[dt]:.2f} |")
    text = "\n".join(lines)
    print(text)
    if not ok:
        print("\nF DISAGREES for some peer: not written.", file=sys.stderr)
        sys.exit(1)
    if not a.no_write:
        doc = open(PERF).read()
        begin, end = "<!-- compare:begin -->", "<!-- compare:end -->"
        if begin not in doc:
            raise SystemExit(f"{PERF} has no {begin} marker")
        head, rest = doc.split(begin, 1)
        _, tail = rest.split(end, 1)
        tmp = PERF + ".tmp"
        with open(tmp, "w") as f:
            f.write(head + begin + "\n" + text + "\n" + end + tail)
        os.replace(tmp, PERF)
        print(f"\nwritten to {PERF}", file=sys.stderr)


if __name__ == "__main__":
    main()
