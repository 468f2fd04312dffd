"""The models of issue "Any model ..., part 1" side by side with JAX, in one run: the MNIST
softmax regression's F and ∇F over 60,000 images with integer labels, a Gaussian
process regression's F and ∇F at n = 2,000 (Cholesky, triangular solve, log-determinant),
and an embedding lookup's F and ∇F (512 ids into a table of 10^4 and 10^6 rows of 64),
each peer setting up the same parameters and data (examples/bench_models.rs,
benches/compare/jax_models.py), alternating peer by peer, round after round; every peer's F
must agree with symgrad's. Prints the table and, unless --no-write, writes it with the date,
machine and versions into docs/PERFORMANCE.md between the `models:` markers.

    python3 benches/compare/models.py [--rounds 5] [--no-write]

Set-up included: a venv under target/compare-venv with numpy and jax (the one compare.py
uses), and a release build of the example.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.join(ROOT, "benches", "compare")
VENV = os.path.join(ROOT, "target", "compare-venv")
PY = os.path.join(VENV, "bin", "python")
PERF = os.path.join(ROOT, "docs", "PERFORMANCE.md")
TOL = {"float32": 1e-4, "float64": 1e-9}


def sh(cmd):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, cwd=ROOT, text=True, stdout=subprocess.PIPE).stdout


def setup():
    if not os.path.exists(PY):
        sh([sys.executable, "-m", "venv", VENV])
    sh([PY, "-m", "pip", "install", "-q", "numpy", "jax"])
    sh(["cargo", "build", "-q", "--release", "--example", "bench_models"])


def example():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "release", "examples", "bench_models")


def run(peer, model, dtype, reps, n):
    common = ["--model", model, "--dtype", dtype, "--reps", str(reps), "--n", str(n)]
    cmd = [example()] + common if peer == "symgrad" else \
        [PY, os.path.join(HERE, "jax_models.py"), "--threads", "2"] + common
    out = sh(cmd)
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--reps", type=int, default=9)
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args()
    setup()
    rows, versions = [], {}
    cases = [("softmax", 60000), ("gp", 2000), ("embedding", 10000), ("embedding", 1000000)]
    for model, n in cases:
        for dtype in ["float32", "float64"]:
            ms = {"symgrad": [], "jax": []}
            fs = {}
            for _ in range(a.rounds):
                for peer in ["symgrad", "jax"]:
                    r = run(peer, model, dtype, a.reps, n)
                    ms[peer].append(r["ms"])
                    fs[peer] = r["f"]
                    if "version" in r:
                        versions[peer] = r["version"]
            rel = abs(fs["jax"] - fs["symgrad"]) / max(abs(fs["symgrad"]), 1e-30)
            if rel > TOL[dtype]:
                sys.exit(f"{model} {dtype}: F disagrees: symgrad {fs['symgrad']}, jax {fs['jax']}")
            s, j = statistics.median(ms["symgrad"]), statistics.median(ms["jax"])
            rows.append((model, n, dtype, s, j, s / j, fs["symgrad"], rel))
    head = ("| model | n | dtype | symgrad ms | JAX ms | symgrad / JAX | F | F rel. diff |\n"
            "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n")
    body = "".join(f"| {m} | {n:,} | {d} | {s:.3g} | {j:.3g} | {r:.2f}x | {f:.6g} | {e:.1e} |\n"
                   for m, n, d, s, j, r, f, e in rows)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    note = (f"Measured {datetime.date.today()} on {cpu}, {os.cpu_count()} cores, JAX "
            f"{versions.get('jax', '?')}, by `python3 benches/compare/models.py --rounds "
            f"{a.rounds}` (medians of {a.rounds} rounds, each the median of {a.reps} calls; "
            f"n: images, GP points, embedding table rows).\n\n")
    table = note + head + body
    print(table)
    if not a.no_write:
        with open(PERF) as f:
            text = f.read()
        start, end = "<!-- models: begin -->\n", "<!-- models: end -->"
        i, k = text.find(start), text.find(end)
        if i < 0 or k < 0:
            sys.exit("docs/PERFORMANCE.md has no models: markers")
        text = text[:i + len(start)] + table + text[k:]
        with open(PERF, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
