"""Is symgrad slower than the figures recorded in docs/PERFORMANCE.md? Runs workload W (F and
∇F, batch 1000, f32 and f64, 2 threads) and the compile of W, three times each, and the
elementwise kernels' and fused steps' criterion bench (`cargo bench --bench elementwise`,
its medians) and the fixed cost of small calls (`cargo bench --bench call_overhead`), and
the heap at the peak of one W call (`examples/memory_w`, f32, every rewrite), and compares
them with benches/recorded.json (the figures PERFORMANCE.md reports). Prints one
line per figure and exits with status 1 if any is more than 10% slower than recorded.

    python3 benches/check_regression.py [--tolerance 0.10] [--no-kernels] [--record]

--record writes today's figures into benches/recorded.json instead (do it when
PERFORMANCE.md's figures are updated, in the same commit). --no-kernels skips the kernels
and the small calls
(about two minutes). No dependencies beyond Python 3 and cargo. The machine's second core is
shared: a lone "regression" of 10-20% that does not repeat on a second run is noise (see
PERFORMANCE.md).

Figures are recorded per machine, named by the processor's model and its widest vector
instructions (say "AMD EPYC, AVX-512"): the same code runs at other speeds elsewhere, so it is
compared only with what was recorded on the same kind of machine. On a machine with no
figures yet, it says so and exits with status 2 (run --record there first).
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
RECORDED = os.path.join(ROOT, "benches", "recorded.json")


def measure(runs):
    subprocess.run(["cargo", "build", "-q", "--release", "--example", "bench_w"], cwd=ROOT,
                   check=True)
    exe = os.path.join(ROOT, "target", "release", "examples", "bench_w")
    got = {}
    for _ in range(runs):
        out = subprocess.run([exe, "--json", "--reps", "15"], cwd=ROOT, check=True, text=True,
                             stdout=subprocess.PIPE, env=dict(os.environ, RAYON_NUM_THREADS="2")).stdout
        for line in out.splitlines():
            r = json.loads(line)
            tag = "f32" if r["dtype"] == "float32" else "f64"
            got.setdefault(f"w_{tag}_ms", []).append(r["ms"])
            got.setdefault(f"w_compile_{tag}_ms", []).append(r["compile_ms"])
    return {k: statistics.median(v) for k, v in got.items()}


def measure_memory():
    """MB of heap at the peak of one steady-state W call (f32, every rewrite on), from
    examples/memory_w; more is worse, as with the times."""
    subprocess.run(["cargo", "build", "-q", "--release", "--example", "memory_w"], cwd=ROOT,
                   check=True)
    exe = os.path.join(ROOT, "target", "release", "examples", "memory_w")
    out = subprocess.run([exe], cwd=ROOT, check=True, text=True, stdout=subprocess.PIPE,
                         env=dict(os.environ, RAYON_NUM_THREADS="2")).stdout
    m = re.search(r"all rewrites, fusion, in place\s*:.*?peak\s+([0-9.]+) MB", out)
    if not m:
        sys.exit(f"memory_w printed no peak for the fused build:\n{out}")
    return {"w_peak_heap_f32_mb": float(m.group(1))}


# The elementwise bench's cases that PERFORMANCE.md records: criterion's directory of each,
# under target/criterion/{group}_{f32,f64}/.
KERNELS = [("unary_1e6", c) for c in
           ["exp", "expm1", "log", "sigmoid", "softplus", "tanh", "powi/2", "powi/3", "powi/-1"]]
KERNELS += [("fused_1e6", c) for c in ["mul", "sigmoid_backward", "bias_sigmoid"]]


def criterion_medians(bench, cases):
    """Runs `cargo bench --bench BENCH` and returns criterion's median (ns) of each case,
    named by its directory under target/criterion/."""
    run = subprocess.run(["cargo", "bench", "-q", "--bench", bench, "--", "--noplot"],
                         cwd=ROOT, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=dict(os.environ, RAYON_NUM_THREADS="2"))
    if run.returncode != 0:
        sys.exit(f"cargo bench --bench {bench} failed:\n{run.stderr}")
    got = {}
    for case in cases:
        path = os.path.join(ROOT, "target", "criterion", *case.split("/"), "new",
                            "estimates.json")
        with open(path) as f:
            got[case] = json.load(f)["median"]["point_estimate"]
    return got


def measure_kernels():
    """criterion's median (ms) of each recorded case of the elementwise bench."""
    names = {}
    for tag in ("f32", "f64"):
        for group, case in KERNELS:
            prefix = "kernel" if group == "unary_1e6" else "fused"
            names[f"{group}_{tag}/{case}"] = f"{prefix}_{case.replace('/', '_')}_{tag}_ms"
    ns = criterion_medians("elementwise", names)
    return {names[case]: v / 1e6 for case, v in ns.items()}


def measure_calls():
    """criterion's median (µs) of each case of the call-overhead bench."""
    cases = ["scalar_expression", "logistic_regression_32"]
    ns = criterion_medians("call_overhead", [f"call_overhead/{c}" for c in cases])
    return {f"call_{c}_us": ns[f"call_overhead/{c}"] / 1e3 for c in cases}


def machine():
    """The processor's model name and its widest vector instructions (Linux /proc/cpuinfo;
    elsewhere, Python's idea of the processor)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    widest = next((name for flag, name in [("avx512f", "AVX-512"), ("avx2", "AVX2"),
                                           ("sse2", "SSE2")] if flag in flags), None)
    return f"{model}, {widest}" if widest else model


def load_recorded():
    """{machine: {figure: value}}, empty if nothing is recorded yet."""
    if not os.path.exists(RECORDED):
        return {}
    with open(RECORDED) as f:
        return json.load(f)["machines"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tolerance", type=float, default=0.10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--no-kernels", action="store_true")
    a = ap.parse_args()
    here = machine()
    machines = load_recorded()
    if not a.record and here not in machines:
        known = ", ".join(repr(m) for m in sorted(machines)) or "none"
        print(f"no figures recorded for this machine ({here!r}; recorded: {known}): "
              f"run with --record here first")
        sys.exit(2)
    now = measure(a.runs)
    now.update(measure_memory())
    if not a.no_kernels:
        now.update(measure_kernels())
        now.update(measure_calls())
    if a.record:
        machines[here] = {k: round(v, 3) for k, v in sorted(now.items())}
        with open(RECORDED + ".tmp", "w") as f:
            json.dump({"machines": dict(sorted(machines.items()))}, f, indent=2)
            f.write("\n")
        os.replace(RECORDED + ".tmp", RECORDED)
        print(f"recorded for {here!r}: {now} in {RECORDED}")
        return
    rec = machines[here]
    print(f"against the figures recorded for {here!r}")
    bad = False
    for k, v in rec.items():
        if k not in now:
            continue
        change = now[k] / v - 1
        flag = "REGRESSION" if change > a.tolerance else "ok"
        bad |= flag != "ok"
        print(f"{k:26} recorded {v:9.3f}  now {now[k]:9.3f}  {100 * change:+6.1f}%  {flag}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
