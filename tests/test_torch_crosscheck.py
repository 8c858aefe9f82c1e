"""sgd and adam against torch.optim.SGD / Adam in float64, through clara_ref.testing (the public harness).

Tolerance: relative 1e-10. Both compute the same float64 expressions in a different order (torch folds the bias
corrections into the step size), so they differ by a few ulps per step; over <= 40 steps that stays far below 1e-10.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clara_ref as cr
from clara_ref.testing import adam_hyperparameters, gradient_sequences, lockstep, torch_port

torch = pytest.importorskip("torch")


@settings(max_examples=100)
@given(seq=gradient_sequences(n=(1, 12), steps=(1, 40)), lr=st.floats(1e-4, 1.0),
       wd=st.sampled_from([0.0, 0.0, 1e-3, 0.3]))
def test_sgd_matches_torch(seq, lr, wd):
    theta0, grads = seq
    port = torch_port(lambda ps: torch.optim.SGD(ps, lr=lr, weight_decay=wd), theta0,
                      eta_of=lambda o: o.param_groups[0]["lr"])
    report = lockstep(cr.sgd(lr, weight_decay=wd), port, theta0, grads, rtol=1e-10)
    assert report.max_theta_deviation <= 1e-10


@settings(max_examples=100)
@given(seq=gradient_sequences(n=(1, 12), steps=(1, 40)), hp=adam_hyperparameters(), foreach=st.booleans())
def test_adam_matches_torch(seq, hp, foreach):
    theta0, grads = seq
    port = torch_port(lambda ps: torch.optim.Adam(ps, lr=hp["eta0"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                                                  weight_decay=hp["weight_decay"], foreach=foreach), theta0)
    report = lockstep(cr.adam(**hp), port, theta0, grads, rtol=1e-10)
    assert report.max_theta_deviation <= 1e-10


def test_harness_catches_a_planted_bug():
    # A port of Adam with eps inside the square root must be caught by the harness.
    theta0 = np.array([0.5, -1.0, 2.0])
    grads = [np.array([1e-4, -2e-4, 3e-5]) * (k + 1) for k in range(10)]
    wrong = torch_port(lambda ps: torch.optim.Adam(ps, lr=1e-2, eps=1e-4), theta0)
    with pytest.raises(AssertionError, match="step 1"):
        lockstep(cr.adam(1e-2, eps=1e-8), wrong, theta0, grads)
