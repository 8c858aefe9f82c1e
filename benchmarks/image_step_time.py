"""One training step of the paper's image models: clara_ref (NumPy, hand-written backward) against the equivalent
PyTorch CPU step (nn.Linear/nn.Conv2d/nn.MaxPool2d, CrossEntropyLoss, autograd, torch.optim.Adam), side by side.

Workloads, on generated data of the real shapes (random pixels in [-1, 1] and labels; the timing does not depend
on the values): the MNIST MLP 784-256-128-10 (235,146 parameters) at minibatches of 128 and 32 (``--mlp-batches``)
and the CIFAR-10 CNN (2,193,226 parameters) at 128, float32 on both sides (the paper's precision). A step is the
forward pass, the loss, the backward pass and the optimizer update: Adam (clara_ref's literal one, the reference),
and for clara_ref also the fused form of the same Adam (``adam(..., fused=True)``, equal up to float rounding) and
Adam-CLARA (per-tensor blocks, d = 1e-3, literal). The contenders are interleaved, in an order rotated every
round, both sides pinned to ``--threads`` threads (threadpoolctl for NumPy's BLAS, ``torch.set_num_threads``);
each figure is the minimum of ``--repeat`` steps after one warm-up, with the spread (max / min) beside it
(``benchmarks/_timing.py``; on more than one thread each timed step comes after 0.2 s (``_timing.SETTLE``) of
untimed steps of the same contender, by which the worker threads of the contender before have gone idle). Freed
memory is kept for the next step by ``clara_ref.allocator.keep_freed_memory``, for both sides, as ``reproduce``'s
workers run (``--glibc-defaults`` measures without it). The machine's float32 GEMM peak (the best of a few 2048^3
products) is printed with each workload's FLOP count; for the MLP, in a race of their own, the gradient and the Adam
update alone on each side; and, raced with the CNN's contenders, every matrix product of clara_ref's CNN step in its
own shapes (``cnn_products``): what the step would cost if everything else were free, so a reader sees the distance
to the limit.

Run: ``python benchmarks/image_step_time.py [--repeat 7] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from _timing import gemm_peak, pinned, race, settle_for

import clara_ref as cr


def _ours(model, optimizer, X, y, seed=0, part="step"):
    """A clara_ref contender: the whole step, or one ``part`` of it: "grad" (loss_and_grad alone) or "update" (the
    optimizer's update alone, on one fixed gradient)."""
    theta = model.init(np.random.default_rng(seed)).astype(np.float32)
    state = optimizer.init(theta)
    g0 = model.loss_and_grad(theta, X, y)[1]

    def step():
        nonlocal theta, state
        _, g = model.loss_and_grad(theta, X, y)
        theta, state = optimizer.update(theta, g, state)

    def grad():
        model.loss_and_grad(theta, X, y)

    def update():
        nonlocal theta, state
        theta, state = optimizer.update(theta, g0, state)

    return {"step": step, "grad": grad, "update": update}[part]


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


def _theirs(kind, X, y, part="step"):
    """The torch contender: the whole step, or "grad" (zero_grad, forward, backward) or "update" (opt.step alone,
    on the gradients of one backward pass)."""
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

    def grad():
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()

    grad()
    return {"step": step, "grad": grad, "update": opt.step}[part]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="timed steps per contender (minimum) [7]")
    ap.add_argument("--mlp-batches", type=int, nargs="+", default=[128, 32], help="MNIST MLP minibatch sizes "
                    "[128 32]; the CNN's is 128")
    ap.add_argument("--threads", type=int, default=1, help="threads for NumPy's BLAS and torch alike [1]")
    ap.add_argument("--no-cnn", action="store_true", help="the MNIST MLP only (a quick look)")
    ap.add_argument("--glibc-defaults", action="store_true", help="keep glibc's malloc thresholds (by default freed "
                    "memory is kept for the next step, clara_ref.allocator, as reproduce's workers do)")
    args = ap.parse_args(argv)
    args.settle = settle_for(args.threads)
    import torch

    from clara_ref.allocator import keep_freed_memory

    args.kept = False if args.glibc_defaults else keep_freed_memory()
    with pinned(args.threads):
        return _run(args, torch)


#: the paper's CNN: (input channels, output channels, side) of each convolution, then the dense widths
_CNN_CONVS = ((3, 32, 32), (32, 64, 32), (64, 128, 16))
_CNN_DENSE = (8192, 256, 10)


def cnn_products(batch: int, rng):
    """A callable that runs every matrix product of one clara_ref CNN step (clara_ref/cnn.py) in its shapes, on
    float32 arrays of random values, and their FLOP count: the forward product, the weight gradient and (all but
    the first convolution) the nine per-offset input-gradient products of each convolution, and the dense head's
    forward, weight-gradient and input-gradient products. Its time is what the step would take if everything
    else were free."""
    f32 = np.float32
    work, flops = [], 0
    for k, (c, o, side) in enumerate(_CNN_CONVS):
        m = batch * side * side
        cols, w, dz = (rng.standard_normal(s).astype(f32) for s in ((m, 9 * c), (9 * c, o), (m, o)))
        work += [(cols, w), (cols.T, dz)]
        flops += 2 * 2 * m * 9 * c * o
        if k:
            work += [(dz, w[j * c:(j + 1) * c].T) for j in range(9)]
            flops += 2 * m * 9 * c * o
    for a, b in zip(_CNN_DENSE[:-1], _CNN_DENSE[1:]):
        x, w, dz = (rng.standard_normal(s).astype(f32) for s in ((batch, a), (a, b), (batch, b)))
        work += [(x, w), (x.T, dz), (dz, w.T)]
        flops += 3 * 2 * batch * a * b

    def run():
        for x, y in work:
            x @ y

    return run, flops


