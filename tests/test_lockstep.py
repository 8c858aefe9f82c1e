"""lockstep's comparison rules, checked without any framework: the port is Adam written as torch writes it (bias
corrections folded into the step size, eps scaled by sqrt(1 - beta2^t)), in NumPy. It computes the same update in
another order, so it differs from clara_ref by rounding only: a correct port in the sense of the harness."""

import math

import numpy as np
import pytest
from hypothesis import given, settings

import clara_ref as cr
from clara_ref.testing import TOLERANCES, adam_hyperparameters, gradient_sequences, lockstep


def folded_adam(theta0, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """torch.optim.Adam's single-tensor arithmetic: step = lr / bc1, denom = sqrt(v) / sqrt(bc2) + eps."""
    theta = np.array(theta0, copy=True)
    m, v, t = np.zeros_like(theta), np.zeros_like(theta), [0]
    dt = theta.dtype.type

    def step(g):
        t[0] += 1
        g = g + dt(weight_decay) * theta if weight_decay else g
        m[:] = m * dt(beta1) + g * dt(1 - beta1)
        v[:] = v * dt(beta2) + g * g * dt(1 - beta2)
        bc1, bc2 = 1 - beta1 ** t[0], 1 - beta2 ** t[0]
        denom = np.sqrt(v) / dt(math.sqrt(bc2)) + dt(eps)
        theta[:] = theta - dt(lr / bc1) * (m / denom)
        return theta.copy()

    return step


def test_an_iterate_that_lands_near_zero_is_not_a_deviation():
    """Adam at lr 1 from theta = 1 with g = 1 lands at about 1e-8; the two orders of arithmetic differ by an ulp of
    the operands (1e-16), which relative to theta_t alone would read 1e-8 and fail; scaled by the operands of the
    move (max(|theta_t|, |theta_t-1|)) it is 1e-16."""
    theta0, grads = np.array([1.0]), [np.array([1.0])]
    report = lockstep(cr.adam(1.0), folded_adam(theta0, 1.0), theta0, grads, compare="both")
    assert abs(report.theta[0]) < 1e-7 and report.max_theta_deviation < 1e-15


@settings(max_examples=60, deadline=None)
@given(seq=gradient_sequences(n=(1, 12), steps=(1, 30), dtype=np.float32), hp=adam_hyperparameters())
def test_a_correct_float32_port_passes_by_default_in_both_comparisons(seq, hp):
    """The tolerances follow the dtype the port returns: a float32 port is held to float32's, not float64's
    (it used to fail the default rtol 1e-10 at step 1, by 1.6e-7)."""
    theta0, grads = seq
    port = folded_adam(theta0, hp["eta0"], hp["beta1"], hp["beta2"], hp["eps"], hp["weight_decay"])
    report = lockstep(cr.adam(**hp), port, theta0, grads, compare="both")
    assert report.tolerances["theta"] == TOLERANCES["float32"]["theta"]


def master_weights_adam(theta0, lr):
    """A float32 port that keeps float64 master weights (mixed precision) and returns them rounded to float32: its
    trajectory is closer to the exact one than clara_ref's float32 run, and it rounds differently every step."""
    theta = np.array(theta0, dtype=np.float64)
    inner = folded_adam(theta, lr)
    return lambda g: inner(np.asarray(g, dtype=np.float64)).astype(np.float32)


def test_the_update_floor_is_two_ulps_of_theta():
    """At a rate so small that each update is a few ulps of theta, an update is known only to rounding: each side
    rounds theta_t and theta_t-1 (half an ulp each), so two correct ports can differ by up to 2 ulps. A correct
    float32 port that rounds differently passes compare="update" with that floor and fails without it."""
    from clara_ref.testing import compare

    rng = np.random.default_rng(0)
    theta0 = rng.uniform(1.0, 2.0, 50).astype(np.float32)
    grads = [rng.standard_normal(50).astype(np.float32) for _ in range(30)]
    report = lockstep(cr.adam(1e-6), master_weights_adam(theta0, 1e-6), theta0, grads, compare="update")
    assert report.max_update_deviation <= TOLERANCES["float32"]["update"]
    saved = compare.UPDATE_FLOOR_ULPS
    compare.UPDATE_FLOOR_ULPS = 0.0
    try:
        with pytest.raises(AssertionError, match="update"):
            lockstep(cr.adam(1e-6), master_weights_adam(theta0, 1e-6), theta0, grads, compare="update")
    finally:
        compare.UPDATE_FLOOR_ULPS = saved


def test_a_one_step_early_bias_correction_fails_in_both_precisions():
    def early(theta0, lr):
        theta, m, v, t = np.array(theta0, copy=True), np.zeros_like(theta0), np.zeros_like(theta0), [0]

        def step(g):
            t[0] += 1
            m[:] = 0.9 * m + 0.1 * g
            v[:] = 0.999 * v + 0.001 * g * g
            s = (m / (1 - 0.9 ** (t[0] + 1))) / (np.sqrt(v / (1 - 0.999 ** (t[0] + 1))) + 1e-8)   # t + 1: the bug
            theta[:] = theta - theta.dtype.type(lr) * s.astype(theta.dtype)
            return theta.copy()
        return step

    for dtype, compare in ((np.float64, "theta"), (np.float32, "update")):
        theta0 = np.linspace(-1, 1, 4).astype(dtype)
        grads = [np.array([1.0, -2.0, 0.5, 3.0], dtype=dtype)] * 3
        with pytest.raises(AssertionError, match="step 1"):
            lockstep(cr.adam(0.01), early(theta0, 0.01), theta0, grads, compare=compare)


def test_compare_update_looks_at_each_step_not_at_accumulated_drift():
    """A port that is off by 4% of its first update at step 1 (within rtol 0.05) and exact afterwards: its later
    updates equal the reference's, although its theta stays off by the first error, which is large against the
    later, smaller updates. Each side's update is taken from its own previous iterate."""
    theta0 = np.array([1.0, -2.0, 0.5])
    grads = [np.array([0.3, -0.1, 0.2]) / (k + 1) ** 2 for k in range(5)]

    def kicked(g, theta=theta0.copy(), k=[0]):
        k[0] += 1
        theta -= 0.1 * g * (1.04 if k[0] == 1 else 1.0)
        return theta.copy()

    report = lockstep(cr.sgd(0.1), kicked, theta0, grads, compare="update", rtol=0.05)
    assert 0.039 < report.max_update_deviation < 0.041
