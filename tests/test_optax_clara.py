"""clara_ref.optax.clara, the optax transformation, against clara_ref.clara step for step (the lockstep harness,
jit-compiled, with its default float64 and float32 tolerances), with inject_hyperparams, inside multi_transform, and
its refusals by name."""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")

import clara_ref as cr  # noqa: E402
from clara_ref.optax import ClaraState, clara  # noqa: E402
from clara_ref.testing import SETTINGS, gradient_sequences, lockstep, optax_port  # noqa: E402

#: a small model's leaves; the flat theta and the blocks follow the pytree's (sorted) leaf order: b, w, z
LEAVES = {"w": (3, 4), "b": (4,), "z": (5,)}
SIZES = (4, 12, 5)


def _tree(flat):
    return {"b": flat[:4], "w": flat[4:16].reshape(3, 4), "z": flat[16:]}


def _exposed(state):
    return {"p_sq": state.p_sq, "reference": state.reference, "multiplier": state.multiplier}


@functools.lru_cache(maxsize=None)
def _factory(base, move, blocks):
    """One factory object per variant, so the harness compiles each variant once and traces the numbers."""
    return functools.partial(clara, base=base, move=move, blocks=blocks)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("blocks", ["leaf", "global"])
@pytest.mark.parametrize("move", ["raw", "unit"])
@pytest.mark.parametrize("base", ["adam", "sgd"])
@settings(SETTINGS, max_examples=6)
@given(data=st.data(), eta0=st.sampled_from([1e-4, 1e-3, 1e-2, 1e-1]), d=st.sampled_from([0.0, 1e-3, 0.1, 0.5]),
       b2=st.sampled_from([0.9, 0.999]), eps=st.sampled_from([1e-8, 1e-3]), wd=st.sampled_from([0.0, 1e-2]))
def test_clara_optax_equals_the_reference_step_for_step(base, move, blocks, dtype, data, eta0, d, b2, eps, wd):
    # The numbers are traced inside one compiled step per variant (optax_port's hyperparameters); c = 0.2 and
    # b1 = 0.9 fix the reference and stay static. Tolerances: the harness's defaults for the dtype.
    np_dtype = np.float64 if dtype == "float64" else np.float32
    theta0, grads = data.draw(gradient_sequences(n=(21, 21), steps=(1, 25), dtype=np_dtype))
    direction = (cr.adam_direction(beta2=b2, eps=eps, weight_decay=wd) if base == "adam"
                 else cr.sgd_direction(weight_decay=wd))
    ref = cr.clara(direction, eta0, d=d, move=move, blocks=SIZES if blocks == "leaf" else None)
    port = optax_port(_factory(base, move, blocks), _tree(theta0), eta_of=lambda s: s.eta, dtype=dtype,
                      hyperparameters=dict(learning_rate=eta0, d=d, b2=b2, eps=eps, weight_decay=wd),
                      intermediates_of=_exposed)
    lockstep(ref, port, port.theta0, grads)


@pytest.mark.parametrize("kw", [dict(path_of="gradient", reference="random_walk"), dict(d="auto", c=0.1),
                                dict(reference=0.5, b1=0.5), dict(base="sgd", d="auto", move="unit")])
def test_the_other_choices_and_a_reload_mid_run(kw):
    rng = np.random.default_rng(4)
    theta0 = rng.standard_normal(21)
    grads = [rng.standard_normal(21) * 10.0 ** rng.uniform(-2, 2) for _ in range(20)]
    opts = {k: v for k, v in kw.items() if k not in ("base", "b1")}
    direction = cr.sgd_direction() if kw.get("base") == "sgd" else cr.adam_direction(beta1=kw.get("b1", 0.9))
    ref = cr.clara(direction, 1e-2, **opts, blocks=SIZES)
    port = optax_port(clara(1e-2, **kw), _tree(theta0), eta_of=lambda s: s.eta, intermediates_of=_exposed)
    assert lockstep(ref, port, port.theta0, grads, reload_every=7).reloads == 2


