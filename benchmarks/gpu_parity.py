"""CuPy parity check for a machine with a GPU: every optimizer on CuPy arrays against NumPy, float64 and float32.

Run: ``python benchmarks/gpu_parity.py`` (needs cupy and a CUDA device). Prints one line per (optimizer, dtype)
with the maximal relative deviation of theta and eta after 30 steps, and exits non-zero if any float64 deviation
exceeds 1e-10 or any float32 deviation exceeds 1e-4 (the tolerances of tests/test_backends.py), or if an optimizer
leaves the GPU namespace. Checks the paper's CIFAR-10 CNN's gradient on CuPy against NumPy (float64, 1e-10) and
times its forward and backward pass; times one clara-adam step at n = 1e7 on the GPU against NumPy; checks
``clara_ref.torch.CLARA`` on CUDA tensors against ``clara_ref.clara`` (the torch port; its GPU timings come from
``python benchmarks/torch_port.py --device cuda``).
"""

from __future__ import annotations

import sys
import time

import numpy as np

import clara_ref as cr

OPTIMIZERS = {
    "sgd": lambda: cr.sgd(0.05),
    "adam": lambda: cr.adam(0.05, weight_decay=0.01),
    "clara-sgd": lambda: cr.clara(cr.sgd_direction(), 0.05, d=0.5),
    "clara-adam-unit-blocks": lambda: cr.clara(cr.adam_direction(), 0.05, d=0.3, move="unit", blocks=(3, 5)),
    "clara-adam-transient": lambda: cr.clara(cr.adam_direction(), 0.05, d="auto", transient=True),
    "alera": lambda: cr.alera(cr.adam_direction(), 0.05, C=0.05, blocks=(6, 2)),
    "salera": lambda: cr.salera(cr.sgd_direction(), 0.05, C=0.05),
    "dadapt_sgd": lambda: cr.dadapt_sgd(d0=1e-2, momentum=0.5),
    "dadapt_adam": lambda: cr.dadapt_adam(d0=1e-2, use_bias_correction=True),
    "prodigy": lambda: cr.prodigy(d0=1e-2, weight_decay=0.01),
}


def trajectory(make, to_xp, to_np, dtype, steps=30):
    opt = make()
    theta = to_xp(np.linspace(-1.0, 2.0, 8).astype(dtype))
    state = opt.init(theta)
    h = np.linspace(1.0, 8.0, 8)
    out = []
    for k in range(steps):
        t = to_np(theta).astype(np.float64)
        g = h * (t - 1.0) + 0.1 * np.random.default_rng([0, k]).standard_normal(8)
        theta, state = opt.update(theta, to_xp(g.astype(dtype)), state, loss=float(0.5 * np.sum(h * (t - 1) ** 2) + 1))
        out.append((to_np(theta), state.eta))
    return out, theta


