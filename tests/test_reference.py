"""Reference math against Monte Carlo. Tolerances are standard errors of the simulation (4 se: a false alarm
probability of 6e-5 per check), plus the documented model error where the formula is an approximation."""

import math
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clara_ref as cr
from clara_ref import reference as R


@settings(max_examples=8)
@given(c=st.sampled_from([0.05, 0.1, 0.2, 0.5, 0.9]), n=st.integers(1, 20), t=st.integers(1, 40))
def test_sgd_mean_exact_against_monte_carlo(c, n, t):
    mc = R.monte_carlo(cr.sgd_direction(), n, c=c, steps=t, trials=3000, seed=n * 100 + t)
    exact = R.path_sq_norm_mean(cr.sgd_direction(), c=c, n=n, t=t)
    if t == 1:
        assert math.isclose(mc.mean, c * c, rel_tol=1e-12) and math.isclose(exact, c * c, rel_tol=1e-12)
    else:
        assert abs(mc.mean - exact) <= 4 * mc.se


@pytest.mark.parametrize("n", [2, 15, 650])
def test_sgd_std_exact_against_monte_carlo(n):
    trials = 4000
    mc = R.monte_carlo(cr.sgd_direction(), n, c=0.2, steps=60, trials=trials, seed=n)
    exact = R.path_sq_norm_std(cr.sgd_direction(), c=0.2, n=n)
    # The sample sd of a (nearly Gaussian) statistic has relative se about 1/sqrt(2 trials); heavier tails at
    # small n make it larger, so allow 5 of those.
    assert abs(mc.std / exact - 1) <= 5 / math.sqrt(2 * trials)
    # CLARA's code used a sigma too small by sqrt(2): the exact one must be clearly distinguishable from it.
    assert abs(mc.std / (exact / math.sqrt(2)) - 1) > 0.2


@pytest.mark.parametrize("n", [650, 3000])
def test_adam_closed_form_against_monte_carlo(n):
    mc = R.monte_carlo(cr.adam_direction(), n, c=0.2, steps=300, trials=150, seed=1)
    closed = R.path_sq_norm_mean(cr.adam_direction(), c=0.2)
    assert math.isclose(closed, 0.2 / 1.8 * 1.72 / 0.28, rel_tol=1e-12)
    # Model error of the n = inf form at finite n is about 0.13 / n (docs/derivations.md, (R3)).
    assert abs(mc.mean - closed) <= 4 * mc.se + 0.13 / n


@pytest.mark.parametrize("n,trials", [(1, 40000), (2, 20000), (15, 3000), (62, 800)])
def test_kappa_series_against_monte_carlo(n, trials):
    mc = R.monte_carlo(cr.adam_direction(), n, c=0.2, steps=300, trials=trials, seed=7)
    series = R.path_sq_norm_mean(cr.adam_direction(), c=0.2, n=n)
    model_error = 0.0 if n == 1 else 0.001          # exact at n = 1; v_hat noise neglected otherwise
    assert abs(mc.mean - series) <= 4 * mc.se + model_error


def test_kappa_series_matches_spec_fixtures():
    fixtures = {1: 0.5261, 2: 0.6030, 3: 0.6312, 5: 0.6532, 10: 0.6686, 15: 0.6735, 42: 0.6794, 62: 0.6804,
                100: 0.6812, 650: 0.6823}
    for n, value in fixtures.items():
        assert abs(R.path_sq_norm_mean(cr.adam_direction(), n=n) - value) <= 0.00015, n   # 4-decimal fixtures


def test_kappa_limits():
    rho = np.array([0.0, 0.3, 0.9])
    assert np.allclose(R.kappa(1, rho), 2 / np.pi * np.arcsin(rho), atol=1e-14)
    assert np.allclose(R.kappa(10**7, rho), rho, atol=1e-6)          # large n: the cosine concentrates at rho


