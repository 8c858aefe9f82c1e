"""clara reproduces the CLARA authors' optimizers step for step: ``clara_ref.testing.authors_clara`` gives their
blocking, move, reference and default damping for a list of parameter shapes.

The oracle is ``tests/ports.py``'s torch port of the authors' ``SGD_Clara`` and ``Adam_Clara``
(asmaatamna/cumulative-learning-rate-adaptation @ 505f977), configured the way their classes configure themselves
from the parameter list (K counts every tensor, frozen ones included; N only the trainable ones; mu and sigma from
their formula or their table). The models are the softmax regressions of their experiments, whose parameter counts
their Adam table has (15, 42, 62, 650), some with a frozen tensor added. Both sides compute the same float64
expressions in a different order: relative 1e-10 (the harness default) leaves orders of magnitude of room.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clara_ref as cr
from clara_ref.testing import authors_clara, frozen, gradient_sequences, lockstep, torch_port

torch = pytest.importorskip("torch")
from .ports import authors_port  # noqa: E402

MODELS = {  # torch.nn.Linear(n_in, n_out): weight (n_out, n_in), bias (n_out,)
    "iris": [(3, 4), (3,)],
    "wine": [(3, 13), (3,)],
    "breast_cancer": [(2, 30), (2,)],
    "iris + a frozen embedding": [(3, 4), frozen((5, 2), 0.3), (3,)],
    "digits + a frozen bias": [(10, 64), (10,), frozen((4,))],
}


@settings(max_examples=60, deadline=None)
@given(data=st.data(), model=st.sampled_from(sorted(MODELS)), kind=st.sampled_from(["sgd", "adam"]),
       unit=st.booleans(), d=st.sampled_from([None, 1e-3, 0.05]), lr=st.sampled_from([1e-3, 0.05, 1.0]))
def test_clara_matches_the_authors_classes(data, model, kind, unit, d, lr):
    shapes = MODELS[model]
    theta0, grads = data.draw(gradient_sequences(shapes=shapes, steps=(1, 25), scale=(1e-2, 1e2)))
    ours = authors_clara(shapes, lr, d, unit, kind)
    port = torch_port(lambda ps: authors_port(ps, lr, kind, d=d, unit=unit), theta0, shapes=shapes,
                      eta_of=lambda o: o.param_groups[0]["lr"])
    report = lockstep(ours, port, theta0, grads)
    assert report.max_eta_deviation <= 1e-10


def test_the_mapping_is_the_readmes():
    """authors_clara is the README's table: blocks = trainable tensor sizes, reference K mu with K counting frozen
    tensors, mu from their table keyed by the trainable count, d = 2 sigma by default."""
    shapes = [(3, 4), frozen((2,)), (3,)]
    sgd = authors_clara(shapes, 0.1)
    assert sgd.blocks == (12, 3) and sgd.reference == pytest.approx(3 * 0.2 / 1.8) and sgd.move == "raw"
    assert sgd.d == pytest.approx(2 * np.sqrt(2) * (0.2 / 1.8) * 0.8 / np.sqrt((1 + 0.64) * 15))
    adam = authors_clara(shapes, 0.1, d=1e-3, unit_step_direction=True, optimizer="adam")
    assert adam.reference == pytest.approx(3 * cr.authors.ADAM_MU_TABLE[15]) and adam.move == "unit"
    assert authors_clara(shapes, 0.1, optimizer="adam").d == pytest.approx(2 * cr.authors.ADAM_SIGMA_TABLE[15])


def test_a_parameter_count_their_table_lacks_is_a_clear_error():
    with pytest.raises(ValueError, match="no entry for N = 16 parameters"):
        authors_clara([(4, 4)], 0.1, optimizer="adam")
    authors_clara([(4, 4)], 0.1, optimizer="sgd")                    # SGD needs no table
    with pytest.raises(ValueError, match="optimizer must be one of 'sgd', 'adam'"):
        authors_clara([(4, 4)], 0.1, optimizer="adamw")
    with pytest.raises(ValueError, match="at least one trainable"):
        authors_clara([frozen((4,))], 0.1)
