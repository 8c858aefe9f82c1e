# %% [markdown]
# # 08: Property-testing your own framework port against clara_ref
#
# **Goal.** Show how to prove a port equal to the reference, step for step, and how the harness catches a planted
# bug. The port under test is a short PyTorch SGD-CLARA written here (the one place where a second implementation
# is allowed: it plays the user's port). `clara_ref.testing.lockstep` feeds both the same gradients and fails at
# the first step where theta or eta differ by more than rtol; hypothesis generates the gradient sequences.
#
# The rule being ported (arXiv 2508.05408, one block, raw moves):
#
#     theta <- theta - eta g;   p <- (1-c) p + c g/|g|;   eta <- eta exp(d (|p|^2 / mu - 1)),  mu = c/(2-c)

# %%
import math

import numpy as np
import torch
from hypothesis import given, settings

import clara_ref as cr
from clara_ref.testing import gradient_sequences, lockstep
from clara_ref.tutorial import setup

FAST, FIG_DIR, plt = setup(__file__)
EXAMPLES = 30 if FAST else 200


class TorchSGDClara(torch.optim.Optimizer):
    """The user's port: SGD-CLARA on one parameter tensor."""

    def __init__(self, params, lr, c=0.2, d=1e-3, mu=None):
        super().__init__(params, dict(lr=lr, c=c, d=d, mu=c / (2 - c) if mu is None else mu))

    @torch.no_grad()
    def step(self):
        group = self.param_groups[0]
        (p,) = group["params"]
        state = self.state[p]
        if "path" not in state:
            state["path"] = torch.zeros_like(p)
        g = p.grad
        p.sub_(group["lr"] * g)
        state["path"].mul_(1 - group["c"]).add_(g / max(float(g.norm()), 1e-12), alpha=group["c"])
        group["lr"] *= math.exp(group["d"] * (float(state["path"].pow(2).sum()) / group["mu"] - 1))


def port(theta0, **kw):
    param = torch.nn.Parameter(torch.tensor(theta0))
    opt = TorchSGDClara([param], **kw)

    def step(g):
        param.grad = torch.tensor(g)
        opt.step()
        return param.detach().numpy().copy(), opt.param_groups[0]["lr"]

    return step


# %% [markdown]
# ## The property: equal trajectories on every generated gradient sequence

# %%
checked = []


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True)
@given(seq=gradient_sequences(n=(1, 10), steps=(1, 30)))
def test_port_equals_reference(seq):
    theta0, grads = seq
    report = lockstep(cr.clara(cr.sgd_direction(), 0.01, d=0.1), port(theta0, lr=0.01, d=0.1), theta0, grads,
                      rtol=1e-10)
    checked.append(report.max_theta_deviation)


test_port_equals_reference()
print(f"{len(checked)} generated sequences: worst relative deviation {max(checked):.2e}")

# %% [markdown]
# ## A planted bug: the port compares with 1 (the old CSA-style constant) instead of mu = c/(2-c)

# %%
rng = np.random.default_rng(0)
theta0 = rng.standard_normal(5)
grads = [rng.standard_normal(5) for _ in range(20)]
try:
    lockstep(cr.clara(cr.sgd_direction(), 0.01, d=0.1), port(theta0, lr=0.01, d=0.1, mu=1.0), theta0, grads)
    caught = None
except AssertionError as exc:
    caught = str(exc)
print("the harness says:", caught)
bug_dev = float(caught.split("relative deviation ")[1].split(",")[0]) if caught else float("nan")
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.hist(np.log10(np.maximum(checked, 1e-18)), bins=20, label="correct port, one bar per generated example")
ax.axvline(-10, color="k", ls=":", label="rtol 1e-10")
ax.axvline(np.log10(bug_dev), color="r", label=r"planted bug ($\mu = 1$) at step 1")
ax.set(xlabel="log10 of the worst relative deviation", ylabel="examples", title="lockstep against clara_ref")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(FIG_DIR / "deviations.png", dpi=90)
print(f"figures in {FIG_DIR}")

# %% [markdown]
# ## What this shows (asserted)
# * the correct port matches clara_ref to 1e-10 on every generated example;
# * the planted bug is caught at step 1 (its rate already differs after the first adaptation).

# %%
assert len(checked) >= EXAMPLES and max(checked) <= 1e-10
assert caught is not None and caught.startswith("step 1")
