"""CLARA as a ``torch.optim.Optimizer`` (read through :mod:`clara_ref.torch`, which imports this module lazily).

One ``step()``, the equations of ``clara_ref/clara.py`` (K1-K6) on a list of tensors, blocks b = the tensors that
have a gradient (``blocks="tensor"``) or all of them together (``blocks="global"``)::

    g_b <- p.grad + weight_decay * p                       coupled L2, a new tensor: .grad is never written   (E1)
    Adam: m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2                                (E2, E3)
          s <- (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)                              (E4-E6, K1)
    SGD:  s <- g                                                                                          (K1)
    x_b <- s_b (path_of="step")  or  g_b (path_of="gradient")                                             (K2)
    p_b <- (1 - c) p_b + c x_b / max(|x_b|, 1e-12);   P <- sum_b |p_b|^2                                   (K3)
    ref <- sum_b E_null |p_b|^2  (clara_ref.reference, once per block size), or K c/(2-c), or a float      (K4)
    param_b <- param_b - lr s_b    (move="unit": lr s_b / max(|s_b|, 1e-12))  with the rate before this step (K6)
    lr <- lr exp(d (P / ref - 1))  in every parameter group                                              (K5)

Nothing of the state changes until one check has passed: a step writes its new moments, path and step s into a
second set of buffers per tensor (``_spares``, allocated once, not part of the state), and only then do the new
buffers and the old ones trade places (no copy, no allocation per step: this is what keeps the step within a few
percent of ``torch.optim.Adam``'s, benchmarks/torch_port.py; the price is a second copy of the moments and the
path in memory). The only host synchronisation of a step reads P and the squared norms |s_b|^2 together (one
``tolist()`` of one small float64 tensor, never one ``.item()`` per tensor). A non-finite value there raises
``NonFiniteStateError`` and a rate that would become inf, 0 or NaN raises ``LearningRateError``, both with the
parameters, the moments, the path and the rate as they were. As with ``torch.optim``, ``state_dict()`` holds the
live tensors: ``torch.save`` it, or ``copy.deepcopy`` it, to keep a snapshot.

The global quantities (the number of steps t, the resolved damping, the last P, reference and factor) live in
``self.state["clara"]``, a plain dict that ``state_dict()``/``load_state_dict()`` carry under that key beside the
per-tensor states (``step``, ``exp_avg``, ``exp_avg_sq``, ``path``).
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch

from . import _validate as V
from ._core import safe_exp
from .directions import adam_direction, sgd_direction
from .errors import LearningRateError, NonFiniteStateError
from .path import CLAMP_FLOOR
from .rate_control import validated
from . import reference as R

__all__ = ["CLARA"]

#: what a parameter group may set for itself; every other setting is one for the whole optimizer (one rate factor)
GROUP_KEYS = ("lr", "betas", "eps", "weight_decay")
#: the global state's key in ``optimizer.state``
GLOBAL = "clara"


#: the random walk's direction (SGD's steps, or any gradient), and Adam's directions by (beta1, beta2, eps): built
#: once, not at every step
_SGD = sgd_direction()
_adam = lru_cache(maxsize=64)(lambda beta1, beta2, eps: adam_direction(beta1=beta1, beta2=beta2, eps=eps))


@lru_cache(maxsize=1024)
def _null(direction, c: float, n: int, spread: bool) -> tuple:
    """(mean, std) of |p_b|^2 under pure noise for a block of n entries whose path cumulates ``direction``'s steps
    (clara_ref.reference: the kappa series for Adam, a seeded Monte Carlo of the spread for small n) or a random walk
    (SGD's steps, or any gradient: c/(2-c)); the spread (for d = "auto") only when asked."""
    return R.path_sq_norm_mean(direction, c=c, n=n), R.path_sq_norm_std(direction, c=c, n=n) if spread else 0.0


class CLARA(torch.optim.Optimizer):
    """CLARA (arXiv 2508.05408) around Adam or SGD for torch models: a c-weighted path of per-tensor unit steps and
    one learning rate moved after each step by exp(d (P / ref - 1)). Equal step for step to
    ``clara_ref.clara(adam_direction(...) or sgd_direction(...), lr, c=c, d=d, move=move, blocks=..., reference=...,
    path_of=...)`` over the tensors concatenated in order (tests/test_torch_optim.py, by the lockstep harness).

    Parameters: ``lr`` the initial rate; ``base`` ``"adam"`` or ``"sgd"``; ``c`` in (0, 1]; ``d`` >= 0 or
    ``"auto"`` (twice the exact null spread of P, resolved at the first step); ``move`` ``"raw"`` or ``"unit"``;
    ``betas``, ``eps`` Adam's (ignored by SGD); ``weight_decay`` coupled L2 (added to the gradient, as
    ``torch.optim.Adam``); ``blocks`` ``"tensor"`` (one block per tensor, as the authors) or ``"global"``;
    ``reference`` ``"direction"`` (the expected |p_b|^2 of the vector entering the path under pure noise, per block
    size), ``"random_walk"`` (c/(2-c) per block) or a float; ``path_of`` ``"step"`` or ``"gradient"``.

    Parameter groups may set ``lr``, ``betas``, ``eps`` and ``weight_decay``; each group keeps its own rate and all
    rates are multiplied by the same factor exp(d (P / ref - 1)), P and ref summed over every tensor of every
    group (with one group: CLARA's one global rate). ``param_groups[i]["lr"]`` *is* that rate: the next step moves
    with the value found there, so an LR scheduler that writes it changes the rate CLARA goes on adapting from
    (chainable schedulers such as ``ExponentialLR`` multiply it; ``LambdaLR`` replaces it by ``base_lr * f(epoch)``
    and so undoes the adaptation). float32 and float64 parameters, on any device; float16 and bfloat16 are refused
    (Adam's eps and the 1e-12 clamp lie below their resolution).
    """

    def __init__(self, params, lr: float = 1e-3, *, base: str = "adam", c: float = 0.2, d: float | str = 1e-3,
                 move: str = "raw", betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 blocks: str = "tensor", reference: str | float = "direction", path_of: str = "step"):
        base = V.one_of("base", base, ("adam", "sgd"))
        blocks = V.one_of("blocks", blocks, ("tensor", "global"))
        self._direction_of(base, lr, betas, eps, weight_decay)            # checks them, with clara_ref's messages
        rule = validated(direction=sgd_direction(), eta0=lr, c=c, d=d, move=move, reference=reference,
                         path_of=path_of)
        self.base, self.blocks = base, blocks
        self.c, self.d, self.move = rule["c"], rule["d"], rule["move"]
        self.reference, self.path_of = rule["reference"], rule["path_of"]
        self._spares = {}
        super().__init__(params, dict(lr=rule["eta0"], betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    # -- settings ------------------------------------------------------------------------------------------------
    @staticmethod
    def _direction_of(base, lr, betas, eps, weight_decay):
        V.positive("lr", lr)
        if base == "sgd":
            return sgd_direction(weight_decay=weight_decay)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        return adam_direction(beta1=betas[0], beta2=betas[1], eps=eps, weight_decay=weight_decay)

    def add_param_group(self, param_group):
        extra = sorted(set(param_group) - set(GROUP_KEYS) - {"params"})
        if extra:
            raise ValueError(f"a parameter group may set only {', '.join(GROUP_KEYS)} (the other settings are one "
                             f"for the whole optimizer, which moves every group's rate by one factor); got {extra}")
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        self._direction_of(self.base, group["lr"], group["betas"], group["eps"], group["weight_decay"])
        group["lr"] = float(group["lr"])
        for p in group["params"]:
            if p.dtype not in (torch.float32, torch.float64):
                raise ValueError(f"parameters must be float32 or float64, got a {p.dtype} tensor of shape "
                                 f"{tuple(p.shape)} (Adam's eps = 1e-8 and the 1e-12 clamp are below float16's "
                                 "and bfloat16's resolution; keep a float32 copy of the weights)")

    def _null_direction(self, group):
        """The direction whose pure-noise path ref is: the group's Adam (its steps enter the path), or the random
        walk of SGD's steps or of any gradient (weight decay plays no part under pure noise)."""
        if self.base == "adam" and self.path_of == "step":
            return _adam(group["betas"][0], group["betas"][1], group["eps"])
        return _SGD

    def _ref_and_spread(self, entries) -> tuple:
        """(K4) ref = sum_b mu_b over the blocks of this step, and sqrt(sum_b sigma_b^2) (for d = "auto")."""
        if self.blocks == "global":
            nulls = {self._null_direction(group) for group, _ in entries}
            if len(nulls) > 1:
                raise ValueError("blocks='global' needs the same betas and eps in every group (one block, one "
                                 "reference)")
            blocks = [(nulls.pop(), sum(p.numel() for _, p in entries))]
        else:
            blocks = [(self._null_direction(group), p.numel()) for group, p in entries]
        nulls = [_null(direction, self.c, n, self.d == "auto") for direction, n in blocks]
        if isinstance(self.reference, float):
            ref = self.reference
        elif self.reference == "random_walk":
            ref = len(blocks) * R.random_walk_mean(self.c)
        else:
            ref = sum(mean for mean, _ in nulls)
        return ref, math.sqrt(sum(std * std for _, std in nulls))

    # -- one step --------------------------------------------------------------------------------------------------
    def _spare(self, p):
        """This tensor's second set of buffers (moments, path, step): a step writes its new values there, and only
        once every check has passed do they trade places with the state's (no copy, no allocation per step)."""
        spare = self._spares.get(p)
        if spare is None:
            names = ("exp_avg", "exp_avg_sq", "path", "s") if self.base == "adam" else ("path",)
            spare = self._spares[p] = {k: torch.empty_like(p, memory_format=torch.preserve_format) for k in names}
        return spare

    def _propose(self, group, p, state, t):
        """(E1-E6, K1) the new moments and the step s of one tensor, written into its spare buffers."""
        g = p.grad
        if group["weight_decay"]:
            g = torch.add(g, p, alpha=group["weight_decay"])                             # E1
        if self.base == "sgd":
            return g, g, {}
        beta1, beta2 = group["betas"]
        spare = self._spare(p)
        m = torch.lerp(state["exp_avg"], g, 1.0 - beta1, out=spare["exp_avg"])          # E2 beta1 m + (1-beta1) g
        v = torch.mul(state["exp_avg_sq"], beta2, out=spare["exp_avg_sq"])
        v.addcmul_(g, g, value=1.0 - beta2)                                              # E3
        # E4-E6 in three passes: s = m_hat / (sqrt(v_hat) + eps) = m / (b1c (sqrt(v) / sqrt(b2c) + eps)),
        # b1c = 1 - beta1^t, b2c = 1 - beta2^t
        b1c, b2c = 1.0 - beta1**t, 1.0 - beta2**t
        denom = torch.sqrt(v, out=spare["s"])
        denom.mul_(b1c / math.sqrt(b2c)).add_(group["eps"] * b1c)
        s = torch.div(m, denom, out=denom)                                               # E6
        return g, s, {"exp_avg": m, "exp_avg_sq": v}

    def _propose_all(self, entries):
        """K1, K2 for every tensor: the steps s, the vectors x entering the path, the new moments, |s_b|^2 and
        |x_b|^2 (tensors on the device); a tensor seen for the first time gets its zero state."""
        steps, xs, moments, s_sq, x_sq = [], [], [], [], []
        for group, p in entries:
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["path"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                if self.base == "adam":
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            g, s, new = self._propose(group, p, state, state["step"] + 1)               # K1
            x = s if self.path_of == "step" else g                                       # K2
            steps.append(s)
            xs.append(x)
            moments.append(new)
            s_sq.append(torch.linalg.vecdot(s.reshape(-1), s.reshape(-1)))
            x_sq.append(s_sq[-1] if x is s else torch.linalg.vecdot(x.reshape(-1), x.reshape(-1)))
        return steps, xs, moments, s_sq, x_sq

    def _cumulate(self, entries, xs, x_sq):
        """K3: the new paths p_b and |p_b|^2, per-block weights c / max(|x_b|, 1e-12) (no synchronisation)."""
        if self.blocks == "global":
            x_norm = torch.sqrt(torch.stack([q.to(torch.float64) for q in x_sq]).sum())
            weights = [(self.c / torch.clamp_min(x_norm, CLAMP_FLOOR)).to(x.dtype) for x in xs]
        else:
            weights = [self.c / torch.clamp_min(torch.sqrt(q), CLAMP_FLOOR) for q in x_sq]
        paths = [torch.mul(self.state[p]["path"], 1.0 - self.c, out=self._spare(p)["path"]).addcmul_(x, w)  # K3 p_b
                 for (_, p), x, w in zip(entries, xs, weights)]
        return paths, [torch.linalg.vecdot(q.reshape(-1), q.reshape(-1)) for q in paths]  # K3 |p_b|^2

    def _rates(self, entries, p_sq, s_sq, t, d, ref):
        """The one synchronisation of the step (P and every |s_b|^2, float64 on the host), its checks, and K5:
        (P, |s_b| per tensor, the factor, every group's new rate). Raises before anything has changed."""
        host = torch.stack([q.to(torch.float64) for q in p_sq + s_sq]).tolist()
        P, s_norms = sum(host[:len(entries)]), [math.sqrt(q) for q in host[len(entries):]]
        bad = [i for i, q in enumerate(host) if not math.isfinite(q)]
        if bad:
            i = bad[0] % len(entries)
            what = "the path" if bad[0] < len(entries) else "the step s"
            raise NonFiniteStateError(f"non-finite {what} of tensor {i} (shape {tuple(entries[i][1].shape)}) at "
                                      f"step {t}: a gradient or a moment is inf or NaN; nothing was changed")
        exponent = d * (P / ref - 1.0)                                                   # K5
        factor = safe_exp(exponent)
        new_lrs = [group["lr"] * factor for group in self.param_groups]
        for lr in new_lrs:
            if not (math.isfinite(lr) and lr > 0.0):
                raise LearningRateError(f"learning rate became {lr!r} at step {t} (factor exp({exponent:.4g})); "
                                        "lower the damping d; nothing was changed")
        return P, s_norms, factor, new_lrs

    @torch.no_grad()
    def step(self, closure=None):
        """One CLARA step over every tensor that has a gradient; returns ``closure()``'s loss if a closure is
        given (evaluated with gradients enabled, before the step)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        entries = [(group, p) for group in self.param_groups for p in group["params"] if p.grad is not None]
        if not entries:
            return loss
        for _, p in entries:
            if p.grad.is_sparse:
                raise ValueError("CLARA does not take sparse gradients")
        glob = self.state.setdefault(GLOBAL, {"t": 0, "d": None, "p_sq": 0.0, "reference": None,
                                              "multiplier": 1.0})
        t = glob["t"] + 1
        ref, spread = self._ref_and_spread(entries)                                      # K4
        d = glob["d"] if glob["d"] is not None else (2.0 * spread if self.d == "auto" else self.d)
        steps, xs, moments, s_sq, x_sq = self._propose_all(entries)
        paths, p_sq = self._cumulate(entries, xs, x_sq)
        P, s_norms, factor, new_lrs = self._rates(entries, p_sq, s_sq, t, d, ref)
        # every check passed: the state takes the new tensors and the parameters move with the old rate (K6)
        if self.move == "unit" and self.blocks == "global":
            s_norms = [math.sqrt(sum(q * q for q in s_norms))] * len(entries)
        for (group, p), s, path, new, norm in zip(entries, steps, paths, moments, s_norms):
            state, spare = self.state[p], self._spares[p]
            new["path"] = path
            for k, tensor in new.items():                   # the new values trade places with the old ones
                spare[k], state[k] = state[k], tensor
            state["step"] += 1
            scale = group["lr"] / max(norm, CLAMP_FLOOR) if self.move == "unit" else group["lr"]
            p.add_(s, alpha=-scale)                                                      # K6
        for group, lr in zip(self.param_groups, new_lrs):
            group["lr"] = lr                                                             # K5
        glob.update(t=t, d=d, p_sq=P, reference=ref, multiplier=factor)
        return loss
