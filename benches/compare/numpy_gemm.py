"""OpenBLAS's GEMM speed through numpy at two of the autoencoder's shapes, for comparison with
`cargo bench --bench gemm_choice`. Prints GFLOP/s (median of 9) and the BLAS in use.

Usage: python benches/compare/numpy_gemm.py   (needs numpy and threadpoolctl)
"""
import time

import numpy as np
from threadpoolctl import threadpool_info

print([(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info()])
for dt in (np.float32, np.float64):
    for (m, n, k) in [(1000, 1000, 784), (1000, 500, 1000)]:
        a = np.random.rand(m, k).astype(dt)
        b = np.random.rand(k, n).astype(dt)
        a @ b
        ts = []
        for _ in range(9):
            t = time.perf_counter()
            a @ b
            ts.append(time.perf_counter() - t)
        ts.sort()
        print(f"{np.dtype(dt).name} {m}x{n}x{k}: {2 * m * n * k / ts[4] / 1e9:.1f} GFLOP/s")
