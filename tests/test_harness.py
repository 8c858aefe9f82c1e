"""What lockstep does beyond comparing numbers: it stops without a verdict where both sides diverged, rebuilds a
port from its saved state, checks a port's own start, compares a port's intermediates by name and prints both
sides' values on failure."""

import numpy as np
import pytest

import clara_ref as cr
from clara_ref.testing import DIVERGENCE_BOUND, lockstep, optax_port, torch_port

torch = pytest.importorskip("torch")
from .ports import ForeachClara, TorchClara  # noqa: E402


def _grads(n=5, steps=12, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(n) * 10 ** rng.uniform(-1, 1) for _ in range(steps)]


def test_two_diverging_trajectories_give_no_verdict():
    """SGD at rate 1 on a quadratic of curvature 3 triples the iterate every step, on both sides; once both are
    beyond 1e3 (1 + |theta0|) the comparison stops and says so (their rounding differences grow as fast)."""
    theta0 = np.array([1.0, -0.5])
    report = lockstep(cr.sgd(1.0), torch_port(lambda ps: torch.optim.SGD(ps, lr=1.0), theta0), theta0,
                      lambda theta, k: 4.0 * theta, steps=30)
    assert report.stopped.startswith(f"step {report.steps + 1}: both sides have diverged")
    assert 3 ** report.steps < DIVERGENCE_BOUND * 2 <= 3 ** (report.steps + 1)
    # a port that diverges alone is no divergence of both: it fails
    theta = theta0.copy()

    def runaway(g):
        theta[:] = theta * 3.0
        return theta.copy()

    with pytest.raises(AssertionError, match="step 1: theta of the port deviates"):
        lockstep(cr.sgd(1e-3), runaway, theta0, lambda th, k: th, steps=30)


def test_the_comparison_stops_where_clara_ref_raises_its_divergence_error():
    """torch.optim.Adam keeps v = inf after a gradient of 1e200 (that coordinate then stays frozen); clara_ref
    refuses the update with NonFiniteStateError: the comparison stops there, without a verdict on that step."""
    theta0 = np.ones(3)
    grads = [np.ones(3), np.array([1e200, 1.0, 1.0]), np.ones(3)]
    with np.errstate(over="ignore"):
        report = lockstep(cr.adam(1e-3), torch_port(lambda ps: torch.optim.Adam(ps, lr=1e-3), theta0), theta0,
                          grads)
    assert report.steps == 1 and report.stopped.startswith("step 2: clara_ref stopped with its divergence error "
                                                           "(NonFiniteStateError")


def test_a_reload_keeps_a_correct_port_and_unmasks_state_kept_outside_it():
    """Rebuilt from its state_dict every 3 steps, the CLARA port continues exactly (its step counts, moments, path
    and rate are in the state); the foreach port that keeps its step count as a Python attribute restarts it at 0
    after the reload and fails at the next step, though it passes every comparison without reloads."""
    theta0, grads = 0.1 * np.arange(1.0, 6.0), _grads()
    ours = cr.clara(cr.adam_direction(), 1e-2, d=0.05, blocks=(3, 2))
    eta = lambda o: o.param_groups[0]["lr"]                                                   # noqa: E731
    port = torch_port(lambda ps: TorchClara(ps, 1e-2, d=0.05), theta0, shapes=[(3,), (2,)], eta_of=eta)
    report = lockstep(ours, port, theta0, grads, reload_every=3)
    assert report.reloads == 3 and report.steps == 12
    foreach = lambda ps: ForeachClara(ps, 1e-2, d=0.05, step_in_attribute=True)               # noqa: E731
    lockstep(ours, torch_port(foreach, theta0, shapes=[(3,), (2,)], eta_of=eta), theta0, grads)
    with pytest.raises(AssertionError, match="^step 4: "):
        lockstep(ours, torch_port(foreach, theta0, shapes=[(3,), (2,)], eta_of=eta), theta0, grads, reload_every=3)
    with pytest.raises(ValueError, match="reload_every needs a port with a reload"):
        lockstep(ours, lambda g: theta0, theta0, grads, reload_every=3)


