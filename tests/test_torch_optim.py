"""clara_ref.torch.CLARA, the torch.optim optimizer, against clara_ref.clara step for step (the lockstep harness with
its default float64 and float32 tolerances), and its torch-side contract: .grad never written, parameter groups,
the LR scheduler rule, state_dict round trips bit for bit, refusals by name."""

import io
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import clara_ref as cr  # noqa: E402
from clara_ref.testing import (SETTINGS, Frozen, adam_direction_hyperparameters, clara_hyperparameters,  # noqa: E402
                               gradient_sequences, lockstep, parameter_shapes, torch_port)
from clara_ref.torch import CLARA  # noqa: E402


def _rate(opt):
    return opt.param_groups[0]["lr"]


def _exposed(opt):
    glob = opt.state["clara"]
    return {"p_sq": glob["p_sq"], "reference": glob["reference"], "multiplier": glob["multiplier"]}


def _pair(base, hp, dh, blocks, sizes):
    """The clara_ref optimizer and the torch factory for one drawn variant."""
    direction = cr.adam_direction(**dh) if base == "adam" else cr.sgd_direction(weight_decay=dh["weight_decay"])
    ref = cr.clara(direction, **hp, blocks=tuple(sizes) if blocks == "tensor" else None)
    kw = dict(base=base, c=hp["c"], d=hp["d"], move=hp["move"], reference=hp["reference"], path_of=hp["path_of"],
              blocks=blocks, weight_decay=dh["weight_decay"], betas=(dh["beta1"], dh["beta2"]), eps=dh["eps"])
    return ref, (lambda ps: CLARA(ps, hp["eta0"], **kw))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("blocks", ["tensor", "global"])
@pytest.mark.parametrize("base", ["adam", "sgd"])
@settings(SETTINGS, max_examples=12)
@given(data=st.data(), hp=clara_hyperparameters(eta0=(1e-4, 1e-1)), dh=adam_direction_hyperparameters())
def test_clara_torch_equals_the_reference_step_for_step(base, blocks, dtype, data, hp, dh):
    # raw and unit moves, both paths and both references are drawn (clara_hyperparameters); the shapes may hold
    # frozen tensors (no .grad), which must not move and are no block; the port is rebuilt from its state_dict
    # every few steps. Tolerances: the harness's defaults for the dtype (clara_ref.testing.TOLERANCES).
    shapes = data.draw(parameter_shapes(tensors=(1, 4), frozen_tensors=True))
    theta0, grads = data.draw(gradient_sequences(shapes=shapes, steps=(1, 25), dtype=dtype))
    sizes = [math.prod(s) for s in shapes if not isinstance(s, Frozen)]
    ref, make = _pair(base, hp, dh, blocks, sizes)
    port = torch_port(make, theta0, eta_of=_rate, shapes=shapes, intermediates_of=_exposed)
    lockstep(ref, port, theta0, grads, reload_every=data.draw(st.sampled_from([None, 3, 7])))


def test_parameter_groups_share_one_factor_and_keep_their_rates():
    # Two groups of one rate are CLARA over the union (one reference, one P); a group at twice the rate keeps
    # twice the rate at every step, both moved by the same factor.
    rng = np.random.default_rng(1)
    theta0 = rng.standard_normal(9)
    grads = [rng.standard_normal(9) for _ in range(30)]
    ref = cr.clara(cr.adam_direction(), 1e-2, d=0.2, blocks=(6, 3))
    port = torch_port(lambda ps: CLARA([{"params": ps[:1]}, {"params": ps[1:]}], 1e-2, d=0.2), theta0,
                      shapes=[(2, 3), (3,)], eta_of=_rate)
    lockstep(ref, port, theta0, grads)
    a = torch.nn.Parameter(torch.ones(4, dtype=torch.float64))
    b = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt = CLARA([{"params": [a]}, {"params": [b], "lr": 2e-2}], 1e-2, d=0.3)
    for k in range(20):
        a.grad, b.grad = torch.tensor(rng.standard_normal(4)), torch.tensor(rng.standard_normal(2))
        opt.step()
        assert opt.param_groups[1]["lr"] == pytest.approx(2 * opt.param_groups[0]["lr"], rel=1e-14)
    assert opt.param_groups[0]["lr"] != 1e-2


