"""Time one optimizer step at n = 1e3, 1e5, 235,146, 1e6, 2,193,226 (float32 and float64), side by side in one run.

Compares, per (n, dtype): clara_ref ``adam`` (literal, the default), "adam unsliced" and "adam sliced", the same
update with Adam's lines forced over the whole vector in one pass or a slice of ``ADAM_SLICE`` entries at a time
(the library chooses by the length and by whether freed memory is kept: ``clara_ref.directions._sliced_from``), and
"adam fused" (``adam(..., fused=True)``: the bias corrections folded into the step, the form beside the literal
one, whose ratio is the "literal cost" column); ``clara(adam_direction())`` (its adaptation overhead over adam);
``sgd`` and ``clara(sgd_direction())``; and ``torch.optim.Adam`` with foreach on and off (if torch is installed).
Freed memory is kept for the next step (``clara_ref.allocator.keep_freed_memory``, as ``reproduce``'s workers
run); ``--glibc-defaults`` measures with glibc's own thresholds, where every fresh whole-vector array of a long
vector comes from fresh pages. The contenders are interleaved, in an order rotated every round, both sides pinned to
``--threads`` threads (threadpoolctl for NumPy's BLAS, ``torch.set_num_threads``; on more than one thread, each
timed call comes after 0.2 s of untimed calls of the same contender, so that the worker threads of the one before
have gone idle); each figure is the minimum over
``--repeat`` rounds of the mean time of ``steps`` steps, with the spread (max / min) of adam and torch beside it,
and the machine's float32 GEMM peak is printed in the header (``benchmarks/_timing.py``).

A second table measures the finite-state check that ends every update (``clara_ref._core.finite_result``: one
BLAS inner product per array of the new state) by timing ``adam``, ``clara(adam_direction())``, ``sgd`` and
``clara(sgd_direction())`` with it and, interleaved with them in the same rounds, with the check replaced by a
pass-through (for this benchmark only).
Run: ``python benchmarks/step_time.py [--threads 1]``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib

import numpy as np
from _timing import gemm_peak, pinned, race, settle_for, torch_threads

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
    """``steps`` updates from the same start at every call (the arrays are never mutated, so the start is reused):
    every call does the same work, and the untimed calls of ``race``'s settle cannot carry the rate of the rules on
    these pure-noise gradients past the range of the floats."""
    rng = np.random.default_rng(0)
    theta0 = rng.standard_normal(n).astype(dtype)
    grads = [rng.standard_normal(n).astype(dtype) for _ in range(4)]
    state0 = opt.init(theta0)

    def run(steps):
        theta, state = theta0, state0
        for k in range(steps):
            theta, state = opt.update(theta, grads[k % 4], state)

    return run


def _forced(run, start):
    """For this benchmark only: the same Adam with its lines run a slice at a time from ``start`` entries on
    (``clara_ref.directions._sliced_from`` replaced while it runs): inf for one pass, 0 for slices at every length."""
    def forced(steps):
        saved = cr.directions._sliced_from
        cr.directions._sliced_from = lambda: start
        try:
            run(steps)
        finally:
            cr.directions._sliced_from = saved

    return forced


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


def _per_step(run, steps):
    return lambda: run(steps)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000, 235_146, 1_000_000, 2_193_226],
                    help="parameter counts [1,000 100,000 235,146 (the MNIST MLP) 1,000,000 2,193,226 (the CIFAR-10 "
                    "CNN)]")
    ap.add_argument("--repeat", type=int, default=9, help="rounds per contender (minimum reported) [9]")
    ap.add_argument("--threads", type=int, default=1, help="threads for NumPy's BLAS and torch alike [1]")
    ap.add_argument("--check-sizes", type=int, nargs="*", default=[1_000_000],
                    help="sizes of the finite-state check's table (none: skip it)")
    ap.add_argument("--glibc-defaults", action="store_true", help="keep glibc's malloc thresholds (by default freed "
                    "memory is kept for the next step, clara_ref.allocator, as reproduce's workers do)")
    args = ap.parse_args(argv)
    args.settle = settle_for(args.threads)            # benchmarks/_timing.py: the last call's threads go idle
    from clara_ref.allocator import keep_freed_memory

    kept = False if args.glibc_defaults else keep_freed_memory()
    try:
        import torch

        have_torch = True
    except ImportError:
        have_torch = False
    with pinned(args.threads):                       # benchmarks/_timing.py: NumPy's BLAS and torch alike
        peak = gemm_peak()
        print(f"numpy {np.__version__}" + (f", torch {torch.__version__}" if have_torch else ", torch not installed")
              + f"; {args.threads} thread(s) ({torch_threads()}); per-step minimum of {args.repeat} interleaved "
              f"rounds in rotated order; float32 GEMM peak {peak:.0f} GFLOP/s; freed memory kept "
              f"(clara_ref.allocator): {'yes' if kept else 'no'}")
        _step_table(args, have_torch)
        if args.check_sizes:
            _check_table(args)


def _step_table(args, have_torch):
    header = ("n", "dtype", "adam us", "adam unsliced us", "adam sliced us", "adam fused us", "literal cost",
              "clara-adam us",
              "overhead", "sgd us", "clara-sgd us", "overhead", "torch foreach us", "torch loop us",
              "adam / torch foreach", "spread (max/min) adam, torch foreach")
    print(" | ".join(header))
    print("|".join(["---"] * len(header)))
    for n in args.sizes:
        steps = max(20, min(2000, 20_000_000 // (n * 10)))
        for dtype in (np.float32, np.float64):
            contenders = {"adam": _ours(cr.adam(1e-3), n, dtype),
                          "adam-unsliced": _forced(_ours(cr.adam(1e-3), n, dtype), float("inf")),
                          "adam-sliced": _forced(_ours(cr.adam(1e-3), n, dtype), 0),
                          "adam-fused": _ours(cr.adam(1e-3, fused=True), n, dtype),
                          "clara-adam": _ours(cr.clara(cr.adam_direction(), 1e-3), n, dtype),
                          "sgd": _ours(cr.sgd(1e-3), n, dtype),
                          "clara-sgd": _ours(cr.clara(cr.sgd_direction(), 1e-3), n, dtype)}
            if have_torch:
                contenders["torch-foreach"] = _torch(n, dtype, True)
                contenders["torch-loop"] = _torch(n, dtype, False)
            timed = race({k: _per_step(run, steps) for k, run in contenders.items()}, args.repeat, args.settle)
            t = {k: best / steps for k, (best, _) in timed.items()}
            tcols = (f"{t['torch-foreach'] * 1e6:.1f}", f"{t['torch-loop'] * 1e6:.1f}",
                     f"{t['adam'] / t['torch-foreach']:.2f}x",
                     f"{timed['adam'][1]:.2f}, {timed['torch-foreach'][1]:.2f}") if have_torch else \
                ("-", "-", "-", f"{timed['adam'][1]:.2f}, -")
            print(" | ".join((f"{n:,}", np.dtype(dtype).name, f"{t['adam'] * 1e6:.1f}",
                              f"{t['adam-unsliced'] * 1e6:.1f}", f"{t['adam-sliced'] * 1e6:.1f}",
                              f"{t['adam-fused'] * 1e6:.1f}",
                              f"{(t['adam'] / t['adam-fused'] - 1) * 100:+.0f}%",
                              f"{t['clara-adam'] * 1e6:.1f}",
                              f"{(t['clara-adam'] / t['adam'] - 1) * 100:+.0f}%", f"{t['sgd'] * 1e6:.1f}",
                              f"{t['clara-sgd'] * 1e6:.1f}", f"{(t['clara-sgd'] / t['sgd'] - 1) * 100:+.0f}%") + tcols))


def _check_table(args):
    print("\nThe finite-state check at the end of every update (same run, interleaved in rotated order, minimum of "
          "the rounds)\n")
    header = ("n", "dtype", "optimizer", "with check us", "without us", "check cost", "spread with, without")
    print(" | ".join(header))
    print("|".join(["---"] * len(header)))
    for n in args.check_sizes:
        steps = max(20, min(2000, 20_000_000 // (n * 10)))
        for dtype in (np.float32, np.float64):
            makers = {"adam": lambda: cr.adam(1e-3), "clara-adam": lambda: cr.clara(cr.adam_direction(), 1e-3),
                      "sgd": lambda: cr.sgd(1e-3), "clara-sgd": lambda: cr.clara(cr.sgd_direction(), 1e-3)}
            contenders = {}
            for name, make in makers.items():
                contenders[(name, True)] = _per_step(_ours(make(), n, dtype), steps)
                contenders[(name, False)] = _per_step(_plain(_ours(make(), n, dtype)), steps)
            timed = race(contenders, args.repeat, args.settle)
            for name in makers:
                (on, s_on), (off, s_off) = timed[(name, True)], timed[(name, False)]
                print(" | ".join((f"{n:.0e}", np.dtype(dtype).name, name, f"{on / steps * 1e6:.1f}",
                                  f"{off / steps * 1e6:.1f}", f"{(on / off - 1) * 100:+.1f}%",
                                  f"{s_on:.2f}, {s_off:.2f}")))


if __name__ == "__main__":
    main()
