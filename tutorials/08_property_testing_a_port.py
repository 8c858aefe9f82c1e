# %% [markdown]
# # 08: Property-testing your own framework port against clara_ref
#
# **Goal.** Show how to prove a port equal to the reference, step for step, and how the harness catches planted
# bugs, in float64 and in float32, for PyTorch and for JAX/optax. The ports under test are a short PyTorch
# SGD-CLARA and a short optax SGD-CLARA written here (the one place where a second implementation is allowed: they
# play the user's ports). `clara_ref.testing.lockstep` feeds both sides the same gradients and fails at the first
# step where they differ by more than the tolerance of the port's dtype; hypothesis generates the gradient
# sequences.
#
# The rule being ported (arXiv 2508.05408, one block, raw moves):
#
#     theta <- theta - eta g;   p <- (1-c) p + c g/|g|;   eta <- eta exp(d (|p|^2 / mu - 1)),  mu = c/(2-c)

# %%
import math
from typing import NamedTuple

import numpy as np
import torch
from hypothesis import given, settings

import clara_ref as cr
from clara_ref.testing import TOLERANCES, gradient_sequences, lockstep, torch_port
from clara_ref.tutorial import figures_saved, setup

FAST, FIG_DIR, plt = setup(__file__)
EXAMPLES = 12 if FAST else 200


class TorchSGDClara(torch.optim.Optimizer):
    """The user's port: SGD-CLARA on one parameter tensor."""

    def __init__(self, params, lr, c=0.2, d=1e-3, mu=None, adapt_first=False):
        super().__init__(params, dict(lr=lr, c=c, d=d, mu=c / (2 - c) if mu is None else mu))
        self.adapt_first = adapt_first              # a planted bug: adapt the rate before the move

    @torch.no_grad()
    def step(self):
        group = self.param_groups[0]
        (p,) = group["params"]
        state = self.state[p]
        if "path" not in state:
            state["path"] = torch.zeros_like(p)
        g = p.grad
        state["path"].mul_(1 - group["c"]).add_(g / max(float(g.norm()), 1e-12), alpha=group["c"])
        factor = math.exp(group["d"] * (float(state["path"].pow(2).sum()) / group["mu"] - 1))
        if self.adapt_first:
            group["lr"] *= factor
        p.sub_(group["lr"] * g)
        if not self.adapt_first:
            group["lr"] *= factor


def port(theta0, **kw):
    """The port as a lockstep callback: torch_port makes the parameter (in theta0's precision), hands it each
    gradient, checks that .grad is left alone, and reads the rate with eta_of."""
    return torch_port(lambda ps: TorchSGDClara(ps, **kw), theta0, eta_of=lambda o: o.param_groups[0]["lr"])


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
bug_dev = float(caught.split("deviates from clara_ref by ")[1].split(" ")[0]) if caught else float("nan")
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.hist(np.log10(np.maximum(checked, 1e-18)), bins=20, label="correct port, one bar per generated example")
ax.axvline(-10, color="k", ls=":", label="rtol 1e-10")
ax.axvline(np.log10(bug_dev), color="r", label=r"planted bug ($\mu = 1$) at step 1")
ax.set(xlabel="log10 of the worst relative deviation", ylabel="examples", title="lockstep against clara_ref")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(FIG_DIR / "deviations.png", dpi=90)
figures_saved(FIG_DIR)

# %% [markdown]
# ## float32: compare the updates, not only the iterates
#
# A float32 port cannot match to 1e-10; `lockstep` takes the tolerances of the dtype the port returns
# (`TOLERANCES`, measured on correct ports). Some bugs hide inside float32's tolerance on theta: adapting the rate
# *before* the move changes each update by the factor exp(d (P/mu - 1)), about d = 1e-3 relative, while theta
# moves by only eta times that. The default, `compare="both"`, also compares theta_t - theta_(t-1) of both sides
# and sees it; `compare="theta"` alone does not.

# %%
theta32, grads32 = theta0.astype(np.float32), [g.astype(np.float32) for g in grads]
ok32 = lockstep(cr.clara(cr.sgd_direction(), 1e-3), port(theta32, lr=1e-3), theta32, grads32)
hidden = lockstep(cr.clara(cr.sgd_direction(), 1e-3), port(theta32, lr=1e-3, adapt_first=True), theta32, grads32,
                  compare="theta")
try:
    lockstep(cr.clara(cr.sgd_direction(), 1e-3), port(theta32, lr=1e-3, adapt_first=True), theta32, grads32)
    caught32 = None
except AssertionError as exc:
    caught32 = str(exc)
print(f"float32 tolerances: {TOLERANCES['float32']}")
print(f"correct float32 port: theta {ok32.max_theta_deviation:.1e}, update {ok32.max_update_deviation:.1e}")
print(f"rate adapted before the move, theta only: passes, worst theta deviation {hidden.max_theta_deviation:.1e}")
print("with the default compare='both':", caught32)

# %% [markdown]
# ## JAX: the same harness around an optax transformation
#
# `optax_port` flattens the parameter pytree with `ravel_pytree`, switches JAX's 64-bit mode on inside the port,
# and jit-compiles the step once (cached across hypothesis examples). The port here is SGD-CLARA written as an
# optax `GradientTransformation` whose state carries the path and the rate.

# %%
try:
    import jax
    import jax.numpy as jnp
    import optax
except ImportError:
    jax = None
    print("JAX or optax is not installed (pip install jax optax): this section is skipped")

if jax is not None:
    class ClaraState(NamedTuple):
        path: jnp.ndarray
        lr: jnp.ndarray

    def sgd_clara(lr, c=0.2, d=1e-3):
        mu = c / (2 - c)

        def init(params):
            return ClaraState(jnp.zeros_like(params), jnp.asarray(lr, dtype=params.dtype))

        def update(g, state, params=None):
            path = (1 - c) * state.path + c * g / jnp.maximum(jnp.linalg.norm(g), 1e-12)
            new_lr = state.lr * jnp.exp(d * (jnp.sum(path * path) / mu - 1))
            return -state.lr * g, ClaraState(path, new_lr)

        return optax.GradientTransformation(init, update)

    jax_checked = []

    @settings(max_examples=EXAMPLES // 2, deadline=None, derandomize=True)
    @given(seq=gradient_sequences(n=(1, 10), steps=(1, 30)))
    def test_optax_port_equals_reference(seq):
        theta0_, grads_ = seq
        report = lockstep(cr.clara(cr.sgd_direction(), 0.01, d=0.1), cr.testing.optax_port(
            sgd_clara(0.01, d=0.1), theta0_, eta_of=lambda s: s.lr), theta0_, grads_)
        jax_checked.append(report.max_theta_deviation)

    test_optax_port_equals_reference()
    print(f"optax port: {len(jax_checked)} generated sequences, worst relative deviation {max(jax_checked):.2e}")

# %% [markdown]
# ## What this shows (asserted)
# * the correct port matches clara_ref to 1e-10 on every generated example;
# * the planted bug is caught at step 1 (its rate already differs after the first adaptation);
# * in float32 a correct port passes the float32 tolerances, and the rate adapted before the move passes the theta
#   test alone but fails the default comparison, which also compares the updates;
# * with JAX installed, the optax port matches clara_ref to 1e-10 on every generated example.

# %%
assert len(checked) >= EXAMPLES and max(checked) <= 1e-10
assert caught is not None and caught.startswith("step 1")
assert hidden.max_theta_deviation <= TOLERANCES["float32"]["theta"] and caught32 is not None
assert "the update theta_t - theta_(t-1) of the port deviates" in caught32
if jax is not None:
    assert max(jax_checked) <= 1e-10
