"""save_state / load_state: a run resumed from a checkpoint equals an uninterrupted run bit for bit."""

import numpy as np
import pytest

import clara_ref as cr

from .conftest import OPT_IDS, OPTIMIZERS, quad_loss, quadratic_grads


def _steps(opt, theta, state, ks):
    for k in ks:
        theta, state = opt.update(theta, quadratic_grads(theta, k), state, loss=quad_loss(theta))
    return theta, state


@pytest.mark.parametrize("factory", [f for _, f in OPTIMIZERS], ids=OPT_IDS)
def test_resume_is_bit_for_bit(factory, tmp_path):
    opt = factory()
    theta0 = np.linspace(-2.0, 2.0, 8)
    full_theta, full_state = _steps(opt, theta0, opt.init(theta0), range(30))
    mid_theta, mid_state = _steps(opt, theta0, opt.init(theta0), range(12))
    path = tmp_path / "state.npz"
    cr.save_state(path, mid_state)
    np.save(tmp_path / "theta.npy", mid_theta)
    loaded = cr.load_state(path)
    assert type(loaded) is type(mid_state)
    theta, state = _steps(opt, np.load(tmp_path / "theta.npy"), loaded, range(12, 30))
    np.testing.assert_array_equal(theta, full_theta)
    assert state.eta == full_state.eta and state.t == full_state.t
    assert repr(state) == repr(full_state)


def test_archive_has_no_pickle_and_rejects_foreign_files(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, a=np.zeros(2))
    with pytest.raises(ValueError, match="not a readable clara_ref checkpoint"):
        cr.load_state(path)


def test_float_specials_round_trip(tmp_path):
    opt = cr.dadapt_sgd(growth_rate=float("inf"))
    state = opt.init(np.ones(2))._replace(d_hat=float("inf"))
    cr.save_state(tmp_path / "s.npz", state)
    assert cr.load_state(tmp_path / "s.npz").d_hat == float("inf")