def test_a_port_starts_from_theta0_or_says_which_order_it_has():
    theta0 = np.arange(5.0)
    shuffled = torch_port(lambda ps: torch.optim.SGD(ps, lr=0.1), theta0[::-1].copy(), shapes=[(3,), (2,)])
    with pytest.raises(AssertionError, match=r"step 0: the port starts from another theta0 than clara_ref: "
                                             r"coordinate 0 is 4.0 in the port and 0.0 in theta0 \(the port's "
                                             r"leaves, in its order: tensor 0 \(3,\), tensor 1 \(2,\)\)"):
        lockstep(cr.sgd(0.1), shuffled, theta0, [np.ones(5)])
    rounded = torch_port(lambda ps: torch.optim.SGD(ps, lr=0.1), theta0 + 0.1, dtype=torch.float32)
    with pytest.raises(AssertionError, match="step 0: theta0 is float64 but the port holds it in float32"):
        lockstep(cr.sgd(0.1), rounded, theta0 + 0.1, [np.ones(5)])


def test_optax_port_names_its_leaf_order_and_refuses_to_round_its_start():
    pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    params = {"w": np.arange(4.0).reshape(2, 2) + 0.1, "b": np.array([5.0, 6.0])}
    port = optax_port(optax.sgd(0.1), params)
    assert port.leaf_order == ["['b']", "['w']"] and port.theta0.tolist() == [5.0, 6.0, 0.1, 1.1, 2.1, 3.1]
    wrong = np.concatenate([params["w"].ravel(), params["b"]])                     # the user's order, not ravel's
    with pytest.raises(AssertionError, match=r"step 0: the port starts from another theta0 .* leaves, in its order: "
                                             r"\['b'\], \['w'\]"):
        lockstep(cr.sgd(0.1), port, wrong, [np.ones(6)])
    with pytest.raises(ValueError, match=r"theta0's leaf \['w'\] is float64 but the port is float32, which rounds it"):
        optax_port(optax.sgd(0.1), params, dtype="float32")
    report = lockstep(cr.sgd(0.1), optax_port(optax.sgd(0.1), params), port.theta0, [np.ones(6)] * 3,
                      reload_every=1)
    assert report.reloads == 2 and report.max_theta_deviation == 0.0


def test_the_optax_compile_cache_is_bounded():
    pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    from clara_ref.testing import optax_adapter

    for k in range(optax_adapter.CACHE_SIZE + 5):                   # fresh transformations: a new entry each
        optax_port(optax.sgd(0.1 + k), np.zeros(2))
    assert len(optax_adapter._CACHE) == optax_adapter.CACHE_SIZE


def test_a_ports_own_intermediates_are_compared_and_both_sides_printed():
    """intermediates_of exposes the port's P, reference and multiplier; a reference for the wrong block sizes shows
    in them at step 1, with both sides' values in the message."""
    theta0, grads = 0.1 * np.arange(1.0, 6.0), _grads()
    ours = cr.clara(cr.adam_direction(), 1e-3, d=0.05, blocks=(3, 2))

    def exposed(opt):
        return {"reference": opt.reference}

    good = torch_port(lambda ps: TorchClara(ps, 1e-3, d=0.05), theta0, shapes=[(3,), (2,)], intermediates_of=exposed)
    assert lockstep(ours, good, theta0, grads).max_intermediate_deviation["reference"] < 1e-15
    bad = torch_port(lambda ps: TorchClara(ps, 1e-3, d=0.05, bug="reference_wrong_size"), theta0,
                     shapes=[(3,), (2,)], intermediates_of=exposed)
    with pytest.raises(AssertionError) as info:
        lockstep(ours, bad, theta0, grads)
    msg = str(info.value)
    assert msg.startswith("step 1: reference of the port deviates from clara_ref")
    assert "clara_ref at this step: eta" in msg and "reference 1.23416" in msg and "the port: reference 1.30635" in msg
