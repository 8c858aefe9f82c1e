"""ALeRA and SALeRA (arXiv 1709.01427): first factor 1, per-block rates, the Page-Hinkley alarm and backtrack."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clara_ref as cr
from clara_ref.testing import gradient_sequences


@settings(max_examples=40)
@given(seq=gradient_sequences(n=(2, 10), steps=(1, 2), scale=(0.01, 100.0)), C=st.sampled_from([1e-4, 0.1, 3.0]),
       c=st.sampled_from([0.01, 0.2, 0.6]), sigma=st.sampled_from(["exact", "2017"]),
       kind=st.sampled_from(["sgd", "adam"]))
def test_first_rate_factor_is_exactly_one(seq, C, c, sigma, kind):
    theta0, grads = seq
    direction = cr.sgd_direction() if kind == "sgd" else cr.adam_direction()
    n = theta0.shape[0]
    opt = cr.alera(direction, 0.1, c=c, C=C, sigma=sigma, blocks=(1, n - 1))
    _, state = opt.update(theta0, grads[0] + 1.0, opt.init(theta0))
    # |p_1|^2 = c^2 = mu_1 up to the rounding of a squared norm: the exponent is C * O(eps) / sigma.
    for f in state.multipliers:
        assert abs(f - 1.0) <= C * 8 * np.finfo(float).eps * c * c / min(
            cr.reference.random_walk_std(c, max(n - 1, 1)), c / math.sqrt(n)) + 1e-15


def test_rates_change_before_the_move_per_block():
    theta = np.zeros(4)
    opt = cr.alera(cr.sgd_direction(), 0.1, C=0.1, blocks=(2, 2))
    state = opt.init(theta)
    g = np.array([1.0, 1.0, 0.0, 0.0])          # block 2 has a zero gradient: its path only decays
    theta, state = opt.update(theta, g, state)
    theta, state = opt.update(theta, g, state)
    mu2 = cr.reference.random_walk_mean(0.2, 2)
    p1 = 0.2 * 0.8 + 0.2                           # two aligned unit steps in block 1: |p|^2 = (0.36)^2
    sigma = cr.reference.random_walk_std(0.2, 2)
    expected1 = 0.1 * math.exp(0.1 * (p1**2 - mu2) / sigma)
    # block 2's path stays 0, below mu_1 = c^2 and mu_2: its rate falls twice
    expected2 = 0.1 * math.exp(0.1 * (0.0 - 0.04) / sigma) * math.exp(0.1 * (0.0 - mu2) / sigma)
    assert state.etas == pytest.approx((expected1, expected2), rel=1e-12)
    # the move of step 2 used the rate adapted in step 2
    assert theta[0] == pytest.approx(-0.1 - expected1, rel=1e-12)
    assert state.eta == pytest.approx(math.sqrt(expected1 * expected2), rel=1e-12)   # equal block sizes


def test_C_for_damping_gives_clara_damping():
    C = cr.C_for_damping(1e-3, 650)
    mu, sigma = cr.reference.random_walk_mean(0.2), cr.reference.random_walk_std(0.2, 650)
    assert C * mu / sigma == pytest.approx(1e-3, rel=1e-12)


def _spike_run(backtrack=True):
    theta0 = np.array([1.0, -1.0])
    opt = cr.salera(cr.sgd_direction(), 0.1, C=0.01, mbratio=0.1, backtrack=backtrack)
    theta, state = theta0, opt.init(theta0)
    history = []
    losses = [1.0, 0.9, 0.8, 0.7, 30.0]          # a catastrophic jump at the 5th minibatch
    for f in losses:
        prev_theta, prev_state = theta, state
        theta, state = opt.update(theta, theta.copy(), state, loss=f)
        history.append((prev_theta, prev_state, theta, state))
    return history


def test_salera_halves_rates_and_restores_the_previous_iterate():
    history = _spike_run()
    for _, _, _, state in history[:4]:
        assert not state.alarm
    prev_theta, prev_state, theta, state = history[4]
    assert state.alarm and state.alarms == 1
    assert state.etas == tuple(e / 2 for e in prev_state.etas)
    np.testing.assert_array_equal(theta, prev_state.theta_prev)       # the iterate before the last update
    assert not np.array_equal(theta, prev_theta)
    assert state.t == prev_state.t                                    # the discarded step does not count
    assert state.ph.k == 0 and state.ph.U == 0.0                      # Page-Hinkley reset
    np.testing.assert_array_equal(state.alera.p, prev_state.alera.p)  # paths kept, as upstream


def test_salera_without_backtrack_keeps_the_iterate():
    prev_theta, _, theta, state = _spike_run(backtrack=False)[4]
    assert state.alarm
    np.testing.assert_array_equal(theta, prev_theta)


def test_salera_reset_options():
    theta0 = np.array([1.0, -1.0])
    opt = cr.salera(cr.sgd_direction(), 0.1, mbratio=0.1, reset_path_on_alarm=True, reset_t_on_alarm=True)
    theta, state = theta0, opt.init(theta0)
    for f in [1.0, 1.0, 50.0]:
        theta, state = opt.update(theta, theta.copy(), state, loss=f)
    assert state.alarm and state.alera.t == 0 and float(np.abs(state.alera.p).max()) == 0.0


def test_salera_stops_below_the_rate_floor():
    opt = cr.salera(cr.sgd_direction(), 3e-15, ph_threshold=0.5)
    theta, state = np.ones(2), opt.init(np.ones(2))
    theta, state = opt.update(theta, np.ones(2), state, loss=1.0)
    theta, state = opt.update(theta, np.ones(2), state, loss=10.0)   # alarm: 1.5e-15
    assert state.alarm
    for f in (1.0, 30.0):
        if f == 30.0:
            with pytest.raises(cr.RateFloorError, match="1e-15"):
                opt.update(theta, np.ones(2), state, loss=f)
        else:
            theta, state = opt.update(theta, np.ones(2), state, loss=f)


def test_salera_needs_a_loss_and_a_positive_first_loss():
    opt = cr.salera(cr.sgd_direction(), 0.1)
    state = opt.init(np.ones(2))
    with pytest.raises(ValueError, match="loss"):
        opt.update(np.ones(2), np.ones(2), state)
    with pytest.raises(ValueError, match="first loss"):
        opt.update(np.ones(2), np.ones(2), state, loss=0.0)


def test_salera_nonfinite_loss_is_an_alarm():
    opt = cr.salera(cr.sgd_direction(), 0.1)
    theta, state = np.ones(2), opt.init(np.ones(2))
    theta, state = opt.update(theta, np.ones(2), state, loss=1.0)
    theta2, state = opt.update(theta, np.full(2, np.nan), state, loss=float("inf"))
    assert state.alarm
    np.testing.assert_array_equal(theta2, np.ones(2))
