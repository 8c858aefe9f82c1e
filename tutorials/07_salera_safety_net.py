# %% [markdown]
# # 07: SALeRA's Page-Hinkley safety net
#
# **Goal.** SALeRA (arXiv 1709.01427) watches the minibatch loss with a one-sided Page-Hinkley test. When the
# relaxed loss jumps (a "catastrophic episode"), it goes back to the iterate before the last update and halves every
# learning rate:
#
#     lbar <- running mean / EMA of f_t;  mu0 <- mean of lbar;  U <- U + (lbar - mu0);  m <- min(m, U)
#     alarm if U - m > lambda = 0.1 f_1:  theta <- theta_prev,  eta_b <- eta_b / 2,  reset the test
#
# The problem: a noisy quadratic f(x) = |x - 1|^2 / 2 in n = 20 where, with probability 2% per step, the minibatch
# is corrupted and its gradient is 300 times too large. ALeRA (the same rule without the test) takes the corrupted
# step in full and spends many steps recovering; SALeRA undoes it.

# %%
import numpy as np

import clara_ref as cr
from clara_ref.tutorial import setup

FAST, FIG_DIR, plt = setup(__file__)
N, STEPS, ETA0, P_CORRUPT, SCALE = 20, (400 if FAST else 2000), 0.1, 0.02, 300.0


def run(opt, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros(N)
    state = opt.init(x)
    losses, alarms = [], 0
    for k in range(STEPS):
        loss = 0.5 * float(np.sum((x - 1.0) ** 2))
        g = (x - 1.0) + 0.1 * rng.standard_normal(N)
        if rng.random() < P_CORRUPT:
            g = g * SCALE                                           # a corrupted minibatch
            loss = loss + 0.5 * float(np.sum(g**2)) / SCALE         # ... whose loss is high too
        x, state = opt.update(x, g, state, loss=loss)
        alarms += bool(getattr(state, "alarm", False))
        losses.append(0.5 * float(np.sum((x - 1.0) ** 2)))
    return np.array(losses), alarms, state


direction = cr.sgd_direction()
alera_losses, _, _ = run(cr.alera(direction, ETA0, C=1e-3))
salera_losses, n_alarms, salera_state = run(cr.salera(direction, ETA0, C=1e-3))
print(f"ALeRA : mean loss {alera_losses.mean():.3g}, median {np.median(alera_losses):.3g}")
print(f"SALeRA: mean loss {salera_losses.mean():.3g}, median {np.median(salera_losses):.3g}, {n_alarms} alarms, "
      f"final rate {salera_state.eta:.3g}")

fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(alera_losses, label="ALeRA")
ax.plot(salera_losses, label="SALeRA (Page-Hinkley + backtrack)")
ax.set(yscale="log", xlabel="step", ylabel="f(x)", title="quadratic with 2% corrupted minibatches")
ax.legend()
fig.savefig(FIG_DIR / "salera.png", dpi=90)
print(f"figures in {FIG_DIR}")

# %% [markdown]
# ## What this shows (asserted)
# SALeRA raises alarms, undoes the corrupted steps, and its average loss over the run is far lower than ALeRA's.

# %%
assert n_alarms >= 1
assert salera_losses.mean() < 0.5 * alera_losses.mean()
assert salera_state.eta < ETA0 * 1.5        # halvings keep the rate from running away
