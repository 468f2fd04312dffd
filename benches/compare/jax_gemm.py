"""The GEMM ceiling of workload W through JAX (XLA's CPU matrix products): only the 23
products one F and gradient call needs, at W's shapes (8 forward h W, 8 weight gradients
h^T d, 7 input gradients d W^T), in one jit-compiled function, nothing else. Beside JAX's
whole call it shows how much of that call is products. Prints JSON lines like the peers.

Usage: python benches/compare/jax_gemm.py --inputs DIR [--batch B] [--threads N] [--reps R]
"""
import os
import sys

a_threads = "1"
if "--threads" in sys.argv:
    a_threads = sys.argv[sys.argv.index("--threads") + 1]
# The same thread settings as jax_ae.py.
os.environ.setdefault(
    "XLA_FLAGS",
    f"--xla_cpu_multi_thread_eigen={'true' if a_threads != '1' else 'false'} "
    f"intra_op_parallelism_threads={a_threads}",
)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import common  # noqa: E402

jax.config.update("jax_enable_x64", True)


@jax.jit
def products(ops):
    out = []
    for k, (h, W, d) in enumerate(ops):
        out.append(h @ W)
        out.append(h.T @ d)
        if k > 0:
            out.append(d @ W.T)
    return out


def main():
    a = common.args()
    rng = np.random.default_rng(3)
    for dt in a.dtype:
        ops, flop = [], 0
        for k, (i, o, _) in enumerate(common.layers()):
            ops.append(tuple(jnp.asarray(rng.random(s).astype(dt))
                             for s in ((a.batch, i), (i, o), (a.batch, o))))
            flop += 2 * a.batch * i * o * (3 if k > 0 else 2)

        def call():
            jax.block_until_ready(products(ops))
            return 0.0

        t, _ = common.timed(call, a.reps)
        common.report("gemm-xla", dt, a.batch, a.threads, t, 0.0, gflop=flop / 1e9,
                      version=f"jax {jax.__version__}")


if __name__ == "__main__":
    main()