def main() -> int:
    import cupy

    print(f"cupy {cupy.__version__}, device {cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()}")
    failed = False
    for name, make in OPTIMIZERS.items():
        for dtype, tol in ((np.float64, 1e-10), (np.float32, 1e-4)):
            ref, _ = trajectory(make, lambda a: a, lambda a: a, dtype)
            got, theta = trajectory(make, cupy.asarray, cupy.asnumpy, dtype)
            dt = max(float(np.max(np.abs(a - b))) / max(float(np.max(np.abs(a))), 1e-300) for (a, _), (b, _) in
                     zip(ref, got))
            de = max(abs(ea - eb) / abs(ea) for (_, ea), (_, eb) in zip(ref, got))
            ok = isinstance(theta, cupy.ndarray) and dt <= tol and de <= tol
            failed |= not ok
            print(f"{name:24s} {np.dtype(dtype).name}: theta {dt:.2e}, eta {de:.2e} {'ok' if ok else 'FAIL'}")
    # the paper's CIFAR-10 CNN: one loss_and_grad on CuPy against NumPy (float64: 1e-10), and its step time
    net = cr.models.paper_cnn()
    rng = np.random.default_rng(2)
    w = net.init(rng)
    X, y = rng.uniform(-1, 1, (16, 3072)), rng.integers(0, 10, 16)
    loss, g = net.loss_and_grad(w, X, y)
    loss_gpu, g_gpu = net.loss_and_grad(cupy.asarray(w), cupy.asarray(X), cupy.asarray(y))
    dev = float(np.max(np.abs(cupy.asnumpy(g_gpu) - g)) / np.max(np.abs(g)))
    ok = isinstance(g_gpu, cupy.ndarray) and dev <= 1e-10 and abs(loss_gpu - loss) <= 1e-10 * abs(loss)
    failed |= not ok
    print(f"{'paper_cnn loss_and_grad':24s} float64: gradient {dev:.2e} {'ok' if ok else 'FAIL'}")
    Xb = rng.uniform(-1, 1, (128, 3072)).astype(np.float32)
    yb = rng.integers(0, 10, 128)
    for label, xp in (("numpy", np), ("cupy", cupy)):
        w32, Xs, ys = xp.asarray(w.astype(np.float32)), xp.asarray(Xb), xp.asarray(yb)
        net.loss_and_grad(w32, Xs, ys)
        if xp is cupy:
            cupy.cuda.Stream.null.synchronize()
        t0 = time.perf_counter()
        for _ in range(3):
            net.loss_and_grad(w32, Xs, ys)
        if xp is cupy:
            cupy.cuda.Stream.null.synchronize()
        print(f"paper_cnn loss_and_grad, batch 128 float32, on {label}: {(time.perf_counter() - t0) / 3 * 1e3:.1f} ms")
    n = 10_000_000
    for label, xp in (("numpy", np), ("cupy", cupy)):
        theta = xp.asarray(np.random.default_rng(0).standard_normal(n))
        g = xp.asarray(np.random.default_rng(1).standard_normal(n))
        opt = cr.clara(cr.adam_direction(), 1e-3)
        state = opt.init(theta)
        theta, state = opt.update(theta, g, state)
        if xp is cupy:
            cupy.cuda.Stream.null.synchronize()
        t0 = time.perf_counter()
        for _ in range(10):
            theta, state = opt.update(theta, g, state)
        if xp is cupy:
            cupy.cuda.Stream.null.synchronize()
        print(f"clara-adam step at n = 1e7 on {label}: {(time.perf_counter() - t0) / 10 * 1e3:.2f} ms")
    failed |= torch_port_parity()
    return 1 if failed else 0


def torch_port_parity() -> bool:
    """clara_ref.torch.CLARA on CUDA tensors against clara_ref.clara on NumPy (float64: 1e-10, float32: 1e-4, as
    above), Adam and SGD, raw and unit moves, three tensors, 30 steps; True when one fails (or torch has no CUDA).
    The step and epoch timings on the GPU: ``python benchmarks/torch_port.py --device cuda``."""
    try:
        import torch
        from clara_ref.torch import CLARA
    except ImportError:
        print("torch port: torch is not installed, not checked")
        return True
    if not torch.cuda.is_available():
        print("torch port: torch has no CUDA device here, not checked")
        return True
    failed, shapes, rng = False, ((4, 3), (3,), (5,)), np.random.default_rng(7)
    sizes = tuple(int(np.prod(s)) for s in shapes)
    theta0 = rng.standard_normal(sum(sizes))
    grads = [rng.standard_normal(sum(sizes)) for _ in range(30)]
    for base in ("adam", "sgd"):
        for move in ("raw", "unit"):
            for dtype, tdtype, tol in ((np.float64, torch.float64, 1e-10), (np.float32, torch.float32, 1e-4)):
                direction = cr.adam_direction() if base == "adam" else cr.sgd_direction()
                ref = cr.clara(direction, 1e-2, d=0.3, move=move, blocks=sizes)
                theta, state = theta0.astype(dtype), ref.init(theta0.astype(dtype))
                cuts = np.cumsum((0,) + sizes)
                params = [torch.nn.Parameter(torch.tensor(theta[a:b].reshape(s), dtype=tdtype, device="cuda"))
                          for a, b, s in zip(cuts[:-1], cuts[1:], shapes)]
                opt = CLARA(params, 1e-2, base=base, d=0.3, move=move)
                for g in grads:
                    g = g.astype(dtype)
                    for p, a, b, s in zip(params, cuts[:-1], cuts[1:], shapes):
                        p.grad = torch.tensor(g[a:b].reshape(s), dtype=tdtype, device="cuda")
                    opt.step()
                    theta, state = ref.update(theta, g, state)
                got = np.concatenate([p.detach().cpu().numpy().ravel() for p in params])
                dev = float(np.max(np.abs(got - theta)) / np.max(np.abs(theta)))
                ok = dev <= tol and abs(opt.param_groups[0]["lr"] / state.eta - 1) <= tol
                failed |= not ok
                print(f"torch CLARA {base} {move} {np.dtype(dtype).name} on cuda: theta {dev:.2e} "
                      f"{'ok' if ok else 'FAIL'}")
    return failed


if __name__ == "__main__":
    sys.exit(main())
