"""Workload W in PyTensor (Theano's successor): the literal cross-entropy, pytensor.grad, one
compiled function with the C linker. Also reports the compile time of that function.

Usage: python benches/compare/pytensor_ae.py --inputs DIR [--batch B] [--threads N] [--reps R]
"""
import os
import sys
import time

threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "2"
os.environ["OMP_NUM_THREADS"] = threads
os.environ["OPENBLAS_NUM_THREADS"] = threads

import numpy as np  # noqa: E402
import pytensor  # noqa: E402
import pytensor.tensor as pt  # noqa: E402

import common  # noqa: E402


def main():
    a = common.args()
    for dt in a.dtype:
        x, X = common.inputs(a.inputs, a.batch, dt)
        Ws, bs = common.unflatten(x)
        Wv = [pt.matrix(f"W{i}", dtype=dt) for i in range(len(Ws))]
        bv = [pt.vector(f"b{i}", dtype=dt) for i in range(len(bs))]
        Xv = pt.matrix("X", dtype=dt)
        h = Xv
        for W, b, (_, _, lg) in zip(Wv, bv, common.layers()):
            z = pt.dot(h, W) + b
            h = pt.sigmoid(z) if lg else z
        y = h
        cost = -pt.mean(pt.sum(Xv * pt.log(y) + (1 - Xv) * pt.log(1 - y), axis=1))
        grads = pytensor.grad(cost, Wv + bv)
        t0 = time.perf_counter()
        fn = pytensor.function([Xv] + Wv + bv, [cost] + grads)
        compile_s = time.perf_counter() - t0
        args = [X] + Ws + bs
        t, out = common.timed(lambda: fn(*args), a.reps)
        common.report("pytensor", dt, a.batch, a.threads, t, out[0],
                      version=pytensor.__version__, compile_ms=1e3 * compile_s,
                      linker=pytensor.config.linker, blas=pytensor.config.blas__ldflags)


if __name__ == "__main__":
    main()
