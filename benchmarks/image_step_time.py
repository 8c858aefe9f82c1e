"""One training step of the paper's image models: clara_ref (NumPy, hand-written backward) against the equivalent
PyTorch CPU step (nn.Linear/nn.Conv2d/nn.MaxPool2d, CrossEntropyLoss, autograd, torch.optim.Adam), side by side.

Workloads, on generated data of the real shapes (random pixels in [-1, 1] and labels; the timing does not depend
on the values): the MNIST MLP 784-256-128-10 (235,146 parameters) and the CIFAR-10 CNN (2,193,226 parameters), one
minibatch of 128, float32 on both sides (the paper's precision). A step is the forward pass, the loss, the backward
pass and the optimizer update: Adam, and for clara_ref also Adam-CLARA (per-tensor blocks, d = 1e-3). The
contenders are interleaved, in an order rotated every round; both sides are pinned to ``--threads`` threads
(threadpoolctl for NumPy's BLAS, ``torch.set_num_threads``); each figure is the minimum of ``--repeat`` steps after
one warm-up, with the spread (max / min) beside it (freed memory is kept for the next step by
``clara_ref.allocator.keep_freed_memory``, for both sides, as ``reproduce``'s workers run; ``--glibc-defaults``
measures without it), and the machine's float32 GEMM peak (the best of a few 2048^3
products) is printed with the FLOP count of the MLP step, so a reader sees the distance to the limit.

Run: ``python benchmarks/image_step_time.py [--repeat 7] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import math
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


def gemm_peak(repeat: int = 5, n: int = 2048) -> float:
    """GFLOP/s of the best of ``repeat`` float32 products of two n x n matrices (NumPy's BLAS, current threads)."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    a @ a
    best = min(_time(lambda: a @ a) for _ in range(repeat))
    return 2 * n**3 / best / 1e9


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="timed steps per contender (minimum) [7]")
    ap.add_argument("--batch", type=int, default=128, help="minibatch size [128]")
    ap.add_argument("--threads", type=int, default=1, help="threads for NumPy's BLAS and torch alike [1]")
    ap.add_argument("--glibc-defaults", action="store_true", help="keep glibc's malloc thresholds (by default freed "
                    "memory is kept for the next step, clara_ref.allocator, as reproduce's workers do)")
    args = ap.parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits

    from clara_ref.allocator import keep_freed_memory

    args.kept = False if args.glibc_defaults else keep_freed_memory()

    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        return _run(args, torch)


def _run(args, torch):
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
        med = {k: min(v) for k, v in times.items()}
        spread = {k: max(v) / min(v) for k, v in times.items()}
        flops = None
        if kind == "mnist_mlp":
            # forward, weight gradients and input gradients (none for the first layer, whose input is the data)
            layers = (784 * 256, 256 * 128, 128 * 10)
            flops = 2 * args.batch * (3 * sum(layers) - layers[0])
        rows.append((kind, model.n_params, med, flops, spread))
    peak = gemm_peak()
    print(f"numpy {np.__version__}, torch {torch.__version__}, {args.threads} thread(s) for NumPy's BLAS and torch "
          f"(torch reports {torch.get_num_threads()}), batch {args.batch}, float32, minimum of {args.repeat} "
          f"interleaved steps; float32 GEMM peak {peak:.0f} GFLOP/s; freed memory kept (clara_ref.allocator): "
          f"{'yes' if args.kept else 'no'}")
    print()
    print("workload | parameters | clara_ref adam ms | clara_ref adam-clara ms | torch adam ms | "
          "clara_ref adam / torch | clara_ref adam-clara / torch | spread (max/min) adam, adam-clara, torch")
    print("---|---|---|---|---|---|---|---")
    for kind, n, med, _, spread in rows:
        print(f"{kind} | {n:,} | {1e3 * med['adam']:.1f} | {1e3 * med['adam-clara']:.1f} | "
              f"{1e3 * med['torch']:.1f} | {med['adam'] / med['torch']:.2f}x | "
              f"{med['adam-clara'] / med['torch']:.2f}x | {spread['adam']:.2f}, {spread['adam-clara']:.2f}, "
              f"{spread['torch']:.2f}")
    for kind, _, med, flops, _ in rows:
        if flops:
            print(f"\n{kind}: {flops / 1e6:.0f} MFLOP of matrix products per step, {1e3 * flops / peak / 1e9:.2f} ms "
                  "at the GEMM peak")
    steps = {"mnist_mlp": 469, "cifar10_cnn": 391}
    print()
    for kind, _, med, _, _ in rows:
        per_run = med["adam-clara"] * steps[kind] * 100
        print(f"{kind}: one 100-epoch run ({steps[kind] * 100:,} steps) at this speed: clara_ref "
              f"{per_run / 3600:.2f} h, torch {med['torch'] * steps[kind] * 100 / 3600:.2f} h "
              f"(training steps only)")
    if any(math.isnan(v) for _, _, med, _, _ in rows for v in med.values()):
        raise SystemExit("a timing was NaN")


if __name__ == "__main__":
    main()