def test_per_group_weight_decay_is_coupled_l2_on_that_group_only():
    # Group 0 has weight decay 0.1, group 1 none: the reference is fed g + 0.1 theta on group 0's coordinates.
    rng = np.random.default_rng(2)
    theta = rng.standard_normal(5)
    a = torch.nn.Parameter(torch.tensor(theta[:3].copy()))
    b = torch.nn.Parameter(torch.tensor(theta[3:].copy()))
    opt = CLARA([{"params": [a], "weight_decay": 0.1}, {"params": [b]}], 1e-2, d=0.2)
    ref = cr.clara(cr.adam_direction(), 1e-2, d=0.2, blocks=(3, 2))
    state = ref.init(theta)
    mask = np.array([0.1, 0.1, 0.1, 0.0, 0.0])
    for _ in range(25):
        g = rng.standard_normal(5)
        a.grad, b.grad = torch.tensor(g[:3]), torch.tensor(g[3:])
        opt.step()
        theta, state = ref.update(theta, g + mask * theta, state)
        got = np.concatenate([a.detach().numpy(), b.detach().numpy()])
        assert np.max(np.abs(got - theta)) <= 1e-10 * np.max(np.abs(theta))     # float64 rounding, as the harness
    assert _rate(opt) == pytest.approx(state.eta, rel=1e-10)


def test_a_group_may_set_only_its_own_settings():
    w = torch.nn.Parameter(torch.zeros(3))
    with pytest.raises(ValueError, match="a parameter group may set only lr, betas, eps, weight_decay"):
        CLARA([{"params": [w], "c": 0.5}], 1e-3)
    with pytest.raises(ValueError, match="beta1"):
        CLARA([{"params": [w], "betas": (1.5, 0.9)}], 1e-3)


def test_the_rate_in_param_groups_is_the_one_the_next_step_moves_with():
    # The documented scheduler rule: a chainable scheduler (ExponentialLR) multiplies the adapted rate, and the next
    # step moves with what it wrote (SGD, raw move: the move is exactly -lr g).
    w = torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))
    opt = CLARA([w], 0.1, base="sgd", d=0.5)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    rng = np.random.default_rng(3)
    for _ in range(5):
        w.grad = torch.tensor(rng.standard_normal(4))
        opt.step()
        adapted = _rate(opt)
        sched.step()
        assert _rate(opt) == adapted * 0.5
        before, g = w.detach().clone(), torch.tensor(rng.standard_normal(4))
        w.grad = g
        lr = _rate(opt)
        opt.step()
        # the move theta - lr g, read back as a difference: rounding of one subtraction and one product, at most
        # 2 ulps of |theta| (2 * 2**-52 relative)
        bound = 2 * 2.0**-52 * float(torch.maximum(before.abs(), w.detach().abs()).max())
        assert float((w.detach() - before + lr * g).abs().max()) <= bound


def _model(dtype=torch.float64):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64), torch.nn.ReLU(),
                               torch.nn.Linear(64, 10)).to(dtype)


def _digits(dtype=torch.float64):
    X, y = cr.data.load("digits", seed=0)[:2]
    return torch.tensor(X, dtype=dtype), torch.tensor(y, dtype=torch.long)


def test_a_model_outside_the_authors_table_trains_and_grad_is_never_written():
    # 64-128-64-10 has 17,226 parameters, a count the authors' eight-entry table lacks (their class raises there).
    model = _model()
    assert sum(p.numel() for p in model.parameters()) == 17226
    X, y = _digits()
    opt = CLARA(model.parameters(), 1e-3, base="adam")
    loss_fn = torch.nn.functional.cross_entropy
    with torch.no_grad():
        first = float(loss_fn(model(X), y))
    gen = torch.Generator().manual_seed(0)
    for epoch in range(5):
        for idx in torch.randperm(len(y), generator=gen).split(32):
            opt.zero_grad()
            loss_fn(model(X[idx]), y[idx]).backward()
            grads = [p.grad.clone() for p in model.parameters()]
            opt.step()
            assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))
    with torch.no_grad():
        accuracy, last = float((model(X).argmax(1) == y).double().mean()), float(loss_fn(model(X), y))
    # chance is 0.1 and the initial loss about ln 10 = 2.3; five epochs of Adam at 1e-3 reach over 95% on digits
    assert last < 0.2 * first and accuracy > 0.95
    assert _rate(opt) != 1e-3 and opt.state["clara"]["t"] == 5 * math.ceil(len(y) / 32)