def _run(args, torch):
    rng = np.random.default_rng(0)
    rows = []
    workloads = [("mnist_mlp", b, cr.models.mlp((784, 256, 128, 10), init="torch"), 784) for b in args.mlp_batches]
    if not args.no_cnn:
        workloads.append(("cifar10_cnn", 128, cr.models.paper_cnn(), 3072))
    for kind, batch, model, width in workloads:
        X = rng.uniform(-1, 1, (batch, width)).astype(np.float32)
        y = rng.integers(0, 10, batch)
        contenders = {
            "adam": _ours(model, cr.adam(1e-3), X, y),
            "adam-fused": _ours(model, cr.adam(1e-3, fused=True), X, y),
            "adam-clara": _ours(model, cr.clara(cr.adam_direction(), 1e-3, blocks=model.block_sizes), X, y),
            "torch": _theirs(kind, X, y),
        }
        if kind == "cifar10_cnn":
            contenders["products"], cnn_flops = cnn_products(batch, rng)
        timed = race(contenders, args.repeat, args.settle)   # interleaved, rotated rounds: benchmarks/_timing.py
        if kind == "mnist_mlp":
            # where the MLP step's time goes, in a race of its own (after a torch call on 2 threads, torch's
            # workers spin for a while: more torch contenders in the steps' race would slow the others)
            parts = {f"{side} {part}": make(part) for part in ("grad", "update") for side, make in
                     (("ours", lambda p: _ours(model, cr.adam(1e-3), X, y, part=p)),
                      ("torch", lambda p: _theirs(kind, X, y, part=p)))}
            parts["ours fused update"] = _ours(model, cr.adam(1e-3, fused=True), X, y, part="update")
            timed.update(race(parts, args.repeat, args.settle))
        rows.append((kind, batch, model.n_params, timed))
    peak = gemm_peak()
    print(f"numpy {np.__version__}, torch {torch.__version__}, {args.threads} thread(s) for NumPy's BLAS and torch "
          f"(torch reports {torch.get_num_threads()}), float32, minimum of {args.repeat} interleaved steps in "
          f"rotated order; float32 GEMM peak {peak:.0f} GFLOP/s; freed memory kept (clara_ref.allocator): "
          f"{'yes' if args.kept else 'no'}")
    print()
    print("workload | batch | parameters | clara_ref adam ms | clara_ref adam-fused ms | clara_ref adam-clara ms | "
          "torch adam ms | clara_ref adam / torch | clara_ref adam-fused / torch | clara_ref adam-clara / torch | "
          "spread (max/min) adam, adam-fused, adam-clara, torch")
    print("---|---|---|---|---|---|---|---|---|---|---")
    for kind, batch, n, timed in rows:
        best = {k: t for k, (t, _) in timed.items()}
        spread = {k: sp for k, (_, sp) in timed.items()}
        print(f"{kind} | {batch} | {n:,} | {1e3 * best['adam']:.2f} | {1e3 * best['adam-fused']:.2f} | "
              f"{1e3 * best['adam-clara']:.2f} | {1e3 * best['torch']:.2f} | {best['adam'] / best['torch']:.2f}x | "
              f"{best['adam-fused'] / best['torch']:.2f}x | {best['adam-clara'] / best['torch']:.2f}x | "
              f"{spread['adam']:.2f}, {spread['adam-fused']:.2f}, {spread['adam-clara']:.2f}, {spread['torch']:.2f}")
    print()
    for kind, batch, _, timed in rows:
        if kind == "mnist_mlp":
            # forward, weight gradients and input gradients (none for the first layer, whose input is the data)
            layers = (784 * 256, 256 * 128, 128 * 10)
            flops = 2 * batch * (3 * sum(layers) - layers[0])
            print(f"{kind} b{batch}: {flops / 1e6:.0f} MFLOP of matrix products per step, "
                  f"{1e3 * flops / peak / 1e9:.2f} ms at the GEMM peak; the gradient alone (loss_and_grad; "
                  f"torch's zero_grad, forward, backward) {1e3 * timed['ours grad'][0]:.2f} ms against torch's "
                  f"{1e3 * timed['torch grad'][0]:.2f}, Adam's update alone {1e3 * timed['ours update'][0]:.2f} ms "
                  f"(fused {1e3 * timed['ours fused update'][0]:.2f}) against torch.optim.Adam's "
                  f"{1e3 * timed['torch update'][0]:.2f}")
        else:
            t = timed["products"][0]
            print(f"{kind}: {cnn_flops / 1e9:.1f} GFLOP of matrix products per step, "
                  f"{1e3 * cnn_flops / peak / 1e9:.0f} ms at the GEMM peak; the same products alone, in the shapes "
                  "of clara_ref's step, took "
                  f"{1e3 * t:.0f} ms ({cnn_flops / t / 1e9:.0f} GFLOP/s), so the rest of clara_ref's adam step took "
                  f"{1e3 * (timed['adam'][0] - t):.0f} ms; torch's whole step {1e3 * timed['torch'][0]:.0f} ms")
    steps = {"mnist_mlp": 469, "cifar10_cnn": 391}
    print()
    for kind, batch, _, timed in rows:
        if batch != 128:
            continue
        per_run = timed["adam-clara"][0] * steps[kind] * 100
        print(f"{kind}: one 100-epoch run ({steps[kind] * 100:,} steps) at this speed: clara_ref "
              f"{per_run / 3600:.2f} h, torch {timed['torch'][0] * steps[kind] * 100 / 3600:.2f} h "
              f"(training steps only)")
    if any(math.isnan(t) for *_, timed in rows for t, _ in timed.values()):
        raise SystemExit("a timing was NaN")


if __name__ == "__main__":
    main()
