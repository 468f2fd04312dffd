"""The models of benches/compare/models.py in JAX: jit(value_and_grad) of the softmax
regression on MNIST's 60,000 training images with int32 labels, and of a Gaussian process
regression's negative log marginal likelihood at n points, and an embedding lookup
(512 ids into an [n, 64] table), each set up exactly as
examples/bench_models.rs sets it (same parameters, same data), one JSON line per model and
precision.

Usage: python benches/compare/jax_models.py --model softmax|gp|embedding [--n N] [--reps R]
       [--threads T] [--dtype float32|float64]
"""
import argparse
import gzip
import os
import time

import numpy as np

import common

jax = common.import_jax()
import jax.numpy as jnp  # noqa: E402
import jax.scipy.linalg as jsl  # noqa: E402


def mnist_train(dtype):
    folder = os.environ.get("SYMGRAD_MNIST") or os.path.join(
        os.path.dirname(__file__), "..", "..", "..", "shared", "data", "mnist")

    def read(name, offset):
        path = os.path.join(folder, name + ".gz")
        with gzip.open(path, "rb") as f:
            return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)

    images = read("train-images-idx3-ubyte", 16).reshape(60000, 784)
    labels = read("train-labels-idx1-ubyte", 8)
    return (images * (1.0 / 255.0)).astype(dtype), labels.astype(np.int32)


def softmax_params(dtype, d=784, k=10):
    r, c = np.meshgrid(np.arange(d), np.arange(k), indexing="ij")
    W = 1e-3 * (((r * 7 + c * 13) % 17) - 8.0)
    b = 0.01 * np.arange(k)
    return W.astype(dtype), b.astype(dtype)


def softmax_loss(params, X, y):
    W, b = params
    logp = jax.nn.log_softmax(X @ W + b, axis=1)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def gp_data(n):
    x = 10.0 * np.arange(n) / n
    y = np.sin(x) + 0.1 * np.sin(37.0 * np.arange(n))
    return x, y


def gp_nll(theta, x, y):
    log_s, log_l, log_sigma = theta[0], theta[1], theta[2]
    d2 = (x[:, None] - x[None, :]) ** 2
    n = x.shape[0]
    K = jnp.exp(2 * log_s) * jnp.exp(-0.5 * d2 * jnp.exp(-2 * log_l)) \
        + jnp.exp(2 * log_sigma) * jnp.eye(n, dtype=x.dtype)
    L = jnp.linalg.cholesky(K)
    alpha = jsl.solve_triangular(L, y, lower=True)
    return 0.5 * jnp.sum(alpha ** 2) + jnp.sum(jnp.log(jnp.diag(L))) \
        + 0.5 * n * np.log(2 * np.pi)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["softmax", "gp", "embedding"], required=True)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--reps", type=int, default=9)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dtype", choices=["float32", "float64"], action="append")
    a = p.parse_args()
    for dt in a.dtype or ["float32", "float64"]:
        if a.model == "softmax":
            X, y = mnist_train(dt)
            params = tuple(jnp.asarray(v) for v in softmax_params(dt))
            vg = jax.jit(jax.value_and_grad(softmax_loss))
            Xj, yj = jnp.asarray(X), jnp.asarray(y)

            def call():
                f, g = vg(params, Xj, yj)
                jax.block_until_ready(g)
                return f
            n = 60000
        elif a.model == "embedding":
            # 512 ids into a [n, 64] table, as bench_models.rs makes them
            E = jnp.asarray(((np.arange(a.n * 64) % 101) * 1e-2).reshape(a.n, 64).astype(dt))
            ids = jnp.asarray(((np.arange(512) * 7919) % a.n).astype(np.int32))
            vg = jax.jit(jax.value_and_grad(lambda E, ids: 0.5 * jnp.sum(E[ids] ** 2)))

            def call():
                f, g = vg(E, ids)
                jax.block_until_ready(g)
                return f
            n = a.n
        else:
            x, y = gp_data(a.n)
            xj, yj = jnp.asarray(x.astype(dt)), jnp.asarray(y.astype(dt))
            theta = jnp.asarray(np.array([0.0, 0.0, np.log(0.1)], dtype=dt))
            vg = jax.jit(jax.value_and_grad(gp_nll))

            def call():
                f, g = vg(theta, xj, yj)
                jax.block_until_ready(g)
                return f
            n = a.n
        t0 = time.perf_counter()
        call()
        first = time.perf_counter() - t0
        t, f = common.timed(call, a.reps)
        rec = dict(peer="jax", model=a.model, dtype=dt, n=n, threads=a.threads, ms=1e3 * t,
                   f=float(f), version=jax.__version__, compile_ms=1e3 * (first - t))
        print(__import__("json").dumps(rec), flush=True)


if __name__ == "__main__":
    main()
