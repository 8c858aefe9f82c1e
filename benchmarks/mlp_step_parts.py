"""Where a clara_ref training run of the digits MLP goes: its loop timed part by part, and the parts' floors.

The run of ``benchmarks/mlp_throughput.py`` (digits, MLP 64-128-64-10, float32, literal Adam 1e-3, 50 epochs,
``--batch`` rows per minibatch), written as ``clara_ref.training.train`` runs it (the minibatches of
``clara_ref.data``, ``loss_and_grad_checked``, ``update``, and per epoch ``loss_checked`` and ``accuracy_checked``),
with a clock around each part. Timed alone on one minibatch, beside it: the gradient's matrix products (the
forward product of each layer, its weight gradient and, past the first, its input gradient), Adam's five lines
(``AdamDirection._lines``) and the update's checks (``check_state``, ``check_gradient``, ``finite_result``).
Each figure is the minimum over ``--repeat`` runs (the loop) or rounds (the parts alone); pinned to ``--threads``
threads; freed memory kept (``clara_ref.allocator``), as the throughput benchmark runs.

Run: ``python benchmarks/mlp_step_parts.py [--batch 32] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _timing import gemm_peak, pinned

import clara_ref as cr
from clara_ref import _core
from clara_ref._backend import check_gradient
from clara_ref.allocator import keep_freed_memory
from clara_ref.data import _batches
from clara_ref.layers import dense_forward


def loop(model, optimizer, data, batch, epochs):
    """One run, clocked by part: (minibatches, gradient, update, evaluation) seconds and the number of steps."""
    X, y, Xt, yt = data
    rng = np.random.default_rng(0)
    theta = model.init(rng).astype(np.float32)
    state = optimizer.init(theta)
    parts, steps = [0.0, 0.0, 0.0, 0.0], 0
    clock = time.perf_counter
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(epochs):
            batches = _batches(X, y, batch, rng)
            while True:
                t0 = clock()
                try:
                    Xb, yb = next(batches)
                except StopIteration:
                    parts[0] += clock() - t0
                    break
                t1 = clock()
                loss, g = model.loss_and_grad_checked(theta, Xb, yb)
                t2 = clock()
                theta, state = optimizer.update(theta, g, state, loss=loss)
                t3 = clock()
                parts[0] += t1 - t0
                parts[1] += t2 - t1
                parts[2] += t3 - t2
                steps += 1
            t0 = clock()
            model.loss_checked(theta, X, y)
            model.accuracy_checked(theta, Xt, yt)
            parts[3] += clock() - t0
    return parts, steps


def alone(f, calls=2000, repeat=5) -> float:
    """Microseconds per call of ``f``: the minimum over ``repeat`` rounds of ``calls`` calls."""
    f()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(calls):
            f()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best * 1e6


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32, help="rows per minibatch [32]")
    ap.add_argument("--epochs", type=int, default=50, help="epochs of the run [50]")
    ap.add_argument("--repeat", type=int, default=5, help="runs of the loop (minimum) [5]")
    ap.add_argument("--threads", type=int, default=1, help="threads for NumPy's BLAS [1]")
    args = ap.parse_args(argv)
    kept = keep_freed_memory()
    X, y, Xt, yt = cr.data.load("digits", seed=0)
    data = (X.astype(np.float32), y, Xt.astype(np.float32), yt)
    model, optimizer = cr.models.mlp((64, 128, 64, 10)), cr.adam(1e-3)
    with pinned(args.threads):
        peak = gemm_peak()
        runs = [loop(model, optimizer, data, args.batch, args.epochs) for _ in range(args.repeat)]
        (batches, grad, update, evaluation), steps = min(runs, key=lambda r: sum(r[0]))
        rng = np.random.default_rng(1)
        theta = model.init(rng).astype(np.float32)
        Xb, yb = data[0][:args.batch], data[1][:args.batch]
        loss, g = model.loss_and_grad_checked(theta, Xb, yb)
        state = optimizer.update(theta, g, optimizer.init(theta), loss=loss)[1]
        Ws, _ = model._unpack(theta)
        acts = dense_forward(np, Xb, Ws, model._unpack(theta)[1])
        dzs = [rng.standard_normal(a.shape).astype(np.float32) for a in acts[1:]]

        def products():
            for k, W in enumerate(Ws):
                acts[k] @ W
                acts[k].T @ dzs[k]
                if k:
                    dzs[k] @ W.T

        direction, dstate = optimizer.direction, state.direction
        new = optimizer.update(theta, g, state, loss=loss)

        def checks():
            optimizer.check_state(state, theta)
            check_gradient(np, theta, g, step=state.t + 1)
            _core.finite_result(np, state.t + 1, g, new[0], new[1], direction=direction, before=theta,
                                known=(new[1].direction.m, new[1].direction.v))

        floors = {"products": alone(products), "lines": alone(lambda: direction._lines(np, state.t + 1, g, dstate.m,
                                                                                     dstate.v)),
                  "checks": alone(checks)}
    us = 1e6 / steps
    print(f"numpy {np.__version__}; {args.threads} thread(s); digits MLP 64-128-64-10, float32, Adam 1e-3, batch "
          f"{args.batch}, {args.epochs} epochs ({steps} steps); loop: the minimum of {args.repeat} runs; float32 GEMM "
          f"peak {peak:.0f} GFLOP/s; freed memory kept (clara_ref.allocator): {'yes' if kept else 'no'}")
    print()
    print("part | whole run s | per step us | alone on one minibatch, per call us")
    print("---|---|---|---")
    print(f"minibatches | {batches:.3f} | {batches * us:.1f} |")
    print(f"gradient (loss_and_grad_checked) | {grad:.3f} | {grad * us:.1f} | its matrix products "
          f"{floors['products']:.1f}")
    print(f"update (Adam) | {update:.3f} | {update * us:.1f} | its five lines {floors['lines']:.1f}; its checks "
          f"{floors['checks']:.1f}")
    print(f"per-epoch loss and accuracy | {evaluation:.3f} | {evaluation * us:.1f} |")
    print(f"total | {batches + grad + update + evaluation:.3f} | |")


if __name__ == "__main__":
    main()