@pytest.mark.parametrize("n", [1, 3, 40, 5000])
def test_adam_transient_within_0_01_of_monte_carlo(n):
    trials = max(100, 30000 // n)
    mc = R.monte_carlo(cr.adam_direction(), n, c=0.2, steps=220, trials=trials, seed=99)
    for t in (1, 2, 3, 5, 10, 20, 50, 200, 201, 220):
        ref = R.path_sq_norm_mean(cr.adam_direction(), c=0.2, n=n, t=t)
        assert abs(ref - mc.mean_t[t - 1]) <= 0.01, (n, t, ref, mc.mean_t[t - 1])
    assert R.path_sq_norm_mean(cr.adam_direction(), n=n, t=1) == pytest.approx(0.04, abs=1e-12)


@pytest.mark.parametrize("n", [5, 40])          # n = 650 and beyond: the stored simulation below, at 4 se + 2%
def test_adam_std_against_monte_carlo(n):
    trials = 3000
    mc = R.monte_carlo(cr.adam_direction(), n, c=0.2, steps=300, trials=trials, seed=3)
    est = R.path_sq_norm_std(cr.adam_direction(), c=0.2, n=n)
    # sampling error of the sd (5/sqrt(2 trials)) plus the documented 2% accuracy of the estimate
    assert abs(est / mc.std - 1) <= 5 / math.sqrt(2 * trials) + 0.02


def test_reference_validation():
    with pytest.raises(ValueError, match="c must be in"):
        R.path_sq_norm_mean(cr.sgd_direction(), c=0.0)
    with pytest.raises(ValueError, match="n must be a positive int"):
        R.path_sq_norm_mean(cr.adam_direction(), n=0)
    with pytest.raises(ValueError, match="t must be"):
        R.path_sq_norm_mean(cr.adam_direction(), t=-1)
    with pytest.raises(ValueError, match="trials"):
        R.monte_carlo(cr.sgd_direction(), 3, trials=0)


# ---------------------------------------------------------------------------------------------------------------
# The reference at every size against stored simulation (tests/data/make_reference_mc.py writes the file: 33 long
# Monte Carlo runs of Adam's own steps, 54 minutes on 2 cores, so the suite only reads them).

MC = np.load(pathlib.Path(__file__).parent / "data" / "reference_mc.npz")
#: 4 standard errors of the simulation: a false alarm probability of 6e-5 per check under a normal error
SE_FACTOR = 4.0
#: what the models behind (R4) and (R6) leave out, relative. (R4) treats Adam's second moment as its expectation,
#: while Adam estimates it with beta2 = 0.999; in the stored runs the series lies below the simulation by at most
#: 8.2e-5 of the mean (n = 5, beta1 = 0.9), so 1e-4. (R6) is a large-n expansion documented to 2%: beyond 4
#: standard errors its largest deviation in the stored runs is 1.8% (n = 40, beta1 = 0.9).
MEAN_MODEL_REL = 1e-4
STD_MODEL_REL = 0.02
#: below this n path_sq_norm_std is itself a (cached) simulation, not a formula (SPREAD_MC_BELOW in reference)
_STD_FORMULA_FROM = R._SPREAD_MC_BELOW
#: the stored spread is trusted where it pools independent trials, or one trial's window spans at least this many
#: memory lengths 1/(1 - beta1) of the momentum: a single trial's spread over a shorter window underestimates the
#: spread over trials (n = 200,704 at beta1 = 0.999: one trial, 5 memory lengths)
_SPREAD_WINDOW_MEMORIES = 20


def _rows():
    return [(int(n), float(b), k) for k, (n, b) in enumerate(zip(MC["n"], MC["beta1"]))]


def _check_against_simulation(n, beta1, k):
    """The series (R4) and, where it is a formula, the spread (R6) of a block of n against the stored simulation
    at (n, beta1); an AssertionError or ReferenceValueError says which is off."""
    direction = cr.adam_direction(beta1=beta1, beta2=float(MC["beta2"]), eps=float(MC["eps"]))
    c = float(MC["c"])
    mean, se = float(MC["mean"][k]), float(MC["se"][k])
    series = R.path_sq_norm_mean(direction, c=c, n=n)
    assert abs(series - mean) <= SE_FACTOR * se + MEAN_MODEL_REL * mean, (n, beta1, series, mean, se)
    trusted = int(MC["trials"][k]) > 1 or int(MC["window"][k]) * (1.0 - beta1) >= _SPREAD_WINDOW_MEMORIES
    if n >= _STD_FORMULA_FROM and trusted:
        sd, sd_se = float(MC["sd"][k]), float(MC["sd_se"][k])
        spread = R.path_sq_norm_std(direction, c=c, n=n)
        assert abs(spread - sd) <= SE_FACTOR * sd_se + STD_MODEL_REL * sd, (n, beta1, spread, sd, sd_se)


@pytest.mark.parametrize("n,beta1,k", _rows(), ids=[f"n{n}-b{b}" for n, b, _ in _rows()])
def test_the_reference_agrees_with_stored_simulation_at_every_size(n, beta1, k):
    _check_against_simulation(n, beta1, k)


def test_scipys_hypergeometric_at_every_size_fails_the_stored_simulation(monkeypatch):
    """The form before the positive series (scipy's hyp2f1 for every c) is inf or NaN at even n >= 198 for
    beta1 >= 0.95: the stored comparison catches it."""
    monkeypatch.setattr(R, "_SERIES_FROM_C", math.inf)
    failures = 0
    for n, beta1, k in _rows():
        try:
            _check_against_simulation(n, beta1, k)
        except (AssertionError, cr.errors.ReferenceValueError):
            failures += 1
    assert failures >= 1
