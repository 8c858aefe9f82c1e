"""Fuzzing every public constructor, ``update`` and problem or loop function with hypothesis: each call either
succeeds or raises a ``ValueError``, ``TypeError`` or ``ClaraRefError`` whose message names the argument that was
given a bad value. No ``AttributeError``, ``ZeroDivisionError``, ``OverflowError``, ``KeyError`` or NumPy message
that names nothing may escape.

One argument is fuzzed at a time (the others keep valid values), so "the offending parameter" is known. An optimizer
that was built is then run for three updates on float64 and float32 parameters: there, besides errors naming the
argument (``blocks`` that do not fit theta, say), a ``ClaraRefError`` that reports a divergence (a rate that left
the floats, SALeRA's rate floor, an update that overflowed the state) is a legitimate outcome of the dynamics and
needs to name nothing.
"""

import math
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import clara_ref as cr

#: values of every kind a user can pass by mistake: wrong types, NaN, infinities, extremes, wrong shapes
ODD = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 4), st.sampled_from([2**32, 2**70, -2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 0.5, 1e-320, 5e-324, 1e-17, 1e308, -1e-3, 2.0]),
    st.text(max_size=3), st.binary(max_size=2), st.complex_numbers(max_magnitude=10, allow_nan=False),
    st.lists(st.integers(-2, 5), max_size=3), st.tuples(st.integers(-2, 5)),
    st.sampled_from([np.float16, "float16", np.int32, "float32", np.float64(0.5), np.int64(2), np.float32(1e-3),
                     np.array([1.0]), np.array(2.0), np.ones((2, 2)), np.zeros(0), np.ones(3, dtype=np.float16),
                     np.ones(3, dtype=np.int64), {}, object(), np.random.default_rng(0), "auto", "raw", "sgd",
                     np.ones(3, dtype=complex), np.array(["2020-01-01"] * 3, dtype="datetime64[D]"),
                     np.array([1.0, None, 2.0], dtype=object), np.array([-1, 0, 1])]),
)

SGD, ADAM = cr.sgd_direction(), cr.adam_direction()
FUZZ_DIR = __import__("tempfile").mkdtemp(prefix="clara_ref_fuzz_")
__import__("atexit").register(__import__("shutil").rmtree, FUZZ_DIR, True)
cr.images.write_sample_files("mnist", FUZZ_DIR, n_train=2, n_test=1)
DATA = cr.data.load("iris")
MODEL = cr.models.softmax_regression(4, 3)
SPHERE = cr.objectives.get("sphere", n=3, noise=0.1)

#: name -> (callable, valid keyword arguments); each argument in turn gets an odd value
CONSTRUCTORS = {
    "sgd": (cr.sgd, dict(eta0=0.1, weight_decay=0.0)),
    "adam": (cr.adam, dict(eta0=0.1, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)),
    "sgd_direction": (cr.sgd_direction, dict(weight_decay=0.0)),
    "adam_direction": (cr.adam_direction, dict(beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)),
    "clara": (cr.clara, dict(direction=SGD, eta0=0.1, c=0.2, d=1e-3, move="raw", blocks=None, reference="direction",
                             path_of="step", transient=False, eta_min=None, eta_max=None)),
    "clara_adam": (cr.clara, dict(direction=ADAM, eta0=0.1, c=0.2, d="auto", move="unit", blocks=(2, 3),
                                  reference="direction", path_of="step", transient=True, eta_min=1e-6, eta_max=1.0)),
    "alera": (cr.alera, dict(direction=ADAM, eta0=0.1, c=0.2, C=1e-4, blocks=None, sigma="exact")),
    "salera": (cr.salera, dict(direction=SGD, eta0=0.1, c=0.2, C=1e-4, blocks=(2, 3), sigma="2017", mbratio=0.01,
                               ph_lambda=0.1, ph_threshold=None, backtrack=True, reset_path_on_alarm=False,
                               reset_t_on_alarm=False)),
    "dadapt_sgd": (cr.dadapt_sgd, dict(lr=1.0, d0=1e-6, momentum=0.0, weight_decay=0.0, growth_rate=math.inf)),
    "dadapt_adam": (cr.dadapt_adam, dict(lr=1.0, d0=1e-6, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                                         decouple=False, use_bias_correction=False, growth_rate=math.inf)),
    "prodigy": (cr.prodigy, dict(lr=1.0, d0=1e-6, beta1=0.9, beta2=0.999, beta3=None, eps=1e-8, weight_decay=0.0,
                                 decouple=True, use_bias_correction=False, safeguard_warmup=False, d_coef=1.0,
                                 growth_rate=math.inf)),
}

