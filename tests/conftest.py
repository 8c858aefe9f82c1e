"""Shared fixtures: every optimizer of the library, built with settings that exercise its adaptation."""

import numpy as np
import pytest
from hypothesis import settings

import clara_ref as cr

# Monte Carlo and cross-check tests are deterministic: hypothesis draws from a fixed seed, so a failure is a bug,
# never bad luck, and CI is reproducible.
settings.register_profile("clara_ref", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("clara_ref")


def all_optimizers():
    """(name, factory) for every method, with non-default options where they matter."""
    return [
        ("sgd", lambda: cr.sgd(0.05)),
        ("adam", lambda: cr.adam(0.05, weight_decay=0.01)),
        ("adam_fused", lambda: cr.adam(0.05, weight_decay=0.01, fused=True)),
        ("clara_sgd", lambda: cr.clara(cr.sgd_direction(), 0.05, d=0.5)),
        ("clara_adam_unit_blocks", lambda: cr.clara(cr.adam_direction(), 0.05, d=0.3, move="unit", blocks=(3, 5))),
        ("clara_adam_transient", lambda: cr.clara(cr.adam_direction(), 0.05, d="auto", transient=True)),
        ("clara_gradient_path", lambda: cr.clara(cr.adam_direction(), 0.05, d=0.3, path_of="gradient",
                                                 reference="random_walk")),
        ("alera_blocks", lambda: cr.alera(cr.adam_direction(), 0.05, C=0.05, blocks=(6, 2))),
        ("salera", lambda: cr.salera(cr.sgd_direction(), 0.05, C=0.05)),
        ("dadapt_sgd", lambda: cr.dadapt_sgd(d0=1e-2, momentum=0.5)),
        ("dadapt_adam", lambda: cr.dadapt_adam(d0=1e-2, use_bias_correction=True)),
        ("prodigy", lambda: cr.prodigy(d0=1e-2, weight_decay=0.01)),
        ("sgd_cosine", lambda: cr.schedules.scheduled("sgd", 0.05, total_steps=10**6)),
        ("adam_step", lambda: cr.schedules.scheduled("adam", 0.05, total_steps=400, schedule="step")),
    ]


OPTIMIZERS = all_optimizers()
OPT_IDS = [name for name, _ in OPTIMIZERS]


def quadratic_grads(theta, k, seed=0):
    """A noisy quadratic gradient with curvatures 1..8, deterministic in (seed, k)."""
    h = np.linspace(1.0, 8.0, theta.shape[0])
    xi = np.random.default_rng([seed, k]).standard_normal(theta.shape[0])
    return h * (theta - 1.0) + 0.1 * xi


def quad_loss(theta):
    h = np.linspace(1.0, 8.0, theta.shape[0])
    return float(0.5 * np.sum(h * (theta - 1.0) ** 2)) + 1.0


@pytest.fixture(params=OPTIMIZERS, ids=OPT_IDS)
def optimizer_factory(request):
    return request.param[1]
