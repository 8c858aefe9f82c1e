"""Properties of CLARA stated as mathematical facts: first path, fixed point, sign of the change,
scale invariance, reduction to the base optimizer, float32 against float64, inputs untouched."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clara_ref as cr
from clara_ref.testing import clara_hyperparameters, gradient_sequences

DIRECTIONS = {"sgd": cr.sgd_direction, "adam": cr.adam_direction}


def _run(opt, theta0, grads):
    theta, state = theta0, opt.init(theta0)
    out = []
    for g in grads:
        theta, state = opt.update(theta, g, state)
        out.append((theta, state))
    return out


@settings(max_examples=40)
@given(seq=gradient_sequences(n=(1, 10), steps=(1, 3)), kind=st.sampled_from(["sgd", "adam"]),
       c=st.sampled_from([0.05, 0.2, 0.7, 1.0]), split=st.booleans())
def test_first_path_is_c_squared_per_block(seq, kind, c, split):
    theta0, grads = seq
    n = theta0.shape[0]
    blocks = (1, n - 1) if split and n > 1 else None
    K = 1 if blocks is None else 2
    opt = cr.clara(DIRECTIONS[kind](), 0.1, c=c, blocks=blocks)
    _, state = opt.update(theta0, grads[0] + 1.0, opt.init(theta0))   # +1: no zero block
    assert state.p_sq == pytest.approx(K * c * c, rel=1e-14)


@settings(max_examples=40)
@given(seq=gradient_sequences(n=(1, 10), steps=(2, 15)), kind=st.sampled_from(["sgd", "adam"]),
       d=st.sampled_from([1e-3, 0.1, 2.0]))
def test_rate_moves_in_the_sign_of_the_difference(seq, kind, d):
    theta0, grads = seq
    opt = cr.clara(DIRECTIONS[kind](), 0.1, d=d)
    prev = 0.1
    for _, state in _run(opt, theta0, grads):
        diff = state.p_sq - state.reference
        log_change = math.log(state.eta / prev)
        assert math.isclose(log_change, d * diff / state.reference, rel_tol=1e-9, abs_tol=1e-15)
        assert np.sign(log_change) == np.sign(diff) or abs(diff) < 1e-15
        prev = state.eta


def test_rate_is_unchanged_at_the_reference():
    # After one step |p|^2 = c^2 exactly; with reference = c^2 the multiplier is exp(0) up to float rounding.
    theta = np.array([1.0, -2.0, 0.5])
    opt = cr.clara(cr.adam_direction(), 0.3, c=0.2, d=5.0, reference=0.04)
    _, state = opt.update(theta, theta * 3, opt.init(theta))
    assert abs(state.multiplier - 1.0) <= 5.0 * 4 * np.finfo(float).eps / 0.04   # d * rounding of p_sq / ref
    assert abs(state.eta - 0.3) <= 1e-13


@settings(max_examples=40)
@given(seq=gradient_sequences(n=(1, 8), steps=(1, 20)), kind=st.sampled_from(["sgd", "adam"]),
       move=st.sampled_from(["raw", "unit"]), scale=st.floats(1e-3, 1e3))
def test_unit_direction_invariant_to_positive_scaling(seq, kind, move, scale):
    theta0, grads = seq
    direction = cr.sgd_direction() if kind == "sgd" else cr.adam_direction(eps=0.0)
    if kind == "adam":
        grads = [g + 1.0 for g in grads]      # eps = 0 needs v_hat > 0 in every coordinate
    a = _run(cr.clara(direction, 0.01, d=0.5, move="unit"), theta0, grads)
    b = _run(cr.clara(direction, 0.01, d=0.5, move="unit"), theta0, [scale * g for g in grads])
    for (ta, sa), (tb, sb) in zip(a, b):
        np.testing.assert_allclose(sb.p, sa.p, rtol=1e-9, atol=1e-12)
        assert sb.eta == pytest.approx(sa.eta, rel=1e-9)
        if kind == "adam" or move == "unit":
            np.testing.assert_allclose(tb, ta, rtol=1e-9, atol=1e-12)


@settings(max_examples=30)
@given(seq=gradient_sequences(n=(1, 8), steps=(1, 20)), kind=st.sampled_from(["sgd", "adam"]),
       path_of=st.sampled_from(["step", "gradient"]))
def test_zero_damping_is_the_base_optimizer(seq, kind, path_of):
    theta0, grads = seq
    base = cr.sgd(0.01) if kind == "sgd" else cr.adam(0.01)
    ours = cr.clara(DIRECTIONS[kind](), 0.01, d=0.0, path_of=path_of)
    for (tb, sb), (tc, sc) in zip(_run(base, theta0, grads), _run(ours, theta0, grads)):
        np.testing.assert_array_equal(tc, tb)          # bit for bit: the same operations in the same order
        assert sc.eta == 0.01


@settings(max_examples=25)
@given(seq=gradient_sequences(n=(2, 10), steps=(1, 25), scale=(0.1, 10.0)), hp=clara_hyperparameters(),
       kind=st.sampled_from(["sgd", "adam"]))
def test_float32_agrees_with_float64(seq, hp, kind):
    theta0, grads = seq
    opt = cr.clara(DIRECTIONS[kind](), **hp)
    r64 = _run(opt, theta0, grads)
    r32 = _run(opt, theta0.astype(np.float32), [g.astype(np.float32) for g in grads])
    assert r32[-1][0].dtype == np.float32
    # float32 rounding (eps32 = 1.2e-7) compounds over T steps through the rate: allow a generous multiple.
    tol = 1e-4 * len(grads)
    for (t64, s64), (t32, s32) in zip(r64, r32):
        scale = max(1.0, float(np.max(np.abs(t64))))
        assert float(np.max(np.abs(t32 - t64))) <= tol * scale
        assert s32.eta == pytest.approx(s64.eta, rel=tol)


def test_inputs_are_left_unchanged(optimizer_factory):
    opt = optimizer_factory()
    theta = np.linspace(-1, 1, 8)
    g = np.linspace(2, -3, 8)
    theta_copy, g_copy = theta.copy(), g.copy()
    state = opt.init(theta)
    theta1, state1 = opt.update(theta, g, state, loss=1.0)
    snapshot = [np.array(x, copy=True) if hasattr(x, "shape") else x for x in _leaves(state1)]
    opt.update(theta1, g, state1, loss=1.0)
    np.testing.assert_array_equal(theta, theta_copy)
    np.testing.assert_array_equal(g, g_copy)
    for before, after in zip(snapshot, _leaves(state1)):
        if hasattr(before, "shape"):
            np.testing.assert_array_equal(after, before)
        else:
            assert after == before


def _leaves(state):
    for x in state:
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            yield from _leaves(x)
        else:
            yield x


def test_d_auto_is_twice_the_exact_null_spread():
    opt = cr.clara(cr.sgd_direction(), 0.1, d="auto", blocks=(650, 10))
    state = opt.init(np.zeros(660))
    expected = 2 * math.sqrt(cr.reference.random_walk_std(0.2, 650) ** 2 + cr.reference.random_walk_std(0.2, 10) ** 2)
    assert state.d == pytest.approx(expected, rel=1e-14)


def test_default_reference_is_sum_of_block_expectations():
    opt = cr.clara(cr.adam_direction(), 0.1, blocks=(2, 62))
    state = opt.init(np.zeros(64))
    assert state.reference == pytest.approx(0.6030 + 0.6804, abs=2e-4)
    rw = cr.clara(cr.adam_direction(), 0.1, blocks=(2, 62), reference="random_walk").init(np.zeros(64))
    assert rw.reference == pytest.approx(2 * 0.2 / 1.8, rel=1e-14)
    grad_path = cr.clara(cr.adam_direction(), 0.1, blocks=(2, 62), path_of="gradient").init(np.zeros(64))
    assert grad_path.reference == pytest.approx(2 * 0.2 / 1.8, rel=1e-14)


def test_transient_reference_starts_at_c_squared():
    opt = cr.clara(cr.sgd_direction(), 0.1, d=1.0, transient=True)
    theta = np.ones(5)
    _, state = opt.update(theta, theta, opt.init(theta))
    assert state.reference == pytest.approx(0.04, rel=1e-14)
    assert state.eta == pytest.approx(0.1, rel=1e-13)         # |p_1|^2 equals its transient expectation


def test_aligned_gradients_raise_the_rate_and_noise_keeps_it():
    rng = np.random.default_rng(0)
    theta = np.zeros(50)
    opt = cr.clara(cr.sgd_direction(), 1e-3, d=0.1)
    state = opt.init(theta)
    for _ in range(100):
        theta, state = opt.update(theta, np.ones(50), state)
    assert state.eta > 1e-3 * math.exp(0.1 * 100 * 6)      # P/mu -> 1/mu = 9: log eta grows by up to 8d per step
    state = opt.init(theta)
    etas = []
    for _ in range(2000):
        theta, state = opt.update(theta, rng.standard_normal(50), state)
        etas.append(math.log(state.eta / 1e-3))
    # Under pure noise log eta is a zero-drift random walk: its mean over the run stays within a few noise units.
    assert abs(np.mean(etas)) < 1.0


def test_bounds_clamp_explicitly_and_guard_refuses_overflow():
    theta = np.zeros(3)
    opt = cr.clara(cr.sgd_direction(), 1.0, d=500.0, eta_max=10.0)
    state = opt.init(theta)
    for _ in range(5):
        theta, state = opt.update(theta, np.ones(3), state)
    assert state.eta == 10.0
    unbounded = cr.clara(cr.sgd_direction(), 1.0, d=500.0)
    st0 = unbounded.init(np.zeros(3))
    _, st1 = unbounded.update(np.zeros(3), np.ones(3), st0)
    with pytest.raises(cr.LearningRateError, match="step"):
        th, st = np.zeros(3), st1
        for _ in range(50):
            th, st = unbounded.update(th, np.ones(3), st)


def test_on_pure_noise_only_the_mismatched_pair_drifts():
    """The correction of arXiv 2508.05408 on the null hypothesis: Adam under pure-noise gradients (n = 15, six seeds,
    1,200 steps after a 200-step burn-in, d = 1e-3) with the three rules. The change of log eta over the window is
    d sum_t (P_t / ref - 1); its mean is 0 when ref = E P, and its spread over seeds is the null spread s.

    * CLARA (Adam's steps against Adam's own reference) and the 2017 choice (the gradients against the random walk,
      exact for i.i.d. unit vectors) stay within one null spread: |mean| <= s (their bias, from the kappa series'
      neglect of v_hat's noise, is about 1e-4 of the reference, about 0.1 s here).
    * The mismatched pair (Adam's steps against the random walk's c/(2-c)) drifts by d W (mu_Adam(15)/mu - 1)
      = 1e-3 x 1200 x (0.6735/0.1111 - 1) = 6.07, which is tens of its own null spreads; its mean matches that closed
      form within 3 standard errors of a mean of six (s / sqrt(6)) plus the series' 1e-4 bias."""
    f = cr.objectives.get("pure_noise", n=15, noise=1.0)
    burn, window, seeds = 200, 1200, range(6)
    rules = {"clara": dict(path_of="step", reference="direction"),
             "mismatched": dict(path_of="step", reference="random_walk"),
             "gradient": dict(path_of="gradient", reference="random_walk")}
    drift = {}
    for name, kw in rules.items():
        opt = cr.clara(cr.adam_direction(), 1e-3, d=1e-3, **kw)
        runs = [cr.optimize(f, opt, steps=burn + window, seed=s).eta for s in seeds]
        drift[name] = np.array([math.log(eta[-1] / eta[burn]) for eta in runs])
    for name in ("clara", "gradient"):
        assert abs(drift[name].mean()) <= drift[name].std(ddof=1), (name, drift[name])
    mis = drift["mismatched"]
    spread = mis.std(ddof=1)
    assert mis.mean() > 10 * spread
    mu_adam = cr.reference.path_sq_norm_mean(cr.adam_direction(), n=15)
    expected = 1e-3 * window * (mu_adam / cr.reference.random_walk_mean(0.2) - 1.0)
    assert abs(mis.mean() - expected) <= 3 * spread / math.sqrt(len(seeds)) + 1e-3 * window * 1e-4 / 0.1111


def test_auto_damping_at_large_n_is_the_stated_multiple_of_one_over_sqrt_n():
    """clara.py's docstring: d = "auto" is 0.278/sqrt(n) for SGD and 0.601/sqrt(n) for Adam at large n (twice the
    null spread of P over its mean; the spread's next term is O(1/n) relative, 1e-6 at n = 10^6, far below the
    third digit)."""
    n = 10**6
    for direction, k in ((cr.sgd_direction(), 0.278), (cr.adam_direction(), 0.601)):
        d = cr.clara(direction, 1e-3, d="auto").init(np.zeros(n)).d
        assert round(d * math.sqrt(n), 3) == k


def test_the_rule_is_a_frozen_dataclass_that_holds_the_optimizers_checked_fields_under_their_names():
    """rate_control.validated checks every hyperparameter once; Clara and Alera keep the checked values and their
    rule holds them under one name each (CLARA's d is the rule's d; the 2017 C is the rule's d with score="z")."""
    import dataclasses

    from clara_ref.rate_control import PathRateControl

    opt = cr.clara(cr.adam_direction(), 1e-3, d="auto", blocks=[3, 2], c=0.5)
    rule = opt._rule
    assert isinstance(rule, PathRateControl) and (rule.d, rule.c, rule.blocks) == ("auto", 0.5, (3, 2))
    assert opt.blocks == (3, 2) and opt.d == "auto"
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.d = 1.0
    alera = cr.alera(cr.sgd_direction(), 1e-2, C=2e-4)
    assert (alera._rule.d, alera._rule.score, alera.C) == (2e-4, "z", 2e-4)
    with pytest.raises(ValueError, match="C must be"):
        cr.alera(cr.sgd_direction(), 1e-2, C=-1.0)
    with pytest.raises(ValueError, match="d must be"):
        cr.clara(cr.sgd_direction(), 1e-2, d=-1.0)