FUNCTIONS = {
    "objectives.get": (cr.objectives.get, dict(name="ellipsoid_rotated", n=3, noise=0.0, condition=1e6,
                                               rotation_seed=0)),
    "objectives.get 2-D": (cr.objectives.get, dict(name="himmelblau", n=None, noise=0.1)),
    "Objective.grad": (SPHERE.grad, dict(x=np.zeros(3), rng=np.random.default_rng(0))),
    "Objective.value": (SPHERE.value, dict(x=np.zeros(3))),
    "models.mlp": (cr.models.mlp, dict(sizes=(4, 5, 3))),
    "models.softmax_regression": (cr.models.softmax_regression, dict(n_in=4, n_out=3)),
    "models.cnn": (cr.models.cnn, dict(in_shape=(1, 4, 4), convs=((2, True),), hidden=(3,), classes=2)),
    "images.write_sample_files": (lambda **k: cr.images.write_sample_files(**k),
                                  dict(name="mnist", data_dir=FUZZ_DIR, n_train=2, n_test=1, seed=0)),
    # download stays False: the suite never touches the network
    "data.load image": (cr.data.load, dict(name="mnist", seed=0, standardize=True, stratify=True, data_dir=FUZZ_DIR,
                                           verify=False)),
    "Model.init": (MODEL.init, dict(rng=np.random.default_rng(0))),
    "Model.loss_and_grad": (MODEL.loss_and_grad, dict(theta=np.zeros(15), X=np.zeros((2, 4)), y=np.array([0, 2]))),
    "data.load": (cr.data.load, dict(name="iris", seed=0, standardize=True, stratify=True)),
    "data.minibatches": (lambda **k: list(cr.data.minibatches(**k)),
                         dict(X=np.zeros((4, 1)), y=np.arange(4), batch_size=2, rng=np.random.default_rng(0))),
    "train": (cr.train, dict(model=MODEL, optimizer=cr.adam(0.1), data=DATA, epochs=1, batch_size=64, seed=0,
                             dtype=np.float64)),
    "optimize": (cr.optimize, dict(objective=SPHERE, optimizer=cr.sgd(0.1), steps=3, seed=0, x0=None)),
    "reference.path_sq_norm_mean": (cr.reference.path_sq_norm_mean, dict(direction=ADAM, c=0.2, n=3, t=None)),
    "reference.path_sq_norm_std": (cr.reference.path_sq_norm_std, dict(direction=SGD, c=0.2, n=3)),
    "reference.monte_carlo": (cr.reference.monte_carlo, dict(direction=ADAM, n=2, c=0.2, steps=3, trials=4, seed=0)),
    "reference.random_walk_mean": (cr.reference.random_walk_mean, dict(c=0.2, t=None)),
    "reference.kappa": (cr.reference.kappa, dict(n=10, rho=0.5)),
    "models.softmax_cross_entropy": (cr.models.softmax_cross_entropy, dict(logits=np.zeros((2, 3)), y=np.array([0, 2]))),
    "reference.random_walk_std": (cr.reference.random_walk_std, dict(c=0.2, n=1)),
    "C_for_damping": (cr.C_for_damping, dict(d=1e-3, n=10, c=0.2, sigma="exact")),
    "gradcheck": (cr.gradcheck, dict(f=lambda x: float(x @ x), grad=lambda x: 2 * x, x=np.ones(2), h=1e-6)),
    "flatten": (cr.flatten, dict(arrays=[np.ones(2), np.zeros((2, 2))])),
    "block_sizes": (cr.block_sizes, dict(arrays=[np.ones(2)])),
}

#: overflows inside a diverging update are expected here; the loops report them as divergences
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

#: divergences are outcomes of the dynamics, not argument errors
DYNAMICS = (cr.LearningRateError, cr.RateFloorError, cr.NonFiniteGradientError, cr.NonFiniteStateError)


def _names(message: str, param: str) -> bool:
    words = {"g": r"\bg\b|gradient", "X": r"\bX\b", "x": r"\bx\b|\bx0\b"}.get(param, rf"\b{re.escape(param)}\b")
    return re.search(words, message) is not None


