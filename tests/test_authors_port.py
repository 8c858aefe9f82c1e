"""clara reproduces the CLARA authors' optimizers step for step: ``clara_ref.testing.authors_clara`` gives their
blocking, move, reference and default damping for a list of parameter shapes.

The oracle is what their code produced: tests/data/authors_vectors.npz holds 48 trajectories of 150 steps recorded
from their real ``SGD_Clara`` and ``Adam_Clara`` classes (asmaatamna/cumulative-learning-rate-adaptation @ 505f977,
torch, float64) on three problems, both optimizers, raw and unit moves, two rates and two dampings, with the
iterate and the rate after every step. The recorded trajectory plays the port in ``lockstep``, which stops where both
have diverged.

What the recordings cannot cover (frozen tensors, their default d = 2 sigma from their sigma tables, the parameter
counts 42, 62 and 650 of their other softmax regressions) is checked against ``tests/ports.py``'s torch port of
their classes, configured the way their classes configure themselves from the parameter list (K counts every
tensor, frozen ones included; N only the trainable ones; mu and sigma from their formula or their table). Both
sides compute the same float64 expressions in a different order: relative 1e-10 (the harness default) leaves
orders of magnitude of room.
"""

import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clara_ref as cr
from clara_ref.testing import authors_clara, frozen, gradient_sequences, lockstep, torch_port

torch = pytest.importorskip("torch")
from .ports import authors_port  # noqa: E402

VECTORS = np.load(pathlib.Path(__file__).parent / "data" / "authors_vectors.npz", allow_pickle=False)
RECORDED = sorted({k.split("_")[0] for k in VECTORS.files if k[0].isdigit()})
#: the recorded problems: their parameter tensors (flattened W first, then b) and their gradients at step t
PROBLEMS = {"quad15": [(15,)], "mlp15": [(3, 4), (3,)], "rosen2": [(2,)]}


def _recorded_gradient(problem):
    w, noise = VECTORS["w15"], VECTORS["noise15"]
    if problem == "rosen2":
        return lambda x, t: np.array([-400.0 * x[0] * (x[1] - x[0] ** 2) - 2.0 * (1.0 - x[0]),
                                      200.0 * (x[1] - x[0] ** 2)])
    return lambda x, t: 2.0 * w * (x + noise[t])


def _predictable(opt, x0, gradient, steps, tol=1e-11):
    """How many steps two clara_ref runs from x0 and from x0 one ulp away stay within ``tol`` (relative) of each
    other: beyond that horizon the problem amplifies rounding (SGD on Rosenbrock's valley multiplies a difference
    by up to 14 a step at these rates), and two correct implementations may part however exact both are."""
    a, b = x0.copy(), np.nextafter(x0, np.inf)
    sa, sb = opt.init(a), opt.init(b)
    for t in range(steps):
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                a, sa = opt.update(a, gradient(a, t), sa)
                b, sb = opt.update(b, gradient(b, t), sb)
        except (cr.LearningRateError, cr.NonFiniteStateError, cr.NonFiniteGradientError):
            return t
        if np.max(np.abs(a - b)) > tol * max(np.max(np.abs(a)), 1.0) or abs(sa.eta - sb.eta) > tol * sa.eta:
            return t
    return steps


@pytest.mark.parametrize("key", RECORDED)
def test_authors_clara_follows_their_recorded_classes(key):
    """Their trajectory replayed as the port: iterate and rate after every step, to relative 1e-10 (the harness
    default), for as long as the problem is predictable in float64 (``_predictable``) and until both have diverged
    (then lockstep stops)."""
    problem, optimizer, unit, lr0, d = (str(x) for x in VECTORS[f"{key}_setting"])
    xs, lrs = VECTORS[f"{key}_x"], VECTORS[f"{key}_lr"]
    shapes = PROBLEMS[problem]
    x0 = np.array([-1.2, 1.0]) if problem == "rosen2" else np.ones(15)
    ours = authors_clara(shapes, float(lr0), float(d), unit == "True", optimizer)
    assert ours.reference == pytest.approx(len(shapes) * float(VECTORS[f"{key}_mu"]), rel=1e-15)
    gradient = _recorded_gradient(problem)
    horizon = _predictable(ours, x0, gradient, len(xs))
    step = iter(range(len(xs)))

    def recorded(g):
        t = next(step)
        return xs[t], float(lrs[t])

    with np.errstate(over="ignore", invalid="ignore"):
        report = lockstep(ours, recorded, x0, gradient, steps=horizon)
    assert report.steps == horizon or report.stopped, key
    assert report.steps >= 2 and (report.max_eta_deviation or 0.0) <= 1e-10


def test_the_recordings_cover_what_they_say():
    settings = [tuple(str(x) for x in VECTORS[f"{k}_setting"]) for k in RECORDED]
    assert len(settings) == 48 and len(set(settings)) == 48
    assert {s[0] for s in settings} == set(PROBLEMS) and {s[4] for s in settings} == {"0.001", "0.05"}


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
