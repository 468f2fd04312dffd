"""Shared by the peers of benches/compare/compare.py: workload W's layer list, the inputs
every peer reads (the same parameters and data, so their F can be compared), and the one
line each peer prints.

Workload W: the MNIST deep autoencoder 784-1000-500-250-30-250-500-1000-784, untied,
logistic units, linear 30-unit code, logistic outputs, cross-entropy written literally as
-mean(sum(x log y + (1 - x) log(1 - y))), one call = F and the gradient with respect to all
2,837,314 parameters.
"""
import json
import os
import sys
import time

import numpy as np

SIZES = [784, 1000, 500, 250, 30]


def layers():
    """(n_in, n_out, logistic) per layer, encoder then mirrored decoder."""
    k = len(SIZES) - 1
    enc = [(SIZES[i], SIZES[i + 1], i + 1 < k) for i in range(k)]
    dec = [(SIZES[i + 1], SIZES[i], True) for i in reversed(range(k))]
    return enc + dec


def unflatten(x):
    """symgrad's layout order: W1 [n_in, n_out], b1 [n_out], W2, b2, ..."""
    Ws, bs, at = [], [], 0
    for i, o, _ in layers():
        Ws.append(x[at:at + i * o].reshape(i, o))
        at += i * o
        bs.append(x[at:at + o])
        at += o
    assert at == x.size, (at, x.size)
    return Ws, bs


def inputs(folder, batch, dtype):
    """The flat parameters and the first `batch` rows of data, as `dtype`."""
    x = np.load(os.path.join(folder, "params.npy")).astype(dtype)
    data = np.load(os.path.join(folder, "data.npy"))[:batch].astype(dtype)
    return x, data


def make(folder, max_batch=10000, seed=7):
    """Writes params.npy (weights ~ N(0, 0.1²), biases 0) and data.npy (uniform [0, 1))."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    parts = []
    for i, o, _ in layers():
        parts.append(0.1 * rng.standard_normal(i * o))
        parts.append(np.zeros(o))
    np.save(os.path.join(folder, "params.npy"), np.concatenate(parts))
    np.save(os.path.join(folder, "data.npy"), rng.random((max_batch, 784)))


def import_jax():
    """JAX as every JAX peer runs it: XLA's CPU threads from the command line's `--threads`
    (1 if absent), set before JAX is imported, which is when XLA reads them; x64 enabled for
    f64. Returns the `jax` module."""
    threads = "1"
    if "--threads" in sys.argv:
        threads = sys.argv[sys.argv.index("--threads") + 1]
    os.environ.setdefault(
        "XLA_FLAGS",
        f"--xla_cpu_multi_thread_eigen={'true' if threads != '1' else 'false'} "
        f"intra_op_parallelism_threads={threads}",
    )
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def products(batch, dtype, seed=3):
    """Operands of the 23 products one F and gradient call of W needs, per layer `(h, W,
    d)`: `h W` and `h^T d` for every layer, `d W^T` for all but the first; and their GFLOP
    count. Random values (only the time is measured)."""
    rng = np.random.default_rng(seed)
    ops, flop = [], 0
    for k, (i, o, _) in enumerate(layers()):
        ops.append(tuple(rng.random(s).astype(dtype) for s in ((batch, i), (i, o), (batch, o))))
        flop += 2 * batch * i * o * (3 if k > 0 else 2)
    return ops, flop / 1e9


def timed(call, reps):
    """Median seconds of `reps` calls after one warm-up call; returns (median, last result)."""
    out = call()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        out = call()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts) // 2], out


def report(peer, dtype, batch, threads, median_s, f, **extra):
    """One JSON line per measurement, read by compare.py."""
    rec = dict(peer=peer, dtype=np.dtype(dtype).name, batch=batch, threads=threads,
               ms=1e3 * median_s, f=float(f), **extra)
    print(json.dumps(rec), flush=True)


def args():
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("--inputs", required=True)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--dtype", choices=["float32", "float64"], action="append")
    a = p.parse_args()
    a.dtype = a.dtype or ["float32", "float64"]
    return a


if __name__ == "__main__":
    make(sys.argv[1])
