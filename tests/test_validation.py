"""Bad input: clear ValueErrors naming the parameter and its range; non-finite gradients refused with the
state untouched; shape and dtype mismatches refused; the rate never silently becomes inf, 0 or NaN."""

import math

import numpy as np
import pytest

import clara_ref as cr

from .conftest import OPT_IDS, OPTIMIZERS

BAD_HYPERPARAMETERS = [
    (lambda: cr.sgd(0.0), "eta0 must be in \\(0, inf\\)"),
    (lambda: cr.sgd(-1.0), "eta0"),
    (lambda: cr.sgd(float("nan")), "eta0 must not be NaN"),
    (lambda: cr.sgd(0.1, weight_decay=-1), "weight_decay must be in \\[0, inf\\)"),
    (lambda: cr.adam(0.1, beta1=1.0), "beta1 must be in \\[0.0, 1.0\\)"),
    (lambda: cr.adam(0.1, beta2=-0.1), "beta2"),
    (lambda: cr.adam(0.1, eps=-1e-8), "eps"),
    (lambda: cr.adam("0.1"), "eta0 must be a real number"),
    (lambda: cr.clara(cr.sgd_direction(), 0.1, c=0.0), "c must be in \\(0.0, 1.0\\]"),
    (lambda: cr.clara(cr.sgd_direction(), 0.1, c=1.5), "c must be in"),
    (lambda: cr.clara(cr.sgd_direction(), 0.1, d=-1e-3), "d must be in \\[0, inf\\)"),
    (lambda: cr.clara(cr.sgd_direction(), 0.1, d="sometimes"), "d must be one of 'auto'"),
    (lambda: cr.clara(cr.sgd_direction(), 0.1, move="fast"), "move must be one of 'raw', 'unit'"),
    (lambda: cr.clara(cr.sgd_direction(), 0.1, path_of="theta"), "path_of must be one of"),
    (lambda: cr.clara(cr.sgd_direction(), 0.1, reference="walk"), "reference must be one of"),
    (lambda: cr.clara(cr.sgd_direction(), 0.1, reference=0.0), "reference must be in \\(0, inf\\)"),
    (lambda: cr.clara(cr.sgd_direction(), 0.1, transient="yes"), "transient must be True or False"),
    (lambda: cr.clara(cr.sgd_direction(), 0.1, eta_min=1.0, eta_max=0.1), "eta_min must be <= eta_max"),
    (lambda: cr.clara(cr.sgd_direction(), 0.1, blocks=(2, 0)), "blocks must be None or a tuple of positive ints"),
    (lambda: cr.clara("adam", 0.1), "direction must be"),
    (lambda: cr.alera(cr.sgd_direction(), 0.1, C=-1.0), "C must be in \\[0, inf\\)"),
    (lambda: cr.alera(cr.sgd_direction(), 0.1, c=1.0), "c must be in \\(0.0, 1.0\\)"),
    (lambda: cr.alera(cr.sgd_direction(), 0.1, sigma="2018"), "sigma must be one of 'exact', '2017'"),
    (lambda: cr.salera(cr.sgd_direction(), 0.1, mbratio=0.0), "mbratio must be in \\(0.0, 1.0\\]"),
    (lambda: cr.salera(cr.sgd_direction(), 0.1, ph_lambda=0.0), "ph_lambda"),
    (lambda: cr.salera(cr.sgd_direction(), 0.1, backtrack=1), "backtrack must be True or False"),
    (lambda: cr.dadapt_sgd(lr=0.0), "lr must be in \\(0, inf\\)"),
    (lambda: cr.dadapt_sgd(d0=-1.0), "d0"),
    (lambda: cr.dadapt_sgd(momentum=1.0), "momentum must be in \\[0.0, 1.0\\)"),
    (lambda: cr.dadapt_sgd(growth_rate=0.5), "growth_rate must be in \\[1.0, inf\\]"),
    (lambda: cr.dadapt_adam(eps=0.0), "eps must be in \\(0, inf\\)"),
    (lambda: cr.dadapt_adam(decouple="no"), "decouple must be True or False"),
    (lambda: cr.prodigy(beta3=1.0), "beta3 must be in \\[0.0, 1.0\\)"),
    (lambda: cr.prodigy(d_coef=0.0), "d_coef"),
    (lambda: cr.prodigy(safeguard_warmup=None), "safeguard_warmup must be True or False"),
]


