"""The cumulation (clara_ref.path) by hand, its single use across the library, and the 2017 rule's small-gradient
test and Page-Hinkley smoothing worked out by hand (no torch)."""

import pathlib
import re

import numpy as np
import pytest

import clara_ref as cr
from clara_ref import path as P


def test_cumulate_by_hand_clamp_and_skip():
    p0 = np.array([0.5, 0.0, 0.25, 0.0])
    x = np.array([3.0, 4.0, 2e-13, 0.0])                  # block 0 norm 5, block 1 norm 2e-13
    slices = ((0, 2), (2, 4))
    p, sq = P.cumulate(p0, x, 0.2, slices, 1e-12)
    # block 0: 0.8 p + 0.2 (0.6, 0.8); block 1 clamped: 0.8 p + 0.2 x / 1e-12 = (0.2 + 0.04, 0)
    np.testing.assert_allclose(p, [0.4 + 0.12, 0.16, 0.2 + 0.04, 0.0], rtol=1e-15)
    np.testing.assert_allclose(sq, [0.52**2 + 0.16**2, 0.24**2], rtol=1e-14)
    p, _ = P.cumulate(p0, x, 0.2, slices, 1e-6, small="skip")
    np.testing.assert_allclose(p, [0.52, 0.16, 0.2, 0.0], rtol=1e-15)      # block 1 only decays
    assert p0.tolist() == [0.5, 0.0, 0.25, 0.0] and x[0] == 3.0             # inputs untouched


def test_cumulate_on_rows_equals_one_row_at_a_time():
    rng = np.random.default_rng(0)
    p0, x = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    x[2] = 0.0
    p, (sq,) = P.cumulate(p0, x, 0.3, ((0, 5),), 1e-12)
    for i in range(4):
        pi, (qi,) = P.cumulate(p0[i], x[i], 0.3, ((0, 5),), 1e-12)
        np.testing.assert_allclose(p[i], pi, rtol=1e-15)
        assert sq[i] == pytest.approx(qi, rel=1e-14)


def test_cumulate_runs_inside_clara_alera_and_the_monte_carlo(monkeypatch):
    calls = []
    real = P.cumulate

    def spy(*args, **kw):
        calls.append(kw.get("small", "clamp"))
        return real(*args, **kw)

    monkeypatch.setattr(P, "cumulate", spy)
    theta, g = np.ones(3), np.array([1.0, -2.0, 0.5])
    for opt in (cr.clara(cr.adam_direction(), 0.1), cr.alera(cr.sgd_direction(), 0.1)):
        opt.update(theta, g, opt.init(theta))
    cr.reference.monte_carlo(cr.sgd_direction(), n=3, steps=2, trials=4)
    assert calls == ["clamp", "skip", "clamp", "clamp"]


def test_no_other_module_writes_the_path_update():
    """The cumulation p <- (1 - c) p + c u appears in clara_ref/path.py only, besides the framework optimizers
    (clara_ref/_torch_optim.py, clara_ref/optax.py): second implementations in torch and JAX by design, proven equal
    to clara_ref.clara step for step by the lockstep harness (tests/test_torch_optim.py, tests/test_optax_clara.py)."""
    pattern = re.compile(r"\(1(\.0)? - c\)\s*\*\s*p\b|\bp\s*\*\s*\(1(\.0)? - c\)|\bp\s*\*=\s*1(\.0)? - c"
                         r"|\bp\s*\+=\s*\(?c\b")
    root = pathlib.Path(cr.__file__).parent
    offenders = []
    for f in root.rglob("*.py"):
        if f.name in ("path.py", "_torch_optim.py", "optax.py"):
            continue
        for line in f.read_text().splitlines():
            code = line.split("#")[0]
            if pattern.search(code) and not code.strip().startswith(('"', "'", ">>>")):
                offenders.append(f"{f.name}: {line.strip()}")
    assert offenders == []


