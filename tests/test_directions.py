"""The directions against Kingma & Ba's Algorithm 1 written out by hand, with no torch: a few steps of Adam in plain
Python floats, coordinate by coordinate, and its behaviour at gradients whose square overflows."""

import math
import warnings

import numpy as np
import pytest

import clara_ref as cr


def adam_by_hand(gs, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, theta=None):
    """Algorithm 1 of arXiv 1412.6980 for one coordinate at a time, in Python floats: the directions s_t."""
    out = []
    n = len(gs[0])
    m, v = [0.0] * n, [0.0] * n
    for t, g in enumerate(gs, start=1):
        s = []
        for i in range(n):
            gi = g[i] + (weight_decay * theta[i] if weight_decay else 0.0)
            m[i] = beta1 * m[i] + (1 - beta1) * gi
            v[i] = beta2 * v[i] + (1 - beta2) * gi * gi
            m_hat = m[i] / (1 - beta1**t)
            v_hat = v[i] / (1 - beta2**t)
            s.append(m_hat / (math.sqrt(v_hat) + eps))
        out.append(s)
    return out


# gradients whose size is near eps (3e-8) make eps matter; 5.0 and -0.25 do not
GRADIENTS = [[5.0, -0.25, 3e-8], [-1.0, 0.5, 1e-8], [2.0, 0.0, -4e-8], [0.5, -0.75, 2e-8]]


@pytest.mark.parametrize("beta1,beta2,eps", [(0.9, 0.999, 1e-8), (0.5, 0.9, 1e-3), (0.0, 0.99, 1e-8)])
def test_adam_direction_is_algorithm_1(beta1, beta2, eps):
    d = cr.adam_direction(beta1, beta2, eps)
    state = d.init(np.zeros(3))
    for g, expected in zip(GRADIENTS, adam_by_hand(GRADIENTS, beta1, beta2, eps)):
        s, state = d.propose(np.zeros(3), np.array(g), state)
        # the same operations as the hand version, in a different order at most: a few float64 roundings
        np.testing.assert_allclose(s, expected, rtol=1e-14, atol=0)


def test_adam_moves_by_eta_times_the_direction_and_weight_decay_is_coupled():
    """theta_t = theta_{t-1} - eta s_t with s_t from Algorithm 1 on g_t + lambda theta_{t-1}, all by hand."""
    eta, lam = 0.1, 0.3
    theta_hand = [1.0, -2.0, 0.5]
    m, v = [0.0] * 3, [0.0] * 3
    opt = cr.adam(eta, weight_decay=lam)
    theta, state = np.array(theta_hand), opt.init(np.array(theta_hand))
    for t, g in enumerate(GRADIENTS, start=1):
        for i in range(3):
            gi = g[i] + lam * theta_hand[i]
            m[i] = 0.9 * m[i] + 0.1 * gi
            v[i] = 0.999 * v[i] + 0.001 * gi * gi
            theta_hand[i] -= eta * (m[i] / (1 - 0.9**t)) / (math.sqrt(v[i] / (1 - 0.999**t)) + 1e-8)
        theta, state = opt.update(theta, np.array(g), state)
        np.testing.assert_allclose(theta, theta_hand, rtol=1e-14)
    assert state.t == 4 and state.direction.t == 4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("kept", [False, True])
