"""Issue-12 defects fixed so far (each test fails on the code before the fix): states own their arrays, tiny or
huge hyperparameters are refused up front, D-Adaptation and Prodigy guard their rate, non-array gradients and
infinite block sizes give errors that name the parameter."""

import math

import numpy as np
import pytest

import clara_ref as cr


def test_salera_backtracks_to_its_own_copy_of_theta():
    opt = cr.salera(cr.sgd_direction(), 0.1, ph_threshold=1.0)
    theta = np.ones(2)
    st = opt.init(theta)
    new, st = opt.update(theta, np.ones(2), st, loss=1.0)
    theta[:] = 123.0                                   # the caller reuses its array in place
    back, st = opt.update(new, np.ones(2), st, loss=50.0)
    assert st.alarm and back.tolist() == [1.0, 1.0]     # the iterate before the last update, not the caller's edit
    back[:] = -1.0                                     # and the returned array is not the state's
    assert st.theta_prev.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("make,name", [
    (lambda: cr.clara(cr.sgd_direction(), 0.1, c=5e-324), "c"),
    (lambda: cr.clara(cr.adam_direction(), 0.1, c=1e-17, d="auto"), "c"),
    (lambda: cr.alera(cr.sgd_direction(), 0.1, c=1e-17), "c"),
    (lambda: cr.dadapt_adam(d0=1e-320), "d0 \\* lr"),
    (lambda: cr.dadapt_sgd(lr=1e-320), "d0 \\* lr"),
    (lambda: cr.prodigy(d0=1e-200, lr=1e-200), "d0 \\* lr"),
])
def test_values_that_would_later_divide_by_zero_are_refused(make, name):
    with pytest.raises(ValueError, match=name):
        make()
    with pytest.raises(ValueError, match="path never forgets"):
        cr.reference.path_sq_norm_mean(cr.adam_direction(), c=1e-17)


def test_dadapt_and_prodigy_guard_their_rate():
    """An estimate d so large that d lr overflows is refused (it used to give eta = inf and theta = inf silently)."""
    theta = np.zeros(3)
    for opt in (cr.dadapt_sgd(lr=10.0), cr.dadapt_adam(lr=10.0), cr.prodigy(lr=10.0)):
        st = opt.init(theta)._replace(d=1e308)
        with pytest.raises(cr.LearningRateError, match="became inf at step 1"):
            opt.update(theta, np.array([1.0, -2.0, 3.0]), st)


@pytest.mark.parametrize("g", [[1.0, 2.0], 1.0, None])
def test_a_gradient_that_is_not_an_array_names_g(g):
    opt = cr.adam(0.1)
    with pytest.raises(TypeError, match="g must be an array like theta"):
        opt.update(np.zeros(2), g, opt.init(np.zeros(2)))


def test_infinite_block_sizes_are_a_value_error():
    with pytest.raises(ValueError, match="blocks must be None or a tuple of positive ints"):
        cr.clara(cr.sgd_direction(), 0.1, blocks=(math.inf,))
