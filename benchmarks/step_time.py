"""Time one optimizer step at n = 1e3, 1e5, 1e6 (float32 and float64), side by side in one run.

Compares, per (n, dtype): clara_ref ``adam``; ``clara(adam_direction())`` (its adaptation overhead over adam);
``clara(sgd_direction())`` over ``sgd``; and ``torch.optim.Adam`` with foreach on and off (if torch is installed).
Each figure is the median of ``--repeat`` timings of ``--steps`` steps. Run: ``python benchmarks/step_time.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import clara_ref as cr


def _time_ours(opt, n, dtype, steps, repeat):
    rng = np.random.default_rng(0)
    theta = rng.standard_normal(n).astype(dtype)
    grads = [rng.standard_normal(n).astype(dtype) for _ in range(4)]
    state = opt.init(theta)
    for k in range(3):                                  # warm up caches, the allocator and lazy references
        theta, state = opt.update(theta, grads[k % 4], state)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for k in range(steps):
            theta, state = opt.update(theta, grads[k % 4], state)
        times.append((time.perf_counter() - t0) / steps)
    return statistics.median(times)


def _time_torch(n, dtype, steps, repeat, foreach):
    import torch

    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    g = torch.Generator().manual_seed(0)
    p = torch.nn.Parameter(torch.randn(n, generator=g, dtype=tdtype))
    grads = [torch.randn(n, generator=g, dtype=tdtype) for _ in range(4)]
    opt = torch.optim.Adam([p], lr=1e-3, foreach=foreach)
    for k in range(3):
        p.grad = grads[k % 4]
        opt.step()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for k in range(steps):
            p.grad = grads[k % 4]
            opt.step()
        times.append((time.perf_counter() - t0) / steps)
    return statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(2)
        have_torch = True
    except ImportError:
        have_torch = False
    print(f"numpy {np.__version__}" + (f", torch {torch.__version__}" if have_torch else ", torch not installed"))
    header = ("n", "dtype", "adam us", "clara-adam us", "overhead", "sgd us", "clara-sgd us", "overhead",
              "torch foreach us", "torch loop us", "adam / torch foreach")
    print(" | ".join(header))
    print("|".join(["---"] * len(header)))
    for n in args.sizes:
        steps = max(5, min(2000, 20_000_000 // (n * 10)))
        for dtype in (np.float32, np.float64):
            a = _time_ours(cr.adam(1e-3), n, dtype, steps, args.repeat)
            ca = _time_ours(cr.clara(cr.adam_direction(), 1e-3), n, dtype, steps, args.repeat)
            s = _time_ours(cr.sgd(1e-3), n, dtype, steps, args.repeat)
            cs = _time_ours(cr.clara(cr.sgd_direction(), 1e-3), n, dtype, steps, args.repeat)
            if have_torch:
                tf = _time_torch(n, dtype, steps, args.repeat, True)
                tl = _time_torch(n, dtype, steps, args.repeat, False)
                tcols = (f"{tf * 1e6:.1f}", f"{tl * 1e6:.1f}", f"{a / tf:.2f}x")
            else:
                tcols = ("-", "-", "-")
            print(" | ".join((f"{n:.0e}", np.dtype(dtype).name, f"{a * 1e6:.1f}", f"{ca * 1e6:.1f}",
                              f"{(ca / a - 1) * 100:+.0f}%", f"{s * 1e6:.1f}", f"{cs * 1e6:.1f}",
                              f"{(cs / s - 1) * 100:+.0f}%") + tcols))


if __name__ == "__main__":
    main()