def test_a_long_vector_goes_through_adam_a_slice_at_a_time_with_the_bits_of_one_pass(dtype, kept, fused, monkeypatch):
    """Adam's lines are elementwise, so running them a slice of ADAM_SLICE entries at a time (the NumPy path for
    long vectors) gives the bits of one pass over the whole vector: equal, not close. The slicing starts at
    ADAM_SLICED_FROM entries, or at ADAM_SLICED_FROM_KEPT where freed memory is kept (both set here, whatever this
    process did before), and a vector one entry shorter goes in one pass: the calls of the lines are counted. The
    length leaves a short last slice; weight decay and a few steps exercise every line; the caller's arrays stay as
    they were."""
    monkeypatch.setattr(cr.allocator, "_kept", kept)
    start = cr.directions.ADAM_SLICED_FROM_KEPT if kept else cr.directions.ADAM_SLICED_FROM
    n = start + 12_345
    assert n % cr.directions.ADAM_SLICE
    rng = np.random.default_rng(11)
    d = cr.adam_direction(0.8, 0.99, 1e-6, weight_decay=0.1, fused=fused)
    calls = []
    lines = type(d)._lines
    monkeypatch.setattr(type(d), "_lines", lambda self, *a: calls.append(a[2].shape[0]) or lines(self, *a))
    theta = rng.standard_normal(n).astype(dtype)
    state = whole = d.init(theta)
    for _ in range(3):
        g = rng.standard_normal(n).astype(dtype)
        old, g_before, m_before = state, g.copy(), state.m.copy()
        s, state = d.propose(theta, g, state)
        assert calls == [cr.directions.ADAM_SLICE] * (n // cr.directions.ADAM_SLICE) + [n % cr.directions.ADAM_SLICE]
        calls.clear()
        s_one, m_one, v_one = lines(d, np, whole.t + 1, d.gradient(theta, g), whole.m, whole.v)
        whole = cr.directions.AdamDirectionState(whole.t + 1, m_one, v_one)
        for ours, one_pass in ((s, s_one), (state.m, m_one), (state.v, v_one)):
            assert ours.dtype == dtype
            np.testing.assert_array_equal(ours, one_pass)
        np.testing.assert_array_equal(g, g_before)
        np.testing.assert_array_equal(old.m, m_before)          # the state passed in is not overwritten
    d.propose(theta[:start - 1], g[:start - 1], d.init(theta[:start - 1]))
    assert calls == [start - 1]


def test_sgd_direction_by_hand():
    d = cr.sgd_direction(weight_decay=0.5)
    s, st = d.propose(np.array([2.0, -4.0]), np.array([1.0, 1.0]), d.init(np.zeros(2)))
    assert s.tolist() == [1.0 + 0.5 * 2.0, 1.0 + 0.5 * -4.0] and st.t == 1


@pytest.mark.parametrize("dtype,size", [(np.float64, 1e300), (np.float32, 1e30)])
def test_adam_names_a_squared_gradient_that_overflows(dtype, size):
    """g^2 = inf makes v_hat = inf: the direction's step is 0 there, never inf - inf = NaN (as torch.optim.Adam),
    but v = inf would freeze that coordinate for good, so every Adam-based optimizer refuses the update with a
    NonFiniteStateError that names g**2, and the caller's theta and state stay as they were."""
    theta = np.ones(4, dtype=dtype)
    g = np.full(4, size, dtype=dtype)
    d = cr.adam_direction()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # numpy reports the overflow of g * g
        s, st = d.propose(theta, g, d.init(theta))
        assert np.all(s == 0) and np.all(np.isinf(st.v))
        for opt in (cr.adam(1e-3), cr.clara(cr.adam_direction(), 1e-3, d=1e-3)):
            state = opt.init(theta)
            before = state.direction.v.copy()
            with pytest.raises(cr.NonFiniteStateError, match=r"state.direction.v after the update at step 1 .*"
                                                             r"g\*\*2 overflowed"):
                opt.update(theta, g, state)
            assert np.array_equal(state.direction.v, before) and np.all(theta == 1)


def test_a_new_direction_works_in_clara_without_editing_it():
    """RMSprop written as a user would (a frozen dataclass deriving from Direction): clara takes it, and its
    pure-noise reference comes from a simulation of its own propose. RMSprop's unit steps under pure noise are
    uncorrelated (g_t is symmetric and independent of the past), so the reference is the random walk's c/(2-c)."""
    from dataclasses import dataclass
    from typing import NamedTuple

    from clara_ref.directions import Direction

    class RMSpropState(NamedTuple):
        t: int
        v: np.ndarray

    @dataclass(frozen=True)
    class RMSprop(Direction):
        alpha: float = 0.99
        eps: float = 1e-8
        name = "rmsprop"

        def init(self, theta):
            return RMSpropState(0, np.zeros_like(theta))

        def propose(self, theta, g, state):
            v = self.alpha * state.v + (1 - self.alpha) * g * g
            return g / (np.sqrt(v) + self.eps), RMSpropState(state.t + 1, v)

    direction = RMSprop()
    mu = cr.reference.path_sq_norm_mean(direction, c=0.2, n=10)
    # the simulation: 2000 trials at n = 10, sd of |p|^2 about 0.044 (R2), standard error 0.001; 5 se allowed
    assert mu == pytest.approx(0.2 / 1.8, abs=0.005)
    assert cr.reference.path_sq_norm_std(direction, c=0.2, n=10) == pytest.approx(
        cr.reference.random_walk_std(0.2, 10), rel=0.1)               # 2000 samples: sd known to about 2%
    opt = cr.clara(direction, 1e-3, d="auto")
    f = cr.objectives.get("sphere", n=10, noise=0.1)
    r = cr.optimize(f, opt, steps=300, seed=0)
    assert r.state.reference == pytest.approx(mu) and r.distance[-1] < 0.5 * r.distance[0]
    assert opt.hyperparameters()["direction"] == "rmsprop" and opt.hyperparameters()["alpha"] == 0.99


def test_eps_zero_on_a_zero_gradient_is_named_where_torch_gives_nan():
    """eps = 0 and a coordinate whose gradient is 0: m_hat / sqrt(v_hat) = 0 / 0. torch.optim.Adam returns NaN
    silently; clara_ref refuses the update and says why."""
    opt = cr.adam(0.1, eps=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                # numpy reports 0 / 0
        with pytest.raises(cr.NonFiniteStateError, match=r"non-finite theta .* eps = 0 and a coordinate whose "
                                                         r"gradient has been exactly 0"):
            opt.update(np.ones(2), np.array([0.0, 1.0]), opt.init(np.ones(2)))
        theta, _ = opt.update(np.ones(2), np.array([2.0, 1.0]), opt.init(np.ones(2)))
    assert theta.tolist() == pytest.approx([0.9, 0.9])
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    p.grad = torch.tensor([0.0, 1.0], dtype=torch.float64)
    torch.optim.Adam([p], lr=0.1, eps=0.0).step()
    q = p.detach()
    assert math.isnan(float(q[0])) and float(q[1]) == pytest.approx(0.9)


@pytest.mark.parametrize("make", [
    lambda: cr.clara(cr.adam_direction(eps=0.0), 0.1),
    lambda: cr.clara(cr.adam_direction(eps=0.0), 0.1, d="auto", blocks=(1, 1)),
    lambda: cr.alera(cr.adam_direction(eps=0.0), 0.1),
])
def test_eps_zero_inside_a_path_rule_names_eps_not_the_damping(make):
    """Inside CLARA the 0 / 0 step used to reach the path and the rate, and the rate guard then advised a lower
    damping; the step is now checked before the path sees it, and the cause named."""
    opt = make()
    state = opt.init(np.ones(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(cr.NonFiniteStateError, match=r"eps = 0 and a coordinate whose gradient has been exactly "
                                                         r"0 .*use eps > 0") as info:
            opt.update(np.ones(2), np.array([0.0, 1.0]), state)
    assert "damping" not in str(info.value)


def test_a_tiny_first_gradient_is_not_called_zero():
    """|g| = 1e-200 (its square underflows) is a gradient: D-Adaptation takes its step from lr / |g_0|."""
    for v in (1e-200, 1e-310):
        opt = cr.dadapt_sgd()
        theta, state = opt.update(np.ones(3), np.full(3, v), opt.init(np.ones(3)))
        assert state.g0_norm == pytest.approx(v * math.sqrt(3), rel=1e-12) and np.all(theta < 1.0)
    with pytest.raises(ValueError, match="the first gradient is zero"):
        opt.update(np.ones(3), np.zeros(3), opt.init(np.ones(3)))
