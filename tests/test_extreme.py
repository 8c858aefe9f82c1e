"""Extreme gradients: 1000 updates of every optimizer on gradients of 1e200, 1e-300, subnormals, alternating signs
and zeros end with a finite theta and state, or stop with the library's named error; never with inf or NaN
returned silently (hypothesis draws the kind, the dtype, the signs and the scale)."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clara_ref as cr
from clara_ref._core import _leaves

from .conftest import OPT_IDS, OPTIMIZERS

#: the largest, a tiny normal and a subnormal magnitude per dtype (float32's largest is 3.4e38, its smallest normal
#: 1.2e-38, its smallest subnormal 1.4e-45)
SCALES = {np.float64: (1e200, 1e-300, 5e-324), np.float32: (1e30, 1e-37, 1.4e-45)}
KINDS = ("huge", "tiny", "subnormal", "alternating", "zeros", "mixed")
#: what may stop a run: the update that would have made the state non-finite, a rate that left the floats,
#: SALeRA's rate floor (each names the step); nothing else
NAMED = (cr.NonFiniteStateError, cr.LearningRateError, cr.RateFloorError)


def _gradient(kind, dtype, k, signs, rng):
    huge, tiny, sub = SCALES[dtype]
    n = signs.shape[0]
    if kind == "zeros":
        g = np.zeros(n)
    elif kind == "alternating":
        g = huge * signs * (-1) ** k
    elif kind == "mixed":
        g = np.choose(rng.integers(0, 4, n), [np.full(n, huge), np.full(n, tiny), np.full(n, sub), np.zeros(n)])
        g = g * signs
    else:
        g = {"huge": huge, "tiny": tiny, "subnormal": sub}[kind] * signs
    return g.astype(dtype)


@pytest.mark.parametrize("factory", [f for _, f in OPTIMIZERS], ids=OPT_IDS)
@settings(max_examples=6)
@given(kind=st.sampled_from(KINDS), dtype=st.sampled_from([np.float64, np.float32]),
       signs=st.lists(st.sampled_from([-1.0, 1.0]), min_size=8, max_size=8), seed=st.integers(0, 2**16))
def test_extreme_gradients_end_finite_or_raise_a_named_error(factory, kind, dtype, signs, seed):
    opt = factory()
    theta = np.linspace(-1.0, 1.0, 8).astype(dtype)            # 8: the block sizes of the fixtures
    state = opt.init(theta)
    signs, rng = np.array(signs), np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)             # numpy reports the overflows it computes
        for k in range(1000):
            g = _gradient(kind, dtype, k, signs, rng)
            try:
                theta, state = opt.update(theta, g, state, loss=1.0)
            except NAMED as exc:
                assert f"step {state.t + 1}" in str(exc)              # the update that was refused is named
                break
            except ValueError as exc:
                # DAdaptSGD divides by the first gradient's norm (upstream divides by zero)
                assert kind == "zeros" and k == 0 and "the first gradient is zero" in str(exc)
                break
    assert np.all(np.isfinite(theta)) and theta.dtype == dtype
    for name, leaf in _leaves(state, "state"):
        finite = np.all(np.isfinite(leaf)) if hasattr(leaf, "dtype") else math.isfinite(leaf)
        assert finite, f"{name} is not finite after {state.t} updates"
