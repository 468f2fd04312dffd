"""The GEMM ceiling of workload W through numpy's BLAS (OpenBLAS): only the 23 products one F
and gradient call needs, at W's shapes (8 forward h W, 8 weight gradients h^T d, 7 input
gradients d W^T), nothing else. Prints JSON lines like the peers.

Usage: python benches/compare/gemm_ceiling.py --inputs DIR [--batch B] [--threads N] [--reps R]
"""
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import common


def main():
    a = common.args()
    threadpool_limits(a.threads)
    blas = ",".join(f"{i['internal_api']} {i.get('version', '')}" for i in threadpool_info())
    rng = np.random.default_rng(3)
    for dt in a.dtype:
        ops = []
        flop = 0
        for k, (i, o, _) in enumerate(common.layers()):
            h = rng.random((a.batch, i)).astype(dt)
            W = rng.random((i, o)).astype(dt)
            d = rng.random((a.batch, o)).astype(dt)
            ops.append((h, W, d, k > 0))
            flop += 2 * a.batch * i * o * (3 if k > 0 else 2)

        def call():
            for h, W, d, back in ops:
                h @ W
                h.T @ d
                if back:
                    d @ W.T
            return 0.0

        t, _ = common.timed(call, a.reps)
        common.report("gemm-openblas", dt, a.batch, a.threads, t, 0.0, gflop=flop / 1e9,
                      version=f"numpy {np.__version__}, {blas}")


if __name__ == "__main__":
    main()