def _assert_named(exc: BaseException, param: str, where: str):
    assert isinstance(exc, (ValueError, TypeError, cr.ClaraRefError)), \
        f"{where}: {type(exc).__name__} escaped: {exc}"
    assert _names(str(exc), param), f"{where}: the message does not name {param!r}: {type(exc).__name__}: {exc}"


def _run_updates(opt, param, where):
    for dtype in (np.float64, np.float32):
        theta = np.linspace(-1.0, 1.0, 5).astype(dtype)
        try:
            state = opt.init(theta)
            for k in range(3):
                g = (np.arange(5) - 2.0).astype(dtype) * (k + 1)
                theta, state = opt.update(theta, g, state, loss=1.0 + 40.0 * k)
        except DYNAMICS:
            pass
        except Exception as exc:      # noqa: BLE001 - the point is to see what escapes
            _assert_named(exc, param, f"{where}, update in {np.dtype(dtype).name}")


CASES = [(name, p) for name, (_, kw) in {**CONSTRUCTORS, **FUNCTIONS}.items() for p in kw]


@pytest.mark.parametrize("name,param", CASES, ids=[f"{n}-{p}" for n, p in CASES])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=ODD)
def test_every_bad_argument_is_refused_by_name(name, param, value):
    fn, kwargs = {**CONSTRUCTORS, **FUNCTIONS}[name]
    where = f"{name}({param}={value!r})"
    cwd = os.getcwd()
    os.chdir(FUZZ_DIR)                # a fuzzed relative path (data_dir="ab") writes here, not into the checkout
    try:
        out = fn(**{**kwargs, param: value})
    except Exception as exc:          # noqa: BLE001
        _assert_named(exc, param, where)
        return
    finally:
        os.chdir(cwd)
    if name in CONSTRUCTORS and hasattr(out, "update"):
        _run_updates(out, param, where)


OPTIMIZERS = [cr.sgd(0.1), cr.adam(0.1), cr.clara(ADAM, 0.1, blocks=(1, 2)), cr.alera(SGD, 0.1),
              cr.salera(ADAM, 0.1), cr.dadapt_sgd(), cr.dadapt_adam(), cr.prodigy()]

ODD_ARRAYS = st.one_of(ODD, st.sampled_from([np.ones(4), np.ones(3, dtype=np.float32), np.ones((3, 1)),
                                             np.array([1.0, np.nan, 1.0]), np.array([np.inf, 1.0, 1.0]),
                                             np.ones(3, dtype=bool), np.ones(3, dtype=np.complex128),
                                             [1.0, 2.0, 3.0]]))


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=[o.name for o in OPTIMIZERS])
@settings(max_examples=40, deadline=None)
@given(which=st.sampled_from(["theta", "g", "state", "loss"]), value=ODD_ARRAYS)
def test_update_refuses_bad_theta_g_state_and_loss_by_name(opt, which, value):
    theta, g = np.ones(3), np.array([1.0, -2.0, 0.5])
    args = {"theta": theta, "g": g, "loss": 2.0}
    where = f"{opt.name}.update({which}={value!r})"
    try:
        state = opt.init(value if which == "theta" else theta)
        args["state"] = state
        args[which] = value
        for _ in range(2):
            new, state = opt.update(args["theta"], args["g"], args["state"], loss=args["loss"])
            args["state"] = state
    except Exception as exc:          # noqa: BLE001
        if isinstance(exc, cr.NonFiniteGradientError) and which == "g":
            return                    # names the step: a NaN or inf gradient is refused, the state untouched
        _assert_named(exc, which, where)


def _nan_theta_update(opt):
    state = opt.init(np.ones(2))
    return opt.update(np.array([1.0, np.nan]), np.ones(2), state, loss=1.0)


def _empty_train():
    X, y, Xt, yt = DATA
    return cr.train(MODEL, cr.adam(0.1), (X[:0], y[:0], Xt, yt), epochs=1)


