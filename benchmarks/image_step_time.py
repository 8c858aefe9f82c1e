"""One training step of the paper's image models: clara_ref (NumPy, hand-written backward) against the equivalent
PyTorch CPU step (nn.Linear/nn.Conv2d/nn.MaxPool2d, CrossEntropyLoss, autograd, torch.optim.Adam), side by side.

Workloads, on generated data of the real shapes (random pixels in [-1, 1] and labels; the timing does not depend
on the values): the MNIST MLP 784-256-128-10 (235,146 parameters) and the CIFAR-10 CNN (2,193,226 parameters), one
minibatch of 128, float32 on both sides (the paper's precision). A step is the forward pass, the loss, the backward
pass and the optimizer update: Adam, and for clara_ref also Adam-CLARA (per-tensor blocks, d = 1e-3). The
contenders are interleaved, in an order rotated every round, and each figure is the median of ``--repeat`` steps
after one warm-up.

Run: ``python benchmarks/image_step_time.py [--repeat 7]``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

import clara_ref as cr


def _ours(model, optimizer, X, y, seed=0):
    theta = model.init(np.random.default_rng(seed)).astype(np.float32)
    state = optimizer.init(theta)

    def step():
        nonlocal theta, state
        _, g = model.loss_and_grad(theta, X, y)
        theta, state = optimizer.update(theta, g, state)

    return step


def _torch_model(kind):
    import torch

    if kind == "mnist_mlp":
        return torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                                   torch.nn.ReLU(), torch.nn.Linear(128, 10))
    return torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Conv2d(64, 128, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Flatten(), torch.nn.Linear(8 * 8 * 128, 256), torch.nn.ReLU(),
                               torch.nn.Linear(256, 10))


def _theirs(kind, X, y):
    import torch

    torch.manual_seed(0)
    model = _torch_model(kind)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    xb = torch.tensor(X if kind == "mnist_mlp" else X.reshape(-1, 3, 32, 32))
    yb = torch.tensor(y)

    def step():
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()

    return step


def _time(step) -> float:
    t0 = time.perf_counter()
    step()
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="timed steps per contender (median) [7]")
    ap.add_argument("--batch", type=int, default=128, help="minibatch size [128]")
    args = ap.parse_args(argv)
    import torch

    rng = np.random.default_rng(0)
    rows = []
    for kind, model, width in (("mnist_mlp", cr.models.mlp((784, 256, 128, 10), init="torch"), 784),
                               ("cifar10_cnn", cr.models.paper_cnn(), 3072)):
        X = rng.uniform(-1, 1, (args.batch, width)).astype(np.float32)
        y = rng.integers(0, 10, args.batch)
        contenders = {
            "adam": _ours(model, cr.adam(1e-3), X, y),
            "adam-clara": _ours(model, cr.clara(cr.adam_direction(), 1e-3, blocks=model.block_sizes), X, y),
            "torch": _theirs(kind, X, y),
        }
        times = {k: [] for k in contenders}
        for step in contenders.values():
            step()                                     # warm-up: first-touch allocations, torch's lazy init
        names = list(contenders)
        for r in range(args.repeat):
            # interleaved, and the order rotated each round, so that drifts of the machine and the after-effects of
            # one contender on the next (torch's worker threads spin for a while after a step) hit all alike
            for name in names[r % 3:] + names[:r % 3]:
                times[name].append(_time(contenders[name]))
        med = {k: statistics.median(v) for k, v in times.items()}
        flops = None
        if kind == "mnist_mlp":
            flops = 6 * args.batch * (784 * 256 + 256 * 128 + 128 * 10)
        rows.append((kind, model.n_params, med, flops))
    print(f"numpy {np.__version__}, torch {torch.__version__}, torch threads {torch.get_num_threads()}, batch "
          f"{args.batch}, float32, median of {args.repeat}")
    print()
    print("workload | parameters | clara_ref adam ms | clara_ref adam-clara ms | torch adam ms | "
          "clara_ref adam / torch | CLARA overhead")
    print("---|---|---|---|---|---|---")
    for kind, n, med, _ in rows:
        print(f"{kind} | {n:,} | {1e3 * med['adam']:.1f} | {1e3 * med['adam-clara']:.1f} | "
              f"{1e3 * med['torch']:.1f} | {med['adam'] / med['torch']:.2f}x | "
              f"{100 * (med['adam-clara'] / med['adam'] - 1):+.0f}%")
    steps = {"mnist_mlp": 469, "cifar10_cnn": 391}
    print()
    for kind, _, med, _ in rows:
        per_run = med["adam-clara"] * steps[kind] * 100
        print(f"{kind}: one 100-epoch run ({steps[kind] * 100:,} steps) at this speed: clara_ref "
              f"{per_run / 3600:.2f} h, torch {med['torch'] * steps[kind] * 100 / 3600:.2f} h "
              f"(training steps only)")
    if any(math.isnan(v) for _, _, med, _ in rows for v in med.values()):
        raise SystemExit("a timing was NaN")


if __name__ == "__main__":
    main()
