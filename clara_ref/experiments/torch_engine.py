"""The torch engine of ``reproduce --engine torch``: the paper's image tasks on torch models and torch optimizers.

The NumPy engine (``clara_ref.training.train`` on ``clara_ref.models``/``clara_ref.cnn``) is the reference; this
engine trains the same networks, from the same initial weights and on the same minibatches, with torch's autograd
and these optimizers, so that a CIFAR-10 run takes a GPU's minutes instead of a CPU's hours:

==============================  ===========================================================================
grid name                       torch optimizer
==============================  ===========================================================================
sgd, adam                       ``torch.optim.SGD`` (no momentum), ``torch.optim.Adam`` (coupled L2)
sgd-clara, sgd-clara-us,        ``clara_ref.torch.CLARA`` with the run's c, d, move, blocks (one per tensor)
adam-clara, adam-clara-us,      and reference (the authors' table value under ``--protocol authors``)
adam-clara-uncorrected(-matched)
dadapt-adam                     ``dadaptation.DAdaptAdam`` 3.2 (the package; rate d * lr)
prodigy                         ``prodigyopt.Prodigy`` 1.1.2 (the package; rate d * lr)
==============================  ===========================================================================

Every other optimizer of the grid (the 2017 rule, the schedules, ...) has no torch counterpart here and is refused
by name (:func:`check_optimizers`). Each torch optimizer is built from the run's clara_ref optimizer (the grid's
``build_optimizer``), so both engines run one configuration, recorded once (``config``).

What is the same as the NumPy engine: the initial parameters (the NumPy model's ``init`` from
``default_rng(seed)``, copied into the torch tensors), the minibatches (the permutation that
``clara_ref.data.minibatches`` draws from the same generator next), the loss (mean softmax cross-entropy), the
per-epoch records (full training loss, test accuracy, the rate) and what counts as a divergence
(``clara_ref.training``). In float64 on the CPU the two trajectories agree to rounding (tests/test_torch_engine.py).
Equation tags without parentheses (E2, K3, N1, M1) cite the lines of clara_ref's own modules that they mirror.
The torch networks keep clara_ref's tensor shapes (dense weights stored (in, out), ``x @ W + b``), so that the
blocks (one per tensor) and the flat parameter vector are the NumPy model's.
"""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import numpy as np

from .. import _validate as V
from ..training import (_DIVERGENCE, DIVERGENCE_FACTOR, TrainResult, _beyond, _factor, _kind, _NonFinite,
                        _path_signal, _split)

__all__ = ["ENGINES", "TORCH_OPTIMIZERS", "check_optimizers", "check_device", "TorchNet", "torch_optimizer",
           "train_torch", "engine_versions"]

ENGINES = ("numpy", "torch")
#: the grid's optimizers the torch engine provides (the module box says with which torch class)
TORCH_OPTIMIZERS = ("sgd", "sgd-clara", "sgd-clara-us", "adam", "adam-clara", "adam-clara-us", "adam-clara-uncorrected",
                    "adam-clara-uncorrected-matched", "dadapt-adam", "prodigy")


def check_optimizers(names) -> None:
    """Refuse, by name, optimizers the torch engine does not provide (ValueError listing those it does)."""
    missing = [n for n in names if n not in TORCH_OPTIMIZERS]
    if missing:
        raise ValueError(f"the torch engine does not provide {', '.join(missing)}; it provides "
                         f"{', '.join(TORCH_OPTIMIZERS)} (use --engine numpy for the others)")


def check_device(device: str) -> str:
    """``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""
    if not isinstance(device, str) or not re.fullmatch(r"cpu|cuda(:[0-9]+)?", device):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    return device


def engine_versions(engine: str) -> dict:
    """What a run records beside clara_ref's and NumPy's versions: torch's for a torch run."""
    return {"torch": _torch().__version__} if engine == "torch" else {}


def _torch():
    try:
        import torch
    except ModuleNotFoundError as exc:        # pragma: no cover - exercised only without torch
        raise ImportError("--engine torch needs torch: pip install 'clara_ref[torch]'") from exc
    return torch


