"""Workload W in PyTorch, eager: the literal cross-entropy and autograd's backward().

Usage: python benches/compare/torch_ae.py --inputs DIR [--batch B] [--threads N] [--reps R]
"""
import torch

import common


def main():
    a = common.args()
    torch.set_num_threads(a.threads)
    for dt in a.dtype:
        tdt = torch.float32 if dt == "float32" else torch.float64
        x, X = common.inputs(a.inputs, a.batch, dt)
        Ws, bs = common.unflatten(x)
        params = [(torch.tensor(W, dtype=tdt, requires_grad=True),
                   torch.tensor(b, dtype=tdt, requires_grad=True)) for W, b in zip(Ws, bs)]
        Xt = torch.tensor(X, dtype=tdt)
        layers = common.layers()

        def call():
            h = Xt
            for (W, b), (_, _, lg) in zip(params, layers):
                z = h @ W + b
                h = torch.sigmoid(z) if lg else z
            y = h
            f = -torch.mean(torch.sum(Xt * torch.log(y) + (1 - Xt) * torch.log(1 - y), dim=1))
            for W, b in params:
                W.grad = None
                b.grad = None
            f.backward()
            return f.item()

        t, f = common.timed(call, a.reps)
        common.report("pytorch", dt, a.batch, a.threads, t, f, version=torch.__version__)


if __name__ == "__main__":
    main()
