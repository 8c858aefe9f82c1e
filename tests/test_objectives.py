"""Objectives: gradients against central differences and torch autograd, optima, noise model, bad input."""

import numpy as np
import pytest

import clara_ref as cr
from clara_ref.objectives import NAMES

POINTS = np.random.default_rng(0).uniform(-2.0, 2.0, (5, 10))
SIZED = ("sphere", "ellipsoid", "ellipsoid_rotated", "rosenbrock", "pure_noise")   # objectives that take any n


@pytest.mark.parametrize("name", NAMES)
def test_gradient_against_central_differences(name):
    f = cr.objectives.get(name, n=None if name not in SIZED else 5, condition=1e3)
    for x in POINTS[:, : f.n]:
        # central differences have error O(h^2 f''') ~ 1e-12 relative at h = 1e-6; rounding adds eps f / h ~ 1e-10
        assert cr.gradcheck(f.value, f.grad, x) <= 1e-6, (name, x)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_against_torch_autograd(name):
    torch = pytest.importorskip("torch")
    f = cr.objectives.get(name, n=None if name not in SIZED else 4)
    h = 1e6 ** (np.arange(4) / 3)

    def torch_f(x):
        if name == "pure_noise":
            return (0.0 * x).sum()
        if name == "sphere":
            return (x * x).sum()
        if name == "ellipsoid":
            return (torch.tensor(h) * x * x).sum()
        if name == "ellipsoid_rotated":
            z = torch.tensor(cr.objectives.rotation(4, 0)).T @ x          # coordinates in the eigenbasis
            return (torch.tensor(h) * z * z).sum()
        if name == "rosenbrock":
            return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
        a, b = x[0], x[1]
        if name == "himmelblau":
            return (a**2 + b - 11) ** 2 + (a + b**2 - 7) ** 2
        if name == "beale":
            return (1.5 - a + a * b) ** 2 + (2.25 - a + a * b**2) ** 2 + (2.625 - a + a * b**3) ** 2
        if name == "three_hump_camel":
            return 2 * a**2 - 1.05 * a**4 + a**6 / 6 + a * b + b**2
        return (-20 * torch.exp(-0.2 * torch.sqrt(0.5 * (a**2 + b**2)))
                - torch.exp(0.5 * (torch.cos(2 * np.pi * a) + torch.cos(2 * np.pi * b))) + np.e + 20)

    for x in POINTS[:, : f.n]:
        xt = torch.tensor(x, requires_grad=True)
        val = torch_f(xt)
        val.backward()
        assert f.value(x) == pytest.approx(float(val.detach()), rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(f.grad(x), xt.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_optimum(name):
    f = cr.objectives.get(name)
    for m in f.minima:
        assert np.linalg.norm(f.grad(m)) <= 1e-4          # himmelblau's minima are given to 6 decimals
    assert f.distance(f.x_star) == 0.0
    assert f.value(f.x_star) <= f.value(f.x0)
    assert f.value(f.x_star) == pytest.approx(0.0, abs=1e-10)


def test_noise_is_added_to_x_before_evaluation():
    f = cr.objectives.get("sphere", n=3, noise=0.5)
    x = np.array([1.0, 2.0, 3.0])
    g = f.grad(x, np.random.default_rng(1))
    xi = np.random.default_rng(1).standard_normal(3)
    np.testing.assert_allclose(g, 2 * (x + 0.5 * xi), rtol=1e-15)
    np.testing.assert_array_equal(f.grad(x), 2 * x)     # without an rng the gradient is exact


def test_pure_noise_gradients_ignore_x_and_are_standard_normal():
    """f = 0 and grad = sigma xi: the same draws wherever x is, never the exact gradient's (0) without an rng."""
    f = cr.objectives.get("pure_noise", n=4, noise=2.0)
    g1 = f.grad(np.zeros(4), np.random.default_rng(3))
    g2 = f.grad(np.full(4, 7.0), np.random.default_rng(3))
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(g1, 2.0 * np.random.default_rng(3).standard_normal(4))
    np.testing.assert_array_equal(f.grad(np.ones(4)), np.zeros(4))
    assert f.value(np.ones(4)) == 0.0 and f.distance(np.ones(4)) == 2.0


def test_defaults_match_the_paper_tasks():
    ell = cr.objectives.get("ellipsoid", n=10)
    assert ell.x0.tolist() == [100.0] * 10
    np.testing.assert_allclose(ell.grad(np.ones(10))[[0, -1]], [2.0, 2e6])
    assert cr.objectives.get("rosenbrock", n=2).x0.tolist() == [-1.2, 1.0]


def test_rotated_ellipsoid_keeps_spectrum_and_start_but_defeats_diagonal_scaling():
    ell, rot = cr.objectives.get("ellipsoid", n=10), cr.objectives.get("ellipsoid_rotated", n=10)
    # f is quadratic, so its Hessian is the Jacobian of the (linear) gradient: columns grad(e_i) / 1
    hess = np.stack([rot.grad(e) for e in np.eye(10)], axis=1)
    np.testing.assert_allclose(np.linalg.eigvalsh(hess), 2.0 * 1e6 ** (np.arange(10) / 9), rtol=1e-9)
    assert rot.distance(rot.x0) == ell.distance(ell.x0) == pytest.approx(100 * np.sqrt(10))
    # not diagonal: the largest off-diagonal entry is a sizeable share of the largest eigenvalue
    assert np.abs(hess - np.diag(np.diag(hess))).max() > 1e-2 * 2e6
    # Adam cannot tell the axis-aligned ellipsoid from the sphere (scale invariance), but it can the rotated one
    runs = {name: cr.optimize(cr.objectives.get(name, n=10, noise=0.1), cr.adam(1.0), steps=300, seed=0).distance
            for name in ("sphere", "ellipsoid", "ellipsoid_rotated")}
    # equal up to eps = 1e-8 against sqrt(v_hat) ~ |g|: relative differences of order 1e-8 over the run
    np.testing.assert_allclose(runs["ellipsoid"], runs["sphere"], rtol=1e-6)
    assert runs["sphere"][-1] < 1.0 and runs["ellipsoid_rotated"][-1] > 10.0


def test_bad_input():
    with pytest.raises(ValueError, match="rotation_seed must be"):
        cr.objectives.get("ellipsoid_rotated", rotation_seed=-1)
    with pytest.raises(ValueError, match="unknown objective 'spheer'"):
        cr.objectives.get("spheer")
    with pytest.raises(ValueError, match="2-dimensional"):
        cr.objectives.get("beale", n=3)
    with pytest.raises(ValueError, match="noise must be in"):
        cr.objectives.get("sphere", noise=-1.0)
    with pytest.raises(ValueError, match="shape"):
        cr.objectives.get("sphere", n=3).grad(np.zeros(4))
