"""Workload W in hand-written numpy + OpenBLAS: the forward pass and a backward pass derived by
hand (d CE / d logits = (y - x) / N), the way a numpy user would write it.

Usage: python benches/compare/numpy_ae.py --inputs DIR [--batch B] [--threads N] [--reps R]
"""
import numpy as np
from threadpoolctl import threadpool_limits

import common


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
    a = common.args()
    threadpool_limits(a.threads)
    logistic = [lg for _, _, lg in common.layers()]
    for dt in a.dtype:
        x, X = common.inputs(a.inputs, a.batch, dt)
        Ws, bs = common.unflatten(x)
        t, (f, _, _) = common.timed(lambda: f_and_grad(Ws, bs, X, logistic), a.reps)
        common.report("numpy", dt, a.batch, a.threads, t, f, version=np.__version__)


if __name__ == "__main__":
    main()
