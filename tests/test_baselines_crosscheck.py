"""D-Adaptation and Prodigy against the original packages (dadaptation 3.2, prodigyopt 1.1.2), driven through
torch in float64, on hypothesis-generated noisy quadratics, with every option.

Tolerance: relative 1e-9 on theta and on eta = d lr. The packages sum their inner products in torch (float64);
we sum in NumPy; the orders differ, so d differs by a few ulps, which the max() in d's update can amplify over a
run only a little: 1e-9 leaves a margin of about 1e5 over the rounding seen.

Both packages add coupled weight decay into ``p.grad`` in place (``grad.add_(p, alpha=decay)``), which
``torch_port`` reports by default; here that is the upstream behaviour being matched, so the ports pass
``check_grad=False``.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clara_ref as cr
from clara_ref.testing import lockstep, quadratic_problems, torch_port

torch = pytest.importorskip("torch")
dadaptation = pytest.importorskip("dadaptation")
prodigyopt = pytest.importorskip("prodigyopt")

STEPS = st.integers(1, 40)
D0 = st.sampled_from([1e-6, 1e-3, 0.1, 1.0])
LR = st.sampled_from([1.0, 1.0, 0.5, 2.0])
GROWTH = st.sampled_from([math.inf, math.inf, 1.02, 2.0])
WD = st.sampled_from([0.0, 0.0, 1e-3, 0.1])


def _eta(opt, lr):
    return opt.param_groups[0]["d"] * lr


@settings(max_examples=100)
@given(problem=quadratic_problems(), steps=STEPS, d0=D0, lr=LR, momentum=st.sampled_from([0.0, 0.0, 0.5, 0.9]),
       wd=WD, growth=GROWTH)
def test_dadapt_sgd_matches_package(problem, steps, d0, lr, momentum, wd, growth):
    kw = dict(lr=lr, d0=d0, momentum=momentum, weight_decay=wd, growth_rate=growth)
    port = torch_port(lambda ps: dadaptation.DAdaptSGD(ps, **kw), problem.theta0, eta_of=lambda o: _eta(o, lr),
                      check_grad=False)
    lockstep(cr.dadapt_sgd(**kw), port, problem.theta0, problem.gradient, steps=steps, rtol=1e-9)


@settings(max_examples=100)
@given(problem=quadratic_problems(), steps=STEPS, d0=D0, lr=LR, wd=WD, growth=GROWTH,
       beta1=st.sampled_from([0.0, 0.9, 0.9]), beta2=st.sampled_from([0.99, 0.999]),
       decouple=st.booleans(), bias=st.booleans())
def test_dadapt_adam_matches_package(problem, steps, d0, lr, wd, growth, beta1, beta2, decouple, bias):
    kw = dict(lr=lr, d0=d0, weight_decay=wd, growth_rate=growth, decouple=decouple, use_bias_correction=bias)
    port = torch_port(lambda ps: dadaptation.DAdaptAdam(ps, betas=(beta1, beta2), **kw), problem.theta0,
                      eta_of=lambda o: _eta(o, lr), check_grad=False)
    lockstep(cr.dadapt_adam(beta1=beta1, beta2=beta2, **kw), port, problem.theta0, problem.gradient, steps=steps,
             rtol=1e-9)


@settings(max_examples=100)
@given(problem=quadratic_problems(), steps=STEPS, d0=D0, lr=LR, wd=WD, growth=GROWTH,
       beta1=st.sampled_from([0.0, 0.9, 0.9]), beta3=st.sampled_from([None, None, 0.9]),
       decouple=st.booleans(), bias=st.booleans(), safeguard=st.booleans(), d_coef=st.sampled_from([1.0, 0.5, 2.0]))
def test_prodigy_matches_package(problem, steps, d0, lr, wd, growth, beta1, beta3, decouple, bias, safeguard, d_coef):
    kw = dict(lr=lr, d0=d0, beta3=beta3, weight_decay=wd, growth_rate=growth, decouple=decouple,
              use_bias_correction=bias, safeguard_warmup=safeguard, d_coef=d_coef)
    port = torch_port(lambda ps: prodigyopt.Prodigy(ps, betas=(beta1, 0.999), **kw), problem.theta0,
                      eta_of=lambda o: _eta(o, lr), check_grad=False)
    lockstep(cr.prodigy(beta1=beta1, **kw), port, problem.theta0, problem.gradient, steps=steps, rtol=1e-9)


def test_first_steps_match_spec_fixtures():
    g = np.array([3.0, -4.0])
    theta, st_ = cr.dadapt_sgd(d0=0.1).update(np.zeros(2), g, cr.dadapt_sgd(d0=0.1).init(np.zeros(2)))
    np.testing.assert_allclose(theta, -0.1 * g / 5.0, rtol=1e-15)
    assert st_.d == 0.1
    for opt in (cr.dadapt_adam(d0=0.1), cr.prodigy(d0=0.1)):
        theta, st_ = opt.update(np.zeros(2), g, opt.init(np.zeros(2)))
        np.testing.assert_allclose(theta, -0.1 * 0.1 / math.sqrt(0.001) * np.sign(g), rtol=1e-6)
        assert st_.d == 0.1 and st_.t == 1


def test_zero_first_gradient_is_a_clear_error_and_zero_sums_do_not_move():
    opt = cr.dadapt_sgd()
    with pytest.raises(ValueError, match="first gradient is zero"):
        opt.update(np.ones(3), np.zeros(3), opt.init(np.ones(3)))
    for opt in (cr.dadapt_adam(), cr.prodigy()):
        theta, st_ = opt.update(np.ones(3), np.zeros(3), opt.init(np.ones(3)))
        np.testing.assert_array_equal(theta, np.ones(3))
        assert st_.t == 0                           # the skipped step does not count


def test_d_is_monotone_and_eta_is_d_times_lr():
    rng = np.random.default_rng(0)
    for opt in (cr.dadapt_sgd(lr=0.5), cr.dadapt_adam(lr=0.5), cr.prodigy(lr=0.5)):
        theta, state = np.full(5, 3.0), opt.init(np.full(5, 3.0))
        ds = []
        for k in range(60):
            theta, state = opt.update(theta, theta - 1.0 + 0.01 * rng.standard_normal(5), state)
            ds.append(state.d)
            assert state.eta == state.d * 0.5
        assert all(b >= a for a, b in zip(ds, ds[1:])) and ds[-1] > 1e-6
