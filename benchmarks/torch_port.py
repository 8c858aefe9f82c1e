"""The torch port measured: one ``clara_ref.torch.CLARA`` step against one ``torch.optim.Adam`` step at about 10^6
parameters, and one epoch of the MNIST MLP on the torch engine against the NumPy engine.

1. Optimizer step only (the gradients are fixed tensors, set once): the six tensors of an MLP 784-1024-188-10
   (998,430 parameters, ``SHAPES``), float32, both sides pinned to the same thread count
   (``torch.set_num_threads`` and threadpoolctl for NumPy's BLAS). Contenders: ``torch.optim.Adam`` (its default
   single-tensor loop on the CPU), CLARA with base Adam (raw moves, one block per tensor), CLARA with base Adam and
   unit moves. The overhead target is under 25% over ``torch.optim.Adam``.
2. One epoch (469 steps of batch 128) of the paper's MNIST MLP (784-256-128-10, 235,146 parameters) with Adam-CLARA,
   float32, on generated data of MNIST's shape (60,000 rows of random pixels in [-1, 1], random labels: the timing
   does not depend on the values): ``clara_ref.experiments.torch_engine.train_torch`` against
   ``clara_ref.training.train`` (both with their per-epoch evaluation of the full training loss and test
   accuracy).

Contenders are interleaved, in an order rotated every round; each figure is the minimum over ``--repeat`` rounds,
with the spread (max / min) beside it so a reader sees how noisy the machine was.

Run: ``python benchmarks/torch_port.py [--repeat 7] [--threads 1] [--device cpu|cuda]``.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from _timing import gemm_peak, pinned, race, settle_for

#: the tensors of an MLP 784-1024-188-10: 998,430 parameters
SHAPES = ((784, 1024), (1024,), (1024, 188), (188,), (188, 10), (10,))


def _sync(torch, device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _step_contenders(torch, device):
    from clara_ref.torch import CLARA

    gen = torch.Generator().manual_seed(0)
    out = {}
    for name, make in (("torch.optim.Adam", lambda ps: torch.optim.Adam(ps, lr=1e-3)),
                       ("CLARA adam raw", lambda ps: CLARA(ps, 1e-3, base="adam")),
                       ("CLARA adam unit", lambda ps: CLARA(ps, 1e-3, base="adam", move="unit"))):
        params = [torch.nn.Parameter(torch.randn(s, generator=gen).to(device)) for s in SHAPES]
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen).to(device) * 1e-2
        opt = make(params)

        def step(opt=opt):
            opt.step()
            _sync(torch, device)

        out[name] = step
    return out


def _epoch_contenders(device):
    import clara_ref as cr
    from clara_ref.experiments.torch_engine import train_torch

    rng = np.random.default_rng(0)
    data = (rng.uniform(-1, 1, (60_000, 784)).astype(np.float32), rng.integers(0, 10, 60_000),
            rng.uniform(-1, 1, (10_000, 784)).astype(np.float32), rng.integers(0, 10, 10_000))
    model = cr.models.mlp((784, 256, 128, 10), init="torch")

    def opt():
        return cr.clara(cr.adam_direction(), 1e-3, blocks=model.block_sizes)

    return {"numpy engine": lambda: cr.train(model, opt(), data, epochs=1, batch_size=128, dtype=np.float32),
            "torch engine": lambda: train_torch(model, opt(), data, epochs=1, batch_size=128, dtype=np.float32,
                                                device=device)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="rounds per contender (minimum reported) [7]")
    ap.add_argument("--epoch-repeat", type=int, default=3, help="rounds of the epoch race [3]")
    ap.add_argument("--threads", type=int, default=1, help="threads for torch and NumPy's BLAS alike [1]")
    ap.add_argument("--device", default="cpu", help="cpu or cuda [cpu]")
    args = ap.parse_args(argv)
    import torch

    n = sum(math.prod(s) for s in SHAPES)
    with pinned(args.threads):                           # benchmarks/_timing.py: both sides on the same threads
        settle = settle_for(args.threads)                 # let the last call's worker threads go idle
        steps = race(_step_contenders(torch, args.device), args.repeat, settle)
        epochs = race(_epoch_contenders(args.device), args.epoch_repeat, settle)
        peak = gemm_peak()
    print(f"torch {torch.__version__}, numpy {np.__version__}, device {args.device}, {args.threads} thread(s) "
          f"each, float32; minimum of {args.repeat} (steps) and {args.epoch_repeat} (epochs) interleaved rounds in "
          f"rotated order; NumPy's float32 GEMM peak on the CPU {peak:.0f} GFLOP/s")
    print()
    base = steps["torch.optim.Adam"][0]
    print(f"optimizer step, {n:,} parameters in {len(SHAPES)} tensors | ms | spread (max/min) | vs torch.optim.Adam")
    print("---|---|---|---")
    for name, (t, spread) in steps.items():
        print(f"{name} | {1e3 * t:.2f} | {spread:.2f} | {100 * (t / base - 1):+.0f}%")
    print()
    base = epochs["numpy engine"][0]
    print("MNIST MLP, one epoch (469 steps of 128, Adam-CLARA, with its evaluation) | s | spread | vs numpy engine")
    print("---|---|---|---")
    for name, (t, spread) in epochs.items():
        print(f"{name} | {t:.2f} | {spread:.2f} | {base / t:.2f}x faster" if name != "numpy engine" else
              f"{name} | {t:.2f} | {spread:.2f} | 1.00x")
    if any(math.isnan(t) for t, _ in list(steps.values()) + list(epochs.values())):
        raise SystemExit("a timing was NaN")


if __name__ == "__main__":
    main()
