"""scipy's evaluation counts on the Rosenbrock problems at n = 1000, for docs/PERFORMANCE.md.

fmin_cg(gtol=1e-5, norm=inf) and minimize(method='L-BFGS-B', options=dict(maxcor=10,
ftol=0, gtol=1e-5)), from x0 = (-1.2, 1, -1.2, 1, ...). Counts evaluations of f and of the
gradient through wrappers, so they are the calls actually made.

Usage: python benches/compare/scipy_optim.py   (needs numpy and scipy)
"""
import numpy as np
import scipy
from scipy.optimize import fmin_cg, minimize, rosen, rosen_der


def extended_rosenbrock(x):
    a, b = x[0::2], x[1::2]
    return np.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)


def extended_rosenbrock_der(x):
    a, b = x[0::2], x[1::2]
    g = np.empty_like(x)
    g[0::2] = -400.0 * a * (b - a * a) - 2.0 * (1.0 - a)
    g[1::2] = 200.0 * (b - a * a)
    return g


def counted(f):
    def w(x):
        w.n += 1
        return f(x)

    w.n = 0
    return w


def main():
    n = 1000
    x0 = np.tile([-1.2, 1.0], n // 2)
    print(f"scipy {scipy.__version__}, numpy {np.__version__}, n = {n}")
    for name, f, g in [
        ("extended Rosenbrock (MGH 21)", extended_rosenbrock, extended_rosenbrock_der),
        ("chained Rosenbrock (scipy.optimize.rosen)", rosen, rosen_der),
    ]:
        cf, cg = counted(f), counted(g)
        res = fmin_cg(cf, x0, fprime=cg, gtol=1e-5, norm=np.inf, maxiter=100000, full_output=True, disp=False)
        print(f"{name}: fmin_cg iterations ?, f evals {cf.n}, g evals {cg.n}, warnflag {res[4]}, f = {res[1]:.3e}")
        cf, cg = counted(f), counted(g)
        r = minimize(cf, x0, jac=cg, method="L-BFGS-B", options=dict(maxcor=10, ftol=0, gtol=1e-5, maxiter=100000, maxfun=100000))
        print(f"{name}: L-BFGS-B iterations {r.nit}, f evals {cf.n}, g evals {cg.n}, f = {r.fun:.3e}, {r.message}")


if __name__ == "__main__":
    main()