def test_alera_small_gradient_block_only_decays():
    """A block whose gradient norm is below 1e-6 adds nothing to its path: p_b <- (1 - c) p_b exactly."""
    opt = cr.alera(cr.sgd_direction(), 0.1, c=0.25, blocks=(2, 2))
    theta = np.zeros(4)
    theta, st = opt.update(theta, np.array([1.0, 0.0, 0.0, 1.0]), opt.init(theta))
    assert st.p.tolist() == [0.25, 0.0, 0.0, 0.25]
    theta, st = opt.update(theta, np.array([0.0, 1.0, 1e-9, 0.0]), st)
    assert st.p.tolist() == [0.1875, 0.25, 0.0, 0.1875]          # block 1: 0.75 * 0.25, nothing added
    assert st.p_sq == 0.1875**2 + 0.25**2 + 0.1875**2


def test_page_hinkley_smoothing_and_alarm_by_hand():
    """mbratio 1/2: the first 1/r + 1 = 3 losses are averaged, then lbar <- (1 - r) lbar + r f (S1). Losses
    1, 1, 1, 3.5, 3.5 with threshold 1: step 4 gives lbar = 2.25, mu0 = (3 + 2.25)/4 = 1.3125, U = 0.9375 (no
    alarm; the raw loss 3.5 would give U = 1.875, an alarm); step 5 gives lbar = 2.875, mu0 = 1.625,
    U = 0.9375 + 1.25 = 2.1875 > 1: an alarm, which restores theta and halves the rate."""
    opt = cr.salera(cr.sgd_direction(), 0.1, mbratio=0.5, ph_threshold=1.0)
    theta, st = np.ones(2), opt.init(np.ones(2))
    alarms, thetas, etas = [], [theta], [st.etas]
    for k, f in enumerate((1.0, 1.0, 1.0, 3.5, 3.5)):
        theta, st = opt.update(theta, np.ones(2), st, loss=f)
        alarms.append(st.alarm)
        thetas.append(theta)
        etas.append(st.etas)
        if k == 3:
            assert (st.ph.k, st.ph.loss_bar, st.ph.mu0, st.ph.U, st.ph.m) == (4, 2.25, 1.3125, 0.9375, 0.0)
    assert alarms == [False, False, False, False, True]
    assert st.etas == (etas[4][0] / 2,)                         # every rate halved
    np.testing.assert_array_equal(theta, thetas[3])             # back to the iterate before the last accepted step
    assert st.t == 4 and st.ph.k == 0                           # the alarm step does not count; the test restarts


def test_results_record_the_path_signal():
    f = cr.objectives.get("sphere", n=5, noise=0.1)
    r = cr.optimize(f, cr.clara(cr.sgd_direction(), 1e-3, d=0.1), steps=50, seed=0)
    assert len(r.p_sq) == len(r.reference) == len(r.eta) == 51
    assert r.p_sq[0] == 0.0 and r.p_sq[1] == pytest.approx(0.04) and r.reference[-1] == pytest.approx(1 / 9)
    # far from the optimum the gradients agree: |p_t|^2 = (1 - 0.8^t)^2 (0.79 at t = 10), far above the reference
    # 1/9, so eta rises
    assert r.p_sq[10] == pytest.approx((1 - 0.8**10) ** 2, rel=1e-3) and r.eta[10] > 10 * r.eta[0]
    plain = cr.optimize(f, cr.sgd(1e-3), steps=5, seed=0)
    assert plain.p_sq == [None] * 6 and plain.reference == [None] * 6
    t = cr.train(cr.models.softmax_regression(4, 3), cr.alera(cr.sgd_direction(), 0.1, blocks=(12, 3)),
                 cr.data.load("iris"), epochs=3)
    assert len(t.p_sq) == 4 and t.p_sq[-1] > 0 and t.reference[-1] == pytest.approx(2 * cr.reference.random_walk_mean(
        0.2, t.state.t))
