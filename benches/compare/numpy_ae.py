"""Workload W in hand-written numpy: the MNIST deep autoencoder's F and its gradient.

784-1000-500-250-30-250-500-1000-784, untied, logistic units, linear code layer, logistic
outputs, cross-entropy summed over pixels and averaged over a batch of 1000 random pixels in
[0, 1]. The backward pass is derived by hand (d CE / d logits = (y - x) / N), the way a
numpy user would write it. Prints one line per precision: median ms per F + gradient call.

Usage: python benches/compare/numpy_ae.py [--threads N] [--batch B] [--reps R]
"""
import argparse
import time

import numpy as np

SIZES = [784, 1000, 500, 250, 30]


def layers():
    k = len(SIZES) - 1
    enc = [(SIZES[i], SIZES[i + 1], i + 1 < k) for i in range(k)]  # logistic except code
    dec = [(SIZES[i + 1], SIZES[i], True) for i in reversed(range(k))]
    return enc + dec


def f_and_grad(Ws, bs, X, logistic):
    hs = [X]
    for W, b, lg in zip(Ws, bs, logistic):
        a = hs[-1] @ W + b
        hs.append(1.0 / (1.0 + np.exp(-a)) if lg else a)
    y = hs[-1]
    n = X.shape[0]
    f = -np.sum(X * np.log(y) + (1 - X) * np.log(1 - y)) / n
    d = (y - X) / n
    gWs, gbs = [None] * len(Ws), [None] * len(Ws)
    for i in reversed(range(len(Ws))):
        gWs[i] = hs[i].T @ d
        gbs[i] = d.sum(0)
        if i > 0:
            d = d @ Ws[i].T
            if logistic[i - 1]:
                d *= hs[i] * (1 - hs[i])
    return f, gWs, gbs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--reps", type=int, default=15)
    args = p.parse_args()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    except ImportError:
        pass
    rng = np.random.default_rng(1)
    for dt in (np.float32, np.float64):
        ls = layers()
        Ws = [(0.1 * rng.standard_normal((i, o))).astype(dt) for i, o, _ in ls]
        bs = [np.zeros(o, dt) for _, o, _ in ls]
        logistic = [lg for _, _, lg in ls]
        X = rng.random((args.batch, 784)).astype(dt)
        f_and_grad(Ws, bs, X, logistic)
        ts = []
        for _ in range(args.reps):
            t = time.perf_counter()
            f, _, _ = f_and_grad(Ws, bs, X, logistic)
            ts.append(time.perf_counter() - t)
        ts.sort()
        print(f"numpy {np.dtype(dt).name} batch={args.batch} threads={args.threads}: "
              f"median {1e3 * ts[len(ts) // 2]:.1f} ms, f = {f:.4f}")


if __name__ == "__main__":
    main()
