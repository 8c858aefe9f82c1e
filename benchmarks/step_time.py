"""Time one optimizer step at n = 1e3, 1e5, 1e6 (float32 and float64), side by side in one run.

Compares, per (n, dtype): clara_ref ``adam``; ``clara(adam_direction())`` (its adaptation overhead over adam);
``sgd`` and ``clara(sgd_direction())``; and ``torch.optim.Adam`` with foreach on and off (if torch is installed,
2 threads), and "adam fused": Adam written the way clara_ref wrote it before its reference path became literal
(moments in the in-place lerp form m + (1-beta1)(g - m), bias corrections folded into the step), which measures what
the literal equations cost. The contenders are timed in turn within every repeat (interleaved), so a slow phase of a
noisy machine hits all of them; each figure is the median over ``--repeat`` repeats of the mean time of ``steps`` steps.

A second table measures the finite-state check that ends every update (``clara_ref._core.finite_result``: one
BLAS inner product per array of the new state) by timing ``adam``, ``clara(adam_direction())``, ``sgd`` and
``clara(sgd_direction())`` with it and, interleaved with them in the same repeats, with the check replaced by a
pass-through (for this benchmark only).
Run: ``python benchmarks/step_time.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import numpy as np

import importlib

import clara_ref as cr

#: the modules whose updates end with the finite-state check (``cr.clara`` is the factory, so by module name)
_CHECKED = tuple(importlib.import_module(f"clara_ref.{name}") for name in ("constant", "clara"))


def _unchecked(xp, step, g, theta, state, **_):
    return theta, state


@contextlib.contextmanager
def _without_check():
    """For this benchmark only: the updates of ``_CHECKED`` without their finite-state check."""
    saved = [m.finite_result for m in _CHECKED]
    for m in _CHECKED:
        m.finite_result = _unchecked
    try:
        yield
    finally:
        for m, f in zip(_CHECKED, saved):
            m.finite_result = f


def _plain(run):
    def unchecked(steps):
        with _without_check():
            run(steps)

    return unchecked


def _ours(opt, n, dtype):
    rng = np.random.default_rng(0)
    box = {"theta": rng.standard_normal(n).astype(dtype)}
    grads = [rng.standard_normal(n).astype(dtype) for _ in range(4)]
    box["state"] = opt.init(box["theta"])

    def run(steps):
        theta, state = box["theta"], box["state"]
        for k in range(steps):
            theta, state = opt.update(theta, grads[k % 4], state)
        box["theta"], box["state"] = theta, state

    return run


class _FusedAdamDirection(cr.directions.AdamDirection):
    """For this benchmark only: Adam with fewer passes over memory and the equations hidden (the old form)."""

    def propose(self, theta, g, state):
        t = state.t + 1
        m = g - state.m
        m *= 1.0 - self.beta1
        m += state.m
        v = g * g
        v -= state.v
        v *= 1.0 - self.beta2
        v += state.v
        s = np.sqrt(v)
        s *= 1.0 / np.sqrt(1.0 - self.beta2**t)
        s += self.eps
        s = m / s
        s *= 1.0 / (1.0 - self.beta1**t)
        return s, cr.directions.AdamDirectionState(t=t, m=m, v=v)


def _torch(n, dtype, foreach):
    import torch

    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    gen = torch.Generator().manual_seed(0)
    p = torch.nn.Parameter(torch.randn(n, generator=gen, dtype=tdtype))
    grads = [torch.randn(n, generator=gen, dtype=tdtype) for _ in range(4)]
    opt = torch.optim.Adam([p], lr=1e-3, foreach=foreach)

    def run(steps):
        for k in range(steps):
            p.grad = grads[k % 4]
            opt.step()

    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--check-sizes", type=int, nargs="*", default=[1_000_000],
                    help="sizes of the finite-state check's table (none: skip it)")
    args = ap.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(2)
        have_torch = True
    except ImportError:
        have_torch = False
    print(f"numpy {np.__version__}" + (f", torch {torch.__version__}" if have_torch else ", torch not installed"))
    header = ("n", "dtype", "adam us", "adam fused us", "literal cost", "clara-adam us", "overhead", "sgd us",
              "clara-sgd us", "overhead", "torch foreach us", "torch loop us", "adam / torch foreach")
    print(" | ".join(header))
    print("|".join(["---"] * len(header)))
    for n in args.sizes:
        steps = max(20, min(2000, 20_000_000 // (n * 10)))
        for dtype in (np.float32, np.float64):
            contenders = {"adam": _ours(cr.adam(1e-3), n, dtype),
                          "adam-fused": _ours(cr.constant.ConstantRate(_FusedAdamDirection(), 1e-3), n, dtype),
                          "clara-adam": _ours(cr.clara(cr.adam_direction(), 1e-3), n, dtype),
                          "sgd": _ours(cr.sgd(1e-3), n, dtype),
                          "clara-sgd": _ours(cr.clara(cr.sgd_direction(), 1e-3), n, dtype)}
            if have_torch:
                contenders["torch-foreach"] = _torch(n, dtype, True)
                contenders["torch-loop"] = _torch(n, dtype, False)
            times = {k: [] for k in contenders}
            for run in contenders.values():
                run(3)                                   # warm-up: caches, allocator, lazy references
            for _ in range(args.repeat):
                for name, run in contenders.items():
                    t0 = time.perf_counter()
                    run(steps)
                    times[name].append((time.perf_counter() - t0) / steps)
            t = {k: statistics.median(v) for k, v in times.items()}
            tcols = (f"{t['torch-foreach'] * 1e6:.1f}", f"{t['torch-loop'] * 1e6:.1f}",
                     f"{t['adam'] / t['torch-foreach']:.2f}x") if have_torch else ("-", "-", "-")
            print(" | ".join((f"{n:.0e}", np.dtype(dtype).name, f"{t['adam'] * 1e6:.1f}",
                              f"{t['adam-fused'] * 1e6:.1f}", f"{(t['adam'] / t['adam-fused'] - 1) * 100:+.0f}%",
                              f"{t['clara-adam'] * 1e6:.1f}",
                              f"{(t['clara-adam'] / t['adam'] - 1) * 100:+.0f}%", f"{t['sgd'] * 1e6:.1f}",
                              f"{t['clara-sgd'] * 1e6:.1f}", f"{(t['clara-sgd'] / t['sgd'] - 1) * 100:+.0f}%") + tcols))
    if args.check_sizes:
        _check_table(args)


def _check_table(args):
    print("\nThe finite-state check at the end of every update (same run, interleaved, median of the repeats)\n")
    header = ("n", "dtype", "optimizer", "with check us", "without us", "check cost")
    print(" | ".join(header))
    print("|".join(["---"] * len(header)))
    for n in args.check_sizes:
        steps = max(20, min(2000, 20_000_000 // (n * 10)))
        for dtype in (np.float32, np.float64):
            makers = {"adam": lambda: cr.adam(1e-3), "clara-adam": lambda: cr.clara(cr.adam_direction(), 1e-3),
                      "sgd": lambda: cr.sgd(1e-3), "clara-sgd": lambda: cr.clara(cr.sgd_direction(), 1e-3)}
            contenders = {}
            for name, make in makers.items():
                contenders[(name, True)] = _ours(make(), n, dtype)
                contenders[(name, False)] = _plain(_ours(make(), n, dtype))
            times = {k: [] for k in contenders}
            for run in contenders.values():
                run(3)
            for _ in range(args.repeat):
                for key, run in contenders.items():
                    t0 = time.perf_counter()
                    run(steps)
                    times[key].append((time.perf_counter() - t0) / steps)
            t = {k: statistics.median(v) for k, v in times.items()}
            for name in makers:
                on, off = t[(name, True)], t[(name, False)]
                print(" | ".join((f"{n:.0e}", np.dtype(dtype).name, name, f"{on * 1e6:.1f}", f"{off * 1e6:.1f}",
                                  f"{(on / off - 1) * 100:+.1f}%")))


if __name__ == "__main__":
    main()
