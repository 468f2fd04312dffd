"""Workload W in JAX: jit(value_and_grad) of the literal cross-entropy. Also reports the
compile time (first call minus a steady call).

Usage: python benches/compare/jax_ae.py --inputs DIR [--batch B] [--threads N] [--reps R]
"""
import time

import common

jax = common.import_jax()
import jax.numpy as jnp  # noqa: E402


def loss(params, X):
    h = X
    for (W, b), (_, _, lg) in zip(params, common.layers()):
        a = h @ W + b
        h = jax.nn.sigmoid(a) if lg else a
    y = h
    return -jnp.mean(jnp.sum(X * jnp.log(y) + (1 - X) * jnp.log(1 - y), axis=1))


def main():
    a = common.args()
    vg = jax.jit(jax.value_and_grad(loss))
    for dt in a.dtype:
        x, X = common.inputs(a.inputs, a.batch, dt)
        Ws, bs = common.unflatten(x)
        params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in zip(Ws, bs)]
        Xj = jnp.asarray(X)

        def call():
            f, g = vg(params, Xj)
            jax.block_until_ready(g)
            return f

        t0 = time.perf_counter()
        call()
        first = time.perf_counter() - t0
        t, f = common.timed(call, a.reps)
        common.report("jax", dt, a.batch, a.threads, t, f, version=jax.__version__,
                      compile_ms=1e3 * (first - t))


if __name__ == "__main__":
    main()
