"""The GEMM ceiling of workload W through JAX (XLA's CPU matrix products): only the 23
products one F and gradient call needs, at W's shapes (8 forward h W, 8 weight gradients
h^T d, 7 input gradients d W^T), in one jit-compiled function, nothing else. Beside JAX's
whole call it shows how much of that call is products. Prints JSON lines like the peers.

Usage: python benches/compare/jax_gemm.py --inputs DIR [--batch B] [--threads N] [--reps R]
"""
import common

jax = common.import_jax()


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
    for dt in a.dtype:
        ops, gflop = common.products(a.batch, dt)
        ops = [tuple(jax.numpy.asarray(m) for m in op) for op in ops]

        def call():
            jax.block_until_ready(products(ops))
            return 0.0

        t, _ = common.timed(call, a.reps)
        common.report("gemm-xla", dt, a.batch, a.threads, t, 0.0, gflop=gflop,
                      version=f"jax {jax.__version__}")


if __name__ == "__main__":
    main()