#: inputs that were once accepted silently or refused with an error that named nothing, each with the name its
#: ValueError must now give
REFUSED = {
    "kappa rho None": (lambda: cr.reference.kappa(10, None), "rho"),
    "kappa rho True": (lambda: cr.reference.kappa(10, True), "rho"),
    "kappa rho bytes": (lambda: cr.reference.kappa(10, b"1"), "rho"),
    "kappa rho NaN": (lambda: cr.reference.kappa(10, math.nan), "rho"),
    "kappa rho complex": (lambda: cr.reference.kappa(10, 0.5j), "rho"),
    "train dtype a value": (lambda: cr.train(MODEL, cr.adam(0.1), DATA, epochs=1, dtype=np.float64(0.1)), "dtype"),
    "train seed 2**32": (lambda: cr.train(MODEL, cr.adam(0.1), DATA, epochs=1, seed=2**32),
                         r"seed must be an int in \[0, 4294967295\]"),
    "expand seed 2**32": (lambda: __import__("clara_ref.experiments.grid", fromlist=["x"]).expand(
        __import__("clara_ref.experiments.grid", fromlist=["x"]).PRESETS["smoke"], seeds=[2**32]), "seeds"),
    "train on 0 rows": (_empty_train, "X_train has no rows"),
    "train on complex X": (lambda: cr.train(MODEL, cr.adam(0.1), (DATA[0] + 0j,) + DATA[1:], epochs=1), "X_train"),
    "label -1": (lambda: cr.models.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, -1])),
                 r"labels must lie in \[0, 2\]"),
    "float labels": (lambda: cr.models.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])), r"\by\b"),
    "complex logits": (lambda: cr.models.softmax_cross_entropy(np.zeros((2, 3), complex), np.array([0, 1])),
                       "logits"),
    "model loss complex X": (lambda: MODEL.loss_and_grad(np.zeros(15), np.zeros((2, 4), complex), np.array([0, 1])),
                             r"X must be a real floating array"),
    "model loss label 3": (lambda: MODEL.loss(np.zeros(15), np.zeros((2, 4)), np.array([0, 3])), "labels must lie"),
    "objective complex x": (lambda: SPHERE.value(np.array([1j, 0, 0])), r"x must be a real floating array"),
    "objective datetime x": (lambda: SPHERE.grad(np.array(["2020-01-01"] * 3, dtype="datetime64[D]")),
                             r"x must be a real floating array"),
    "objective object x": (lambda: SPHERE.distance(np.array([1.0, None, 2.0], dtype=object)),
                           r"x must be a real floating array"),
    "objective n 2**70": (lambda: cr.objectives.get("sphere", n=2**70), r"n must be an int in \[1, 2147483647\]"),
    "init NaN theta": (lambda: cr.adam(0.1).init(np.array([np.nan, 1.0])), "theta must be finite to start from"),
    "update NaN theta sgd": (lambda: _nan_theta_update(cr.sgd(0.1)), "theta must be finite at step 1"),
    "update NaN theta clara": (lambda: _nan_theta_update(cr.clara(ADAM, 0.1)), "theta must be finite at step 1"),
    "update NaN theta dadapt": (lambda: _nan_theta_update(cr.dadapt_sgd()), "theta must be finite at step 1"),
    "optimize steps 2**70": (lambda: cr.optimize(SPHERE, cr.sgd(0.1), steps=2**70), r"steps must be an int in"),
    "train epochs 2**70": (lambda: cr.train(MODEL, cr.adam(0.1), DATA, epochs=2**70), r"epochs must be an int in"),
    "monte_carlo trials 2**70": (lambda: cr.reference.monte_carlo(SGD, n=2, trials=2**70), r"trials must be an int"),
    "monte_carlo n 2**40": (lambda: cr.reference.monte_carlo(SGD, n=2**40), r"n must be an int in"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_inputs_once_accepted_are_refused_by_name(case):
    call, match = REFUSED[case]
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_a_bad_dask_scheduler_address_is_a_cluster_error(tmp_path):
    pytest.importorskip("dask.distributed")
    from clara_ref.experiments import runner
    from clara_ref.experiments.grid import PRESETS, expand

    specs = expand(PRESETS["smoke"], tasks=["sphere"], optimizers=["sgd"], rates=[1e-2], seeds=[0])
    with pytest.raises(cr.ClusterError, match="cannot reach the dask scheduler at 'not a url': ValueError"):
        runner.run_all(specs, str(tmp_path), progress=False, executor="dask", scheduler="not a url")
    assert issubclass(cr.ClusterError, cr.ClaraRefError)
