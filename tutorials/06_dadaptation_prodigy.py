# %% [markdown]
# # 06: D-Adaptation and Prodigy next to CLARA, and their sensitivity to d0
#
# **Goal.** The paper's "recent alternative method" is D-Adaptation (Defazio & Mishchenko, arXiv 2301.07733),
# run by the CLARA authors as `DAdaptAdam(d0 = initial rate)`; Prodigy (arXiv 2306.06101) is its successor.
# Both estimate the distance to the solution d and step with d * lr; d never decreases:
#
#     d_{k+1} = max(d_k, min(d_hat_{k+1}, d_k * growth_rate))
#
# so d0 is a floor on the step scale. We compare final distances on the noisy sphere (n = 10) as a function of
# d0 (baselines) or eta0 (Adam, Adam-CLARA), and look at the trajectories of eta = d * lr.

# %%
import numpy as np

import clara_ref as cr
from clara_ref.tutorial import figures_saved, setup

FAST, FIG_DIR, plt = setup(__file__)
RATES = [1e-6, 1e-3, 1.0] if FAST else [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]
STEPS = 500
f = cr.objectives.get("sphere", n=10, noise=0.1)
METHODS = {
    "Adam": lambda e: cr.adam(e),
    "Adam-CLARA": lambda e: cr.clara(cr.adam_direction(), e, d="auto"),
    "D-Adaptation (Adam), d0": lambda e: cr.dadapt_adam(d0=e),
    "Prodigy, d0": lambda e: cr.prodigy(d0=e),
}

# %%
runs = {(m, e): cr.optimize(f, make(e), steps=STEPS, seed=0) for m, make in METHODS.items() for e in RATES}
print("method                   | " + " | ".join(f"{e:8.0e}" for e in RATES))
for m in METHODS:
    print(f"{m:24s} | " + " | ".join(f"{runs[(m, e)].distance[-1]:8.3g}" for e in RATES))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
for m in METHODS:
    ax1.plot(RATES, [runs[(m, e)].distance[-1] for e in RATES], "o-", label=m)
    ax2.plot(runs[(m, RATES[0])].eta, label=m)
ax1.set(xscale="log", yscale="log", xlabel=r"$\eta_0$ or $d_0$", ylabel="final distance",
        title="sensitivity, noisy sphere")
ax2.set(yscale="log", xlabel="step", ylabel=r"$\eta$ ($d\cdot$lr for the baselines)",
        title=f"trajectories from {RATES[0]:g}")
ax1.legend(fontsize=8)
fig.tight_layout()
fig.savefig(FIG_DIR / "baselines.png", dpi=90)
figures_saved(FIG_DIR)

# %% [markdown]
# ## What this shows (asserted)
# * d is non-decreasing and never below d0 in every D-Adaptation and Prodigy run;
# * from d0 = 1 D-Adaptation keeps a step scale of at least 1, so it cannot settle as close to the optimum as
#   Adam-CLARA started from eta0 = 1, which lowers its rate;
# * from a tiny start (1e-6) D-Adaptation, Prodigy and Adam-CLARA all grow the step scale by orders of magnitude.

# %%
for m in ("D-Adaptation (Adam), d0", "Prodigy, d0"):
    for e in RATES:
        etas = np.array(runs[(m, e)].eta)
        assert np.all(np.diff(etas) >= 0) and etas.min() >= e
assert runs[("D-Adaptation (Adam), d0", 1.0)].eta[-1] >= 1.0
assert runs[("Adam-CLARA", 1.0)].distance[-1] < runs[("D-Adaptation (Adam), d0", 1.0)].distance[-1]
for m in ("Adam-CLARA", "D-Adaptation (Adam), d0", "Prodigy, d0"):
    assert max(runs[(m, 1e-6)].eta) > 1e2 * 1e-6