def test_inject_hyperparams_makes_the_initial_rate_an_array_of_the_state():
    # One compiled update serves two initial rates (init runs outside jit: c and b1 fix the reference there); each
    # run equals clara(rate) (float64 rounding, the harness's tolerance).
    rng = np.random.default_rng(5)
    theta0, grads = rng.standard_normal(21), [rng.standard_normal(21) for _ in range(15)]
    with jax.enable_x64(True):
        opt = optax.inject_hyperparams(clara)(learning_rate=1e-2, d=0.2)
        update = jax.jit(opt.update)
        for lr in (1e-2, 3e-3):
            params = _tree(jax.numpy.asarray(theta0))
            state = optax.inject_hyperparams(clara)(learning_rate=lr, d=0.2).init(params)
            ref = cr.clara(cr.adam_direction(), lr, d=0.2, blocks=SIZES)
            theta, rs = theta0, ref.init(theta0)
            for g in grads:
                updates, state = update(_tree(jax.numpy.asarray(g)), state, params)
                params = optax.apply_updates(params, updates)
                theta, rs = ref.update(theta, g, rs)
            flat = np.concatenate([np.asarray(params[k]).ravel() for k in ("b", "w", "z")])
            assert np.max(np.abs(flat - theta)) <= 1e-10 * np.max(np.abs(theta))
            assert isinstance(state.inner_state, ClaraState)
            assert float(state.inner_state.eta) == pytest.approx(rs.eta, rel=1e-10)


def test_inside_multi_transform_a_frozen_leaf_is_no_block():
    # "z" is frozen (set_to_zero): the other leaves are CLARA over blocks (4, 12) alone, z never moves.
    rng = np.random.default_rng(6)
    theta0 = rng.standard_normal(21)
    with jax.enable_x64(True):
        params = _tree(jax.numpy.asarray(theta0))
        opt = optax.multi_transform({"train": clara(1e-2, d=0.2), "frozen": optax.set_to_zero()},
                                    {"b": "train", "w": "train", "z": "frozen"})
        state = opt.init(params)
        ref = cr.clara(cr.adam_direction(), 1e-2, d=0.2, blocks=(4, 12))
        theta, rs = theta0[:16], ref.init(theta0[:16])
        for _ in range(15):
            g = rng.standard_normal(21)
            updates, state = opt.update(_tree(jax.numpy.asarray(g)), state, params)
            params = optax.apply_updates(params, updates)
            theta, rs = ref.update(theta, g[:16], rs)
        flat = np.concatenate([np.asarray(params[k]).ravel() for k in ("b", "w")])
        assert np.max(np.abs(flat - theta)) <= 1e-10 * np.max(np.abs(theta))
        assert np.array_equal(np.asarray(params["z"]), theta0[16:])


@pytest.mark.parametrize("kwargs, match", [
    (dict(base="rmsprop"), "base"), (dict(blocks="tensor"), "blocks"), (dict(c=0.0), "c"), (dict(d=-1.0), "d"),
    (dict(d="fast"), "d"), (dict(move="sign"), "move"), (dict(path_of="loss"), "path_of"),
    (dict(reference=-1.0), "reference"), (dict(b1=1.0), "beta1"), (dict(b2=1.0), "b2"), (dict(eps=-1.0), "eps"),
    (dict(weight_decay=-0.1), "weight_decay"), (dict(learning_rate=0.0), "learning_rate"),
])
def test_bad_settings_are_refused_by_name(kwargs, match):
    kwargs = {"learning_rate": 1e-3, **kwargs}
    with pytest.raises(ValueError, match=match):
        clara(**kwargs)


def test_weight_decay_without_params_is_refused():
    opt = clara(1e-3, weight_decay=0.1)
    params = {"w": jax.numpy.zeros(3)}
    with pytest.raises(ValueError, match="weight_decay needs params"):
        opt.update(params, opt.init(params))