@pytest.mark.parametrize("make,match", BAD_HYPERPARAMETERS)
def test_bad_hyperparameters_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_blocks_must_sum_to_theta_size():
    opt = cr.clara(cr.sgd_direction(), 0.1, blocks=(2, 2))
    with pytest.raises(ValueError, match="blocks must sum to theta.size = 5"):
        opt.init(np.zeros(5))


@pytest.mark.parametrize("factory", [f for _, f in OPTIMIZERS], ids=OPT_IDS)
def test_nonfinite_gradient_names_the_step_and_keeps_the_state(factory):
    opt = factory()
    theta = np.linspace(-1, 1, 8)
    state = opt.init(theta)
    theta, state = opt.update(theta, theta + 0.5, state, loss=1.0)
    before = repr(state)
    for bad in (np.nan, np.inf, -np.inf):
        g = np.ones(8)
        g[3] = bad
        with pytest.raises(cr.NonFiniteGradientError, match=f"at step {state.t + 1}"):
            opt.update(theta, g, state, loss=1.0)
    assert repr(state) == before
    # large but finite gradients whose sum of squares overflows are no non-finite gradient: the update succeeds,
    # or (where g**2 enters the state: Adam's v, the baselines' sums) names the overflow, never the gradient
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            opt.update(theta, np.full(8, 1e308), state, loss=1.0)
        except cr.NonFiniteStateError as exc:
            assert "g**2 overflowed" in str(exc) or "the move overflowed" in str(exc)


@pytest.mark.parametrize("factory", [f for _, f in OPTIMIZERS], ids=OPT_IDS)
def test_shape_dtype_and_rank_mismatches_are_refused(factory):
    opt = factory()
    theta = np.zeros(8)
    state = opt.init(theta)
    with pytest.raises(ValueError, match="shape"):
        opt.update(theta, np.zeros(7), state, loss=1.0)
    with pytest.raises(ValueError, match="dtype"):
        opt.update(theta, np.zeros(8, dtype=np.float32), state, loss=1.0)
    with pytest.raises(ValueError, match="1-D"):
        opt.init(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="floating"):
        opt.init(np.zeros(8, dtype=np.int64))


def test_rate_never_silently_leaves_the_floats():
    opt = cr.clara(cr.sgd_direction(), 1e-300, d=50.0)
    theta, state = np.zeros(4), opt.init(np.zeros(4))
    with pytest.raises(cr.LearningRateError, match="became 0.0 at step"):
        for k in range(100):
            theta, state = opt.update(theta, np.random.default_rng(k).standard_normal(4) * 0 + (-1) ** k, state)
    assert state.eta > 0 and math.isfinite(state.eta)
    bounded = cr.clara(cr.sgd_direction(), 1e-300, d=50.0, eta_min=1e-310)
    theta, state = np.zeros(4), bounded.init(np.zeros(4))
    for k in range(100):
        theta, state = bounded.update(theta, np.full(4, (-1.0) ** k), state)
    assert state.eta == 1e-310


def test_the_direction_dataclasses_check_their_own_fields():
    """The factories used to be the only check: AdamDirection(beta1=5.0, beta2=-1) was accepted."""
    from clara_ref.directions import AdamDirection, SGDDirection

    with pytest.raises(ValueError, match=r"beta1 must be in \[0.0, 1.0\), got 5.0"):
        AdamDirection(beta1=5.0, beta2=-1)
    with pytest.raises(ValueError, match=r"beta2 must be in \[0.0, 1.0\), got -1"):
        AdamDirection(beta2=-1)
    with pytest.raises(ValueError, match="eps"):
        AdamDirection(eps=-1e-8)
    with pytest.raises(ValueError, match="weight_decay"):
        SGDDirection(weight_decay=float("nan"))
    assert AdamDirection(0.9, 0.999, 1e-8) == cr.adam_direction()


def test_an_optimizer_passed_as_a_direction_is_told_which_to_pass():
    with pytest.raises(ValueError, match=r"pass cr.adam_direction\(\) or cr.sgd_direction\(\)"):
        cr.clara(cr.adam(1e-3), 1e-3)
    with pytest.raises(ValueError, match="must be a direction") as info:
        cr.clara("adam", 1e-3)
    assert "adam_direction" not in str(info.value)          # the hint only where an optimizer was passed


def test_state_messages_use_the_right_article():
    opt, sgd_state = cr.clara(cr.adam_direction(), 1e-3), cr.clara(cr.sgd_direction(), 1e-3).init(np.ones(2))
    with pytest.raises(ValueError, match="is an SGDDirectionState, but .* keeps an AdamDirectionState"):
        opt.update(np.ones(2), np.ones(2), sgd_state)