def test_step_with_a_closure_returns_its_loss_and_equals_backward_then_step():
    X, y = _digits()
    models = [_model(), _model()]
    opts = [CLARA(m.parameters(), 1e-3) for m in models]

    def closure():
        opts[0].zero_grad()
        loss = torch.nn.functional.cross_entropy(models[0](X[:64]), y[:64])
        loss.backward()
        return loss

    for _ in range(3):
        loss = opts[0].step(closure)
        opts[1].zero_grad()
        expected = torch.nn.functional.cross_entropy(models[1](X[:64]), y[:64])
        expected.backward()
        opts[1].step()
        assert float(loss.detach()) == float(expected.detach())
    assert all(torch.equal(a, b) for a, b in zip(models[0].parameters(), models[1].parameters()))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_state_dict_round_trip_mid_run_continues_bit_for_bit(dtype):
    X, y = _digits(dtype)
    ran, resumed = _model(dtype), _model(dtype)
    opt = CLARA(ran.parameters(), 1e-3, d="auto", move="unit")
    loss_fn = torch.nn.functional.cross_entropy

    def train(model, opt, lo, hi):
        for k in range(lo, hi):
            opt.zero_grad()
            loss_fn(model(X[32 * k:32 * k + 32]), y[32 * k:32 * k + 32]).backward()
            opt.step()

    train(ran, opt, 0, 10)
    buffer = io.BytesIO()
    torch.save({"model": ran.state_dict(), "opt": opt.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)          # plain tensors, ints, floats and strings only
    resumed.load_state_dict(saved["model"])
    opt2 = CLARA(resumed.parameters(), 1e-3, d="auto", move="unit")
    opt2.load_state_dict(saved["opt"])
    train(ran, opt, 10, 20)
    train(resumed, opt2, 10, 20)
    assert all(torch.equal(a, b) for a, b in zip(ran.parameters(), resumed.parameters()))
    assert _rate(opt) == _rate(opt2) and opt.state["clara"] == opt2.state["clara"]


def test_a_non_finite_step_or_rate_raises_and_changes_nothing():
    w = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt = CLARA([w], 1e-2, d=0.1)
    w.grad = torch.ones(3, dtype=torch.float64)
    opt.step()
    kept = {k: (v.clone() if torch.is_tensor(v) else v) for k, v in opt.state[w].items()}
    kept_w, kept_glob, kept_lr = w.detach().clone(), dict(opt.state["clara"]), _rate(opt)
    w.grad = torch.tensor([1.0, float("nan"), 0.0], dtype=torch.float64)
    with pytest.raises(cr.NonFiniteStateError, match="tensor 0 .* at step 2"):
        opt.step()
    assert torch.equal(w.detach(), kept_w) and opt.state["clara"] == kept_glob and _rate(opt) == kept_lr
    assert all(torch.equal(opt.state[w][k], v) if torch.is_tensor(v) else opt.state[w][k] == v
               for k, v in kept.items())
    big = CLARA([w], 1e-2, d=1e4)
    w.grad = torch.ones(3, dtype=torch.float64)
    with pytest.raises(cr.LearningRateError, match="step 1"):
        for _ in range(3):
            big.step()
    assert torch.isfinite(w).all()


@pytest.mark.parametrize("kwargs, match", [
    (dict(base="rmsprop"), "base"), (dict(blocks="layer"), "blocks"), (dict(c=0.0), "c"), (dict(d=-1.0), "d"),
    (dict(d="fast"), "d"), (dict(move="sign"), "move"), (dict(path_of="loss"), "path_of"),
    (dict(reference=-1.0), "reference"), (dict(betas=(0.9,)), "betas"), (dict(eps=-1.0), "eps"),
    (dict(weight_decay=-0.1), "weight_decay"), (dict(lr=0.0), "lr"),
])
def test_bad_settings_are_refused_by_name(kwargs, match):
    w = torch.nn.Parameter(torch.zeros(3))
    kwargs = {"lr": 1e-3, **kwargs}
    with pytest.raises(ValueError, match=match):
        CLARA([w], **kwargs)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_parameters_are_refused(dtype):
    with pytest.raises(ValueError, match="float32 or float64"):
        CLARA([torch.nn.Parameter(torch.zeros(3, dtype=dtype))], 1e-3)