def TorchNet(model, theta0, *, dtype, device):
    """A torch module computing ``model``'s logits (a ``clara_ref.models.Model`` MLP or a ``clara_ref.cnn.ConvNet``),
    its parameters ``theta0`` (the flat NumPy vector) cut into ``model.shapes``, in order."""
    torch = _torch()
    F = torch.nn.functional

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            tensors, start = [], 0
            for shape in model.shapes:
                n = math.prod(shape)
                tensors.append(torch.nn.Parameter(torch.tensor(theta0[start:start + n].reshape(shape), dtype=dtype,
                                                               device=device)))
                start += n
            self.tensors = torch.nn.ParameterList(tensors)
            self.convs = tuple(getattr(model, "convs", ()))
            self.in_shape = tuple(getattr(model, "in_shape", ()))

        def forward(self, x):
            ps = list(self.tensors)
            if self.convs:
                x = x.reshape(x.shape[0], *self.in_shape)
                for k, (_, pool) in enumerate(self.convs):
                    x = torch.relu(F.conv2d(x, ps[2 * k], ps[2 * k + 1], padding=1))       # N1, N2, N6
                    if pool:
                        x = F.max_pool2d(x, 2)                                            # N7
                x = x.reshape(x.shape[0], -1)
                ps = ps[2 * len(self.convs):]
            for k in range(0, len(ps), 2):
                x = x @ ps[k] + ps[k + 1]                                                 # M1
                if k + 2 < len(ps):
                    x = torch.relu(x)
            return x

    return Net()


