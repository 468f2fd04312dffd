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
    for dt in a.dtype:
        ops, gflop = common.products(a.batch, dt)

        def call():
            for k, (h, W, d) in enumerate(ops):
                h @ W
                h.T @ d
                if k > 0:
                    d @ W.T
            return 0.0

        t, _ = common.timed(call, a.reps)
        common.report("gemm-openblas", dt, a.batch, a.threads, t, 0.0, gflop=gflop,
                      version=f"numpy {np.__version__}, {blas}")


if __name__ == "__main__":
    main()
