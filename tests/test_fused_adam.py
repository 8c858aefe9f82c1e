"""The fused Adam direction (``adam(..., fused=True)``, clara_ref.directions.FusedAdamDirection) against the literal
one, with no torch: Algorithm 1 by hand, the lockstep harness over drawn hyperparameters and gradients (float64 and
float32, plain Adam and Adam-CLARA), the moments bit for bit, and the literal form staying the default."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clara_ref as cr
from clara_ref.testing import lockstep
from clara_ref.testing.strategies import adam_hyperparameters, clara_hyperparameters, gradient_sequences

from .test_directions import GRADIENTS, adam_by_hand


def optimizer_port(optimizer, theta0):
    """A port made of a clara_ref optimizer: its theta, the moments m and v, and its rate after every step."""
    box = {"theta": theta0.copy()}
    box["state"] = optimizer.init(box["theta"])

    def step(g):
        box["theta"], box["state"] = optimizer.update(box["theta"], g, box["state"])
        d = box["state"].direction
        return {"theta": box["theta"].copy(), "eta": box["state"].eta, "m": d.m, "v": d.v}

    return step


@pytest.mark.parametrize("beta1,beta2,eps", [(0.9, 0.999, 1e-8), (0.5, 0.9, 1e-3), (0.0, 0.99, 1e-8)])
def test_fused_adam_direction_is_algorithm_1(beta1, beta2, eps):
    """The folded corrections give Algorithm 1's s_t: each s is a handful of float64 operations from values that
    differ from the hand-written ones by rounding only (m and v are the same expressions), so they agree to a few
    tens of eps (2.2e-16) relative; 1e-14 is that bound with room. The gradients near eps (3e-8) make eps matter,
    so a folded eps without its sqrt(c2) fails here."""
    d = cr.adam_direction(beta1, beta2, eps, fused=True)
    state = d.init(np.zeros(3))
    for g, expected in zip(GRADIENTS, adam_by_hand(GRADIENTS, beta1, beta2, eps)):
        s, state = d.propose(np.zeros(3), np.array(g), state)
        np.testing.assert_allclose(s, expected, rtol=1e-14, atol=0)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.data(), hp=adam_hyperparameters(), dtype=st.sampled_from([np.float64, np.float32]))
def test_fused_adam_moves_with_the_literal_adam_in_lockstep(data, hp, dtype):
    """The lockstep harness, at its default tolerances for the port's dtype (clara_ref.testing.tolerances: what
    rounding alone makes two correct implementations disagree by), compares theta, the update and the moments
    after every step."""
    theta0, grads = data.draw(gradient_sequences(n=(1, 12), steps=(1, 30), dtype=dtype))
    report = lockstep(cr.adam(**hp), optimizer_port(cr.adam(**hp, fused=True), theta0), theta0, grads)
    assert report.steps == len(grads)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(data=st.data(), hp=clara_hyperparameters(), dtype=st.sampled_from([np.float64, np.float32]))
def test_adam_clara_on_the_fused_direction_moves_with_the_literal_one_in_lockstep(data, hp, dtype):
    """The rule reads the direction's steps: the fused form must give it the same path and so the same rate (eta
    compared at the harness's tolerance)."""
    theta0, grads = data.draw(gradient_sequences(n=(1, 12), steps=(1, 30), dtype=dtype))
    ours = cr.clara(cr.adam_direction(), **hp)
    port = optimizer_port(cr.clara(cr.adam_direction(fused=True), **hp), theta0)
    assert lockstep(ours, port, theta0, grads).steps == len(grads)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_fused_moments_are_the_literal_ones_bit_for_bit(dtype):
    """m_t and v_t are the same convex combinations, in the same order of rounding ((1-beta1) g + beta1 m and
    (1-beta2) g^2 + beta2 v, each product rounded, then the sum): equal, not close; only s folds the corrections.
    The caller's g and the state passed in stay as they were, and the dtype is kept."""
    rng = np.random.default_rng(3)
    literal, fused = cr.adam_direction(0.8, 0.99, 1e-6, weight_decay=0.1), \
        cr.adam_direction(0.8, 0.99, 1e-6, weight_decay=0.1, fused=True)
    theta = rng.standard_normal(50).astype(dtype)
    a, b = literal.init(theta), fused.init(theta)
    for _ in range(5):
        g = rng.standard_normal(50).astype(dtype)
        g_before, m_before, v_before = g.copy(), b.m.copy(), b.v.copy()
        old = b
        s_a, a = literal.propose(theta, g, a)
        s_b, b = fused.propose(theta, g, b)
        np.testing.assert_array_equal(b.m, a.m)
        np.testing.assert_array_equal(b.v, a.v)
        assert s_b.dtype == b.m.dtype == b.v.dtype == dtype
        np.testing.assert_array_equal(g, g_before)
        np.testing.assert_array_equal(old.m, m_before)
        np.testing.assert_array_equal(old.v, v_before)


def test_the_literal_form_stays_the_default_and_the_fused_one_is_named():
    assert type(cr.adam(1e-3).direction) is cr.directions.AdamDirection and cr.adam(1e-3).name == "adam"
    assert type(cr.adam_direction()) is cr.directions.AdamDirection
    fused = cr.adam(1e-3, fused=True)
    assert type(fused.direction) is cr.directions.FusedAdamDirection and fused.name == "adam-fused"
    assert fused.hyperparameters()["direction"] == "adam-fused"
    # the same pure-noise statistics: the closed forms do not depend on how s is computed
    assert fused.direction.null_mean(0.2, 100, None) == cr.adam_direction().null_mean(0.2, 100, None)
    with pytest.raises(ValueError, match="fused must be True or False"):
        cr.adam_direction(fused=1)


def test_a_squared_gradient_that_overflows_is_refused_in_the_fused_form_too():
    """g^2 = inf gives v = inf, a zero step for that coordinate and a frozen v: refused as in the literal form."""
    opt = cr.adam(1e-3, fused=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # numpy reports the overflow of g * g
        with pytest.raises(cr.NonFiniteStateError, match=r"g\*\*2"):
            opt.update(np.zeros(2), np.array([1e300, 1.0]), opt.init(np.zeros(2)))


def test_a_fused_state_saves_and_resumes_and_names_its_form(tmp_path):
    """A checkpoint of the fused form records its name: it resumes into the fused optimizer bit for bit and is
    refused by the literal one (another optimizer, by name), like any other mismatch of hyperparameters."""
    fused, literal = cr.adam(1e-2, fused=True), cr.adam(1e-2)
    rng = np.random.default_rng(5)
    theta, state = np.zeros(4), fused.init(np.zeros(4))
    for _ in range(3):
        theta, state = fused.update(theta, rng.standard_normal(4), state)
    path = tmp_path / "fused.npz"
    cr.checkpoint.save_state(path, state, optimizer=fused)
    back = cr.checkpoint.load_state(path, optimizer=fused)
    g = rng.standard_normal(4)
    np.testing.assert_array_equal(fused.update(theta, g, back)[0], fused.update(theta, g, state)[0])
    with pytest.raises(ValueError, match="adam-fused"):
        cr.checkpoint.load_state(path, optimizer=literal)