def torch_optimizer(opt, params):
    """The torch optimizer of the run's clara_ref optimizer ``opt`` over ``params``, and a function of it that reads
    its rate (what ``state.eta`` is on the NumPy engine)."""
    torch = _torch()
    hp = opt.hyperparameters()
    first = lambda o: o.param_groups[0]["lr"]                        # noqa: E731
    if opt.name == "sgd":
        return torch.optim.SGD(params, lr=hp["eta0"], weight_decay=hp["weight_decay"]), first
    if opt.name == "adam":
        return torch.optim.Adam(params, lr=hp["eta0"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                                weight_decay=hp["weight_decay"]), first
    if opt.name == "clara":
        from ..torch import CLARA

        if hp["transient"] or hp["eta_min"] is not None or hp["eta_max"] is not None:
            raise ValueError("the torch CLARA has no transient reference nor eta bounds")
        blocks = "global" if hp["blocks"] is None else "tensor"
        if blocks == "tensor" and tuple(hp["blocks"]) != tuple(p.numel() for p in params):
            raise ValueError(f"blocks {hp['blocks']} are not one per tensor of the model")
        return CLARA(params, hp["eta0"], base=hp["direction"], c=hp["c"], d=hp["d"], move=hp["move"],
                     betas=(hp.get("beta1", 0.9), hp.get("beta2", 0.999)), eps=hp.get("eps", 1e-8),
                     weight_decay=hp["weight_decay"], blocks=blocks, reference=hp["reference"],
                     path_of=hp["path_of"]), first
    rate = lambda o: o.param_groups[0]["d"] * o.param_groups[0]["lr"]      # noqa: E731
    kw = {k: hp[k] for k in ("lr", "d0", "eps", "weight_decay", "decouple", "use_bias_correction", "growth_rate")}
    if opt.name == "dadapt_adam":
        import dadaptation

        return dadaptation.DAdaptAdam(params, betas=(hp["beta1"], hp["beta2"]), **kw), rate
    if opt.name == "prodigy":
        import prodigyopt

        return prodigyopt.Prodigy(params, betas=(hp["beta1"], hp["beta2"]), beta3=hp["beta3"],
                                  safeguard_warmup=hp["safeguard_warmup"], d_coef=hp["d_coef"], **kw), rate
    raise ValueError(f"the torch engine has no optimizer for {opt.name!r}")


def _state_of(optimizer):
    """What the records read from a run's final state: CLARA's P and reference, if the optimizer has them."""
    glob = optimizer.state.get("clara")
    if not glob:
        return SimpleNamespace()
    return SimpleNamespace(p_sq=glob["p_sq"], reference=glob["reference"], t=glob["t"])


def train_torch(model, opt, data, *, epochs: int, batch_size: int = 128, seed: int = 0, dtype=np.float64,
                device: str = "cpu", divergence_factor: float | None = DIVERGENCE_FACTOR,
                eval_rows: int = 1024, threads: int | None = None) -> TrainResult:
    """``clara_ref.training.train`` on the torch engine: the same arguments and result (``theta`` the final
    parameters as one flat NumPy vector, ``state`` CLARA's P and reference where it has them). ``threads``: torch's
    intra-op threads for this run (the sweep's workers use 1, as their BLAS: two workers of two threads each on two
    cores ran 3.6x slower), restored after; None leaves torch's setting."""
    torch = _torch()
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(V.integer("threads", threads, lo=1))
    try:
        return _train_torch(torch, model, opt, data, epochs, batch_size, seed, dtype, device, divergence_factor,
                            eval_rows)
    finally:
        torch.set_num_threads(before)


def _train_torch(torch, model, opt, data, epochs, batch_size, seed, dtype, device, divergence_factor, eval_rows):
    epochs = V.integer("epochs", epochs, hi=V.MAX_COUNT)
    batch_size = V.integer("batch_size", batch_size, lo=1, hi=V.MAX_SIZE)
    seed = V.seed(seed)
    dtype = V.float_dtype("dtype", dtype)
    device = check_device(device)
    factor = _factor(divergence_factor)                 # checked before any step, as train does
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    X, y, X_test, y_test = _split(data)
    rng = np.random.default_rng(seed)
    theta0 = model.init(rng).astype(dtype, copy=False)              # the NumPy engine's draw, then its batches
    net = TorchNet(model, theta0, dtype=tdtype, device=device)
    params = list(net.parameters())
    optimizer, rate_of = torch_optimizer(opt, params)
    Xt = torch.as_tensor(np.asarray(X, dtype=dtype), device=device)
    yt = torch.as_tensor(np.asarray(y, dtype=np.int64), device=device)
    Xv = torch.as_tensor(np.asarray(X_test, dtype=dtype), device=device)
    yv = torch.as_tensor(np.asarray(y_test, dtype=np.int64), device=device)
    loss_fn = torch.nn.functional.cross_entropy

    @torch.no_grad()
    def full_loss():
        total = sum(float(loss_fn(net(Xt[a:a + eval_rows]), yt[a:a + eval_rows], reduction="sum"))
                    for a in range(0, len(yt), eval_rows))
        return total / len(yt)

    @torch.no_grad()
    def accuracy():
        hits = sum(int((net(Xv[a:a + eval_rows]).argmax(1) == yv[a:a + eval_rows]).sum())
                   for a in range(0, len(yv), eval_rows))
        return hits / len(yv)

    def theta():
        return np.concatenate([p.detach().cpu().numpy().ravel() for p in params])

    def signal():
        return _path_signal(_state_of(optimizer))

    losses, accs, etas, signals = [full_loss()], [accuracy()], [rate_of(optimizer)], [signal()]
    for epoch in range(1, epochs + 1):
        try:
            order = torch.as_tensor(rng.permutation(len(y)), device=device)   # clara_ref.data.minibatches' draw
            for start in range(0, len(y), batch_size):
                idx = order[start:start + batch_size]
                optimizer.zero_grad(set_to_none=True)
                loss_fn(net(Xt[idx]), yt[idx]).backward()
                optimizer.step()
            loss = full_loss()
            if not math.isfinite(loss) or not all(bool(torch.isfinite(p).all()) for p in params):
                raise _NonFinite("non-finite loss or parameters")
        except _DIVERGENCE as exc:
            return TrainResult(losses, accs, etas, True, epoch, f"{type(exc).__name__}: {exc}", theta(),
                               _state_of(optimizer), *map(list, zip(*signals)), divergence=_kind(exc))
        losses.append(loss)
        accs.append(accuracy())
        etas.append(rate_of(optimizer))
        signals.append(signal())
    beyond = _beyond(losses[-1], losses[0], factor, "loss")
    return TrainResult(losses, accs, etas, beyond is not None, epochs if beyond else None, beyond or "", theta(),
                       _state_of(optimizer), *map(list, zip(*signals)), divergence=beyond)
