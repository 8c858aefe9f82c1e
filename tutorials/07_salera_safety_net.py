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
# step in full and spends many steps recovering. SALeRA has three outcomes per corrupted step: the alarm fires on
# the step itself (its loss is already high: the gradient is discarded), on the next step (the backtrack restores
# the iterate from before the corrupted update: undone), or later or never (the backtrack only undoes an ordinary
# step: the damage stays). We count them.

# %%
import numpy as np

import clara_ref as cr
from clara_ref.tutorial import figures_saved, setup

FAST, FIG_DIR, plt = setup(__file__)
N, STEPS, ETA0, P_CORRUPT, SCALE = 20, (400 if FAST else 2000), 0.1, 0.02, 300.0


def run(opt, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros(N)
    state = opt.init(x)
    losses, alarms, corrupted = [], [], []
    for k in range(1, STEPS + 1):
        loss = 0.5 * float(np.sum((x - 1.0) ** 2))
        g = (x - 1.0) + 0.1 * rng.standard_normal(N)
        if rng.random() < P_CORRUPT:
            g = g * SCALE                                           # a corrupted minibatch
            loss = loss + 0.5 * float(np.sum(g**2)) / SCALE         # ... whose loss is high too
            corrupted.append(k)
        x, state = opt.update(x, g, state, loss=loss)
        if getattr(state, "alarm", False):
            alarms.append(k)
        losses.append(0.5 * float(np.sum((x - 1.0) ** 2)))
    return np.array(losses), alarms, corrupted, state


direction = cr.sgd_direction()
alera_losses, _, corrupted, _ = run(cr.alera(direction, ETA0, C=1e-3))
salera_losses, alarms, _, salera_state = run(cr.salera(direction, ETA0, C=1e-3))
clara_losses, _, _, _ = run(cr.clara(direction, ETA0, d=1e-3))
rejected = [k for k in corrupted if k in alarms]            # alarm on the corrupted step: its gradient is discarded
undone = [k for k in corrupted if k not in alarms and k + 1 in alarms]    # alarm on the next step: backtracked
kept = [k for k in corrupted if k not in rejected + undone]              # alarm later or never: the damage stays
print(f"corrupted steps: {corrupted}")
print(f"SALeRA alarms:   {alarms}")
print(f"rejected on the spot: {rejected}; undone on the next step: {undone}; kept: {kept}")
for name, losses in (("ALeRA", alera_losses), ("SALeRA", salera_losses), ("SGD-CLARA", clara_losses)):
    print(f"{name:9s}: mean loss {losses.mean():.3g}, median {np.median(losses):.3g}, final {losses[-1]:.3g}")
print(f"SALeRA's final rate {salera_state.eta:.3g} after {len(alarms)} halvings")

fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(alera_losses, label="ALeRA")
ax.plot(clara_losses, label="SGD-CLARA (no safety net)", alpha=0.7)
ax.plot(salera_losses, label="SALeRA (Page-Hinkley + backtrack)")
for k in corrupted:
    ax.axvline(k - 1, color="grey", lw=0.5, ls=":")
ax.set(yscale="log", xlabel="step", ylabel="$f(x)$", title="quadratic with 2% corrupted minibatches (dotted)")
ax.legend(fontsize=7)
fig.savefig(FIG_DIR / "salera.png", dpi=90)
figures_saved(FIG_DIR)

# %% [markdown]
# ## What this shows (asserted)
# * Each corrupted step is rejected on the spot, undone on the next step, or kept; the run prints which. In the
#   fast run (400 steps, seed 0) 3 of 6 are rejected, 2 undone and 1 kept (step 395: its alarm comes at 398, and
#   the backtrack restores only step 397's iterate, so the final loss is 0.18 instead of about 1e-3).
# * Every alarm also halves every rate. That keeps the average loss far below ALeRA's, but it is not free: over the
#   full 2000-step run there are 40 alarms, the rate falls from 0.1 to about 5e-9, and SALeRA stops improving
#   (its final loss, 0.024, is above ALeRA's 0.021).
# * Why this matters for CLARA: CLARA has no such test. Every corrupted step is taken in full and the rate keeps
#   adapting from the damaged point, so its average loss here is of ALeRA's order or worse, not SALeRA's.

# %%
assert len(rejected) + len(undone) + len(kept) == len(corrupted) >= 1
assert rejected and undone                   # both ways of stopping a corrupted step happen in this run
if FAST:                                     # the numbers the text quotes
    assert (len(rejected), len(undone), kept) == (3, 2, [395]) and abs(salera_losses[-1] - 0.178) < 0.001
else:
    assert len(alarms) == 40 and salera_state.eta < 1e-8 and salera_losses[-1] > alera_losses[-1]
assert salera_losses.mean() < 0.5 * alera_losses.mean()
assert salera_losses.mean() < 0.5 * clara_losses.mean()
assert salera_state.eta < ETA0 * 1.5        # halvings keep the rate from running away
