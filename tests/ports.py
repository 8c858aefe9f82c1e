"""Torch ports used by the harness tests: the CLARA rule over a list of tensors, as a user would write it, with
switches that plant the bugs the harness must catch. It plays the user's port (the one place where a second
implementation is allowed), written from the rule in ``clara_ref/clara.py`` and the authors' classes
(asmaatamna/cumulative-learning-rate-adaptation @ 505f977): per-tensor unit vectors with a 1e-12 clamp, the move with
the current lr, one lr adapted after all tensors by exp(d (P / ref - 1)), tensors without a gradient skipped (but
counted in K when ref is K mu).

Planted bugs (``bug=``):

* ``"bias_ahead"``: Adam's bias corrections use t + 1 instead of t;
* ``"path_of_gradient"``: the path cumulates the normalised gradient instead of Adam's step;
* ``"eps_inside"``: eps inside the square root, sqrt(v_hat + eps);
* ``"rate_before_move"``: the lr is adapted before the move (as the 2017 rule does);
* ``"grad_in_place"``: the step normalises ``p.grad`` itself (the authors' us-mode SGD).
"""

import math

import torch

BUGS = ("bias_ahead", "path_of_gradient", "eps_inside", "rate_before_move", "grad_in_place")


class TorchClara(torch.optim.Optimizer):
    def __init__(self, params, lr, reference, kind="adam", c=0.2, d=1e-3, unit=False, betas=(0.9, 0.999), eps=1e-8,
                 bug=None):
        assert bug is None or bug in BUGS
        super().__init__(params, dict(lr=lr))
        self.reference, self.kind, self.c, self.d, self.unit = reference, kind, c, d, unit
        self.betas, self.eps, self.bug = betas, eps, bug

    def _adapt(self, P):
        group = self.param_groups[0]
        group["lr"] *= math.exp(self.d * (P / self.reference - 1.0))

    @torch.no_grad()
    def step(self):
        params = self.param_groups[0]["params"]
        directions = []
        for p in params:
            if p.grad is None:
                directions.append(None)
                continue
            g, state = p.grad, self.state[p]
            if self.kind == "adam":
                if not state:
                    state.update(t=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                b1, b2 = self.betas
                state["t"] += 1
                t = state["t"] + (1 if self.bug == "bias_ahead" else 0)
                state["m"].mul_(b1).add_(g, alpha=1 - b1)
                state["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
                m_hat, v_hat = state["m"] / (1 - b1**t), state["v"] / (1 - b2**t)
                s = m_hat / ((v_hat + self.eps).sqrt() if self.bug == "eps_inside" else v_hat.sqrt() + self.eps)
            elif self.bug == "grad_in_place":
                s = g.div_(max(float(g.norm()), 1e-12))         # normalises the caller's .grad
            else:
                s = g.clone()
            directions.append(s)
        # path: of the step (CLARA) or, with the bug, of the gradient; P = sum over tensors with a gradient
        P = 0.0
        for p, s in zip(params, directions):
            if s is None:
                continue
            x = p.grad if self.bug == "path_of_gradient" else s
            state = self.state[p]
            if "path" not in state:
                state["path"] = torch.zeros_like(p)
            state["path"].mul_(1 - self.c).add_(x / max(float(x.norm()), 1e-12), alpha=self.c)
            P += float(state["path"].pow(2).sum())
        if self.bug == "rate_before_move":
            self._adapt(P)
        lr = self.param_groups[0]["lr"]
        for p, s in zip(params, directions):
            if s is not None:
                p.sub_(lr * (s / max(float(s.norm()), 1e-12) if self.unit else s))
        if self.bug != "rate_before_move":
            self._adapt(P)


def authors_port(params, lr, kind, d=None, unit=False, c=0.2, bug=None):
    """``TorchClara`` configured the way the authors' classes configure themselves from a parameter list: K counts
    every tensor, N only those that require a gradient, mu and sigma from c/(2-c) and their formula (SGD) or their
    table (Adam), and d = 2 sigma when not given."""
    from clara_ref.authors import ADAM_MU_TABLE, ADAM_SIGMA_TABLE

    K = len(params)
    N = sum(p.numel() for p in params if p.requires_grad)
    if kind == "sgd":
        mu = c / (2 - c)
        sigma = math.sqrt(2) * mu * (1 - c) / math.sqrt((1 + (1 - c) ** 2) * N)
    else:
        mu, sigma = ADAM_MU_TABLE[N], ADAM_SIGMA_TABLE[N]
    return TorchClara(params, lr, K * mu, kind=kind, c=c, d=2 * sigma if d is None else d, unit=unit, bug=bug)
