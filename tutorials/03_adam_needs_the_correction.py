# %% [markdown]
# # 03: Why Adam needs CLARA's correction
#
# **Goal.** The conceptual point of arXiv 2508.05408: Adam does not move along the gradient. Its momentum makes
# consecutive steps correlated even under pure noise, so the path of Adam's own unit steps is long:
#
#     E|p|^2 = mu (1 + (1-c) beta1) / (1 - (1-c) beta1) = 0.6825   (c = 0.2, beta1 = 0.9; n -> inf)
#
# instead of the random walk's mu = c/(2-c) = 0.111. Comparing Adam's step path with 0.111 reads pure noise as
# strong agreement and inflates the rate without bound. At finite n the reference is the kappa series
# mu [1 + 2 sum_h (1-c)^h kappa_n(beta1^h)] (docs/derivations.md, (R4)). We also put the 2017 rule (a path of
# normalised raw gradients, per-layer rates) next to CLARA on an ill-conditioned problem.

# %%
import math

import numpy as np

import clara_ref as cr
from clara_ref import reference as R
from clara_ref.tutorial import setup

FAST, FIG_DIR, plt = setup(__file__)
N_BIG = 650
TRIALS_BIG = 100 if FAST else 1000
STEPS_NOISE = 1000 if FAST else 3000
D = 0.01

# %% [markdown]
# ## 1. Adam's step path under pure noise

# %%
adam = cr.adam_direction()
mc = R.monte_carlo(adam, N_BIG, c=0.2, steps=200, trials=TRIALS_BIG, seed=0)
closed = R.path_sq_norm_mean(adam, c=0.2)
print(f"Adam step path, n = {N_BIG}: simulated {mc.mean:.4f} (se {mc.se:.4f}); closed form (n = inf) {closed:.4f}; "
      f"kappa series (n = {N_BIG}) {R.path_sq_norm_mean(adam, n=N_BIG):.4f}; random walk {R.random_walk_mean():.4f}")

# %% [markdown]
# ## 2. What the uncorrected reference does to the rate: feed pure noise to Adam-CLARA

# %%
rng = np.random.default_rng(1)
noise = [rng.standard_normal(50) for _ in range(STEPS_NOISE)]
trajectories = {}
for label, ref in (("corrected (reference='direction')", "direction"), ("uncorrected (reference='random_walk')",
                                                                         "random_walk")):
    opt = cr.clara(adam, 1e-3, d=D, reference=ref)
    theta, state = np.zeros(50), opt.init(np.zeros(50))
    etas = []
    for g in noise:
        theta, state = opt.update(theta, g, state)
        etas.append(state.eta)
    trajectories[label] = etas
fig, ax = plt.subplots(figsize=(6, 4))
for label, etas in trajectories.items():
    ax.plot(etas, label=label)
ax.set(yscale="log", xlabel="step", ylabel="eta", title="Adam-CLARA on pure-noise gradients, d = 0.01")
ax.legend()
fig.savefig(FIG_DIR / "pure_noise_rate.png", dpi=90)
for label, etas in trajectories.items():
    print(f"{label}: eta after {STEPS_NOISE} noise steps = {etas[-1]:.3g}")

# %% [markdown]
# ## 3. The 2017 gradient-path rule against CLARA's step path on the ellipsoid (condition 1e6)

# %%
f = cr.objectives.get("ellipsoid", n=10, noise=0.1)
steps = 500
runs = {
    "Adam, fixed 1e-3": cr.adam(1e-3),
    "Adam + 2017 rule (alera)": cr.alera(adam, 1e-3, C=cr.C_for_damping(0.05, 10)),
    "Adam-CLARA": cr.clara(adam, 1e-3, d=0.05),
}
final = {}
fig, ax = plt.subplots(figsize=(6, 4))
for label, opt in runs.items():
    r = cr.optimize(f, opt, steps=steps, seed=0)
    final[label] = r.distance[-1]
    ax.plot(r.distance, label=label)
ax.set(yscale="log", xlabel="step", ylabel="distance to optimum", title="noisy ellipsoid, same damping 0.05")
ax.legend()
fig.savefig(FIG_DIR / "ellipsoid_2017_vs_clara.png", dpi=90)
for label, v in final.items():
    print(f"{label}: final distance {v:.3g}")

# %% [markdown]
# ## 4. The kappa series at small n against simulation

# %%
kappa_rows = []
for n, trials in ((1, 20000), (2, 10000), (5, 4000)):
    trials = trials // (4 if FAST else 1)
    sim = R.monte_carlo(adam, n, c=0.2, steps=300, trials=trials, seed=n)
    series = R.path_sq_norm_mean(adam, c=0.2, n=n)
    kappa_rows.append((n, sim.mean, sim.se, series))
    print(f"n = {n}: simulated {sim.mean:.4f} (se {sim.se:.4f}), kappa series {series:.4f}, "
          f"asymptote 0.6825 - 0.13/n = {0.6825 - 0.13 / n:.4f}")
print(f"figures in {FIG_DIR}")

# %% [markdown]
# ## What this shows (asserted)
# * Adam's step path under noise is about 0.68, six times the random walk's 0.111;
# * with the random-walk reference the rate grows by orders of magnitude on pure noise (each step multiplies it by
#   about exp(d (0.68/0.111 - 1)) = exp(5.1 d)), while the corrected reference leaves it within a small factor;
# * the kappa series matches the simulation at small n (exact at n = 1).

# %%
assert abs(mc.mean - closed) <= 4 * mc.se + 0.13 / N_BIG
assert mc.mean > 5 * R.random_walk_mean()
uncorrected = trajectories["uncorrected (reference='random_walk')"][-1]
corrected = trajectories["corrected (reference='direction')"][-1]
assert math.log(uncorrected / 1e-3) > 0.8 * 5.1 * D * STEPS_NOISE
assert abs(math.log(corrected / 1e-3)) < 0.1 * math.log(uncorrected / 1e-3)
for n, m, se, series in kappa_rows:
    assert abs(m - series) <= 4 * se + (0 if n == 1 else 0.001)
assert final["Adam-CLARA"] < final["Adam, fixed 1e-3"]
