"""The same algorithm code on other array namespaces: array_api_strict (float64, float32, its second device and
its device without float64) on CPU, and CuPy where a GPU exists. Gradients are generated on the host with NumPy
and converted, so every backend sees the same numbers.

Tolerances: float64 runs differ from NumPy only in the order of summation inside norms (BLAS dot against
vecdot): a few ulps, so relative 1e-10 over 15 steps. float32 runs are compared with NumPy float32 runs: relative
1e-4, i.e. about 1000 float32 ulps after 15 steps of compounded rounding.
"""

import numpy as np
import pytest

from .conftest import OPT_IDS, OPTIMIZERS, quad_loss, quadratic_grads

xps = pytest.importorskip("array_api_strict")

STEPS = 15


def _trajectory(opt, to_backend, to_numpy, dtype):
    theta_np = np.linspace(-1.0, 2.0, 8).astype(dtype)
    theta = to_backend(theta_np)
    state = opt.init(theta)
    out = []
    for k in range(STEPS):
        t_np = to_numpy(theta).astype(np.float64)
        g = to_backend(quadratic_grads(t_np, k).astype(dtype))
        theta, state = opt.update(theta, g, state, loss=quad_loss(t_np))
        assert isinstance(state.eta, float) and isinstance(state.t, int)
        out.append((to_numpy(theta), state.eta))
    return out, theta


def _compare(a, b, rtol):
    for (ta, ea), (tb, eb) in zip(a, b):
        np.testing.assert_allclose(tb, ta, rtol=rtol, atol=rtol * float(np.max(np.abs(ta))))
        assert eb == pytest.approx(ea, rel=rtol)


CASES = [("float64", None, np.float64, 1e-10), ("float32", None, np.float32, 1e-4),
         ("device2-float32", "device2", np.float32, 1e-4), ("no_float64", "no_float64", np.float32, 1e-4)]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("factory", [f for _, f in OPTIMIZERS], ids=OPT_IDS)
def test_array_api_strict_matches_numpy(factory, case):
    _, device, dtype, rtol = case
    dev = None if device is None else xps.Device(device)
    ref, _ = _trajectory(factory(), lambda a: a, lambda a: np.asarray(a), dtype)
    got, theta = _trajectory(factory(), lambda a: xps.asarray(a, device=dev),
                             lambda a: np.asarray(xps.asarray(a, device=xps.Device("CPU_DEVICE")))
                             if dev is not None else np.asarray(a), dtype)
    assert type(theta).__module__.startswith("array_api_strict")
    if dev is not None:
        assert theta.device == dev
    _compare(ref, got, rtol)


def _gpu_available():
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


@pytest.mark.skipif(not _gpu_available(), reason="CuPy with a GPU is not available")
@pytest.mark.parametrize("factory", [f for _, f in OPTIMIZERS], ids=OPT_IDS)
def test_cupy_matches_numpy(factory):
    import cupy

    ref, _ = _trajectory(factory(), lambda a: a, lambda a: np.asarray(a), np.float64)
    got, theta = _trajectory(factory(), cupy.asarray, cupy.asnumpy, np.float64)
    assert isinstance(theta, cupy.ndarray)
    _compare(ref, got, 1e-10)
