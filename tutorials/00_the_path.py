# %% [markdown]
# # 00: The path, made visible
#
# **Goal.** Everything in this library runs on one signal: the *path*, a discounted sum of unit vectors,
#
# $$p_t = (1 - c)\, p_{t-1} + c\, u_t, \qquad u_t = \frac{x_t}{\lVert x_t \rVert},$$
#
# compared with what its squared length would be if the vectors were pure noise (`clara_ref/path.py`, (P0)-(P2)).
# When successive steps point the same way, the path is long; when they cancel, it is short. Under pure noise the
# $u_t$ are independent and $E\lVert p_t\rVert^2 = \mu (1 - (1-c)^{2t})$ with $\mu = c/(2-c)$ (derivation:
# `docs/derivations.md`, (R1)). A path rule raises the rate when $P/\mathrm{ref} > 1$ and lowers it when
# $P/\mathrm{ref} < 1$; CLARA's rule is $\eta \leftarrow \eta\, \exp(d\,(P/\mathrm{ref} - 1))$.
#
# We draw the path in 2-D for pure-noise steps and for a consistent gradient, then watch $P/\mathrm{ref}$ drive
# $\eta$ on a noisy sphere.

# %%
import numpy as np

import clara_ref as cr
from clara_ref.path import cumulate
from clara_ref.tutorial import figures_saved, setup

FAST, FIG_DIR, plt = setup(__file__)
C = 0.2
STEPS = 60 if FAST else 200
rng = np.random.default_rng(0)


def walk(vectors):
    """The path of the unit vectors of ``vectors`` (one per row), cumulated by the library's own code."""
    p, points, sq = np.zeros(2), [np.zeros(2)], []
    for x in vectors:
        p, (q,) = cumulate(p, x, C, ((0, 2),), 1e-12)
        points.append(p)
        sq.append(q)
    return np.array(points), np.array(sq)


noise_path, noise_sq = walk(rng.standard_normal((STEPS, 2)))
steady = np.array([1.0, 0.5]) + 0.3 * rng.standard_normal((STEPS, 2))       # a gradient with a consistent direction
steady_path, steady_sq = walk(steady)
t = np.arange(1, STEPS + 1)
reference = cr.reference.random_walk_mean(C) * (1 - (1 - C) ** (2 * t))       # (R1), transient included

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
ax1.plot(*noise_path.T, ".-", lw=0.8, ms=3, label="pure noise: steps cancel")
ax1.plot(*steady_path.T, ".-", lw=0.8, ms=3, label="consistent gradient: steps add up")
ax1.add_patch(plt.Circle((0, 0), np.sqrt(cr.reference.random_walk_mean(C)), fill=False, ls=":", color="k",
                         label=r"$\sqrt{\mu}$, the expected length under noise"))
ax1.set(aspect="equal", title=r"the path $p_t$ in 2-D ($c = 0.2$)", xlabel="$p_1$", ylabel="$p_2$")
ax1.legend(fontsize=7, loc="lower right")
ax2.plot(t, noise_sq, label=r"$\|p_t\|^2$, pure noise")
ax2.plot(t, steady_sq, label=r"$\|p_t\|^2$, consistent gradient")
ax2.plot(t, reference, "k--", label=r"reference $\mu(1-(1-c)^{2t})$")
ax2.set(xlabel="step $t$", ylabel=r"$\|p_t\|^2$", title="squared path length against the reference")
ax2.legend(fontsize=7)
fig.tight_layout()
fig.savefig(FIG_DIR / "path_2d.png", dpi=90)

# %% [markdown]
# ## The signal drives the rate
# On the noisy sphere (n = 10, start at distance 316), SGD-CLARA starts at $\eta_0 = 10^{-5}$, far too small. The
# gradients agree, $P/\mathrm{ref}$ sits near its maximum $1/\mu = 9$ and $\eta$ grows by up to $e^{8d}$ per step;
# near the optimum noise dominates, $P/\mathrm{ref}$ falls to about 1 and $\eta$ settles. `cr.optimize` records
# `p_sq` and `reference` at every step.

# %%
f = cr.objectives.get("sphere", n=10, noise=0.1)
opt = cr.clara(cr.sgd_direction(), 1e-5, d="auto")
r = cr.optimize(f, opt, steps=300 if FAST else 500, seed=0)
ratio = np.array(r.p_sq[1:]) / np.array(r.reference[1:])
print(f"d in use: {r.state.d:.4f} (d='auto': twice the exact null spread of P for n = 10)")
print(f"P/ref over the first 20 steps: {ratio[:20].mean():.2f}; over the last 100: {ratio[-100:].mean():.2f}")
print(f"eta: {r.eta[0]:.1e} -> {max(r.eta):.2e} (peak) -> {r.eta[-1]:.2e}; distance {r.distance[0]:.0f} -> "
      f"{r.distance[-1]:.3f}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
ax1.plot(ratio)
ax1.axhline(1.0, color="k", ls="--", lw=1)
ax1.set(yscale="log", xlabel="step", ylabel=r"$P / \mathrm{ref}$", title="the signal")
ax2.plot(r.eta)
ax2.set(yscale="log", xlabel="step", ylabel=r"$\eta$", title=r"the rate it drives: $\eta \exp(d(P/\mathrm{ref}-1))$")
fig.tight_layout()
fig.savefig(FIG_DIR / "signal_and_rate.png", dpi=90)
figures_saved(FIG_DIR)

# %% [markdown]
# ## What this shows (asserted)
# Under pure noise $\|p_t\|^2$ tracks the reference (its average over the run is within a few standard errors of
# $\mu$); under a consistent gradient it is far above it. On the sphere, $P/\mathrm{ref}$ is high while the rate is
# too small and about 1 once it is right; the rate rises by orders of magnitude and then settles.

# %%
settled = noise_sq[20:]
se = cr.reference.random_walk_std(C, 2) / np.sqrt(len(settled) / 10)   # about 10 steps between independent values
assert abs(settled.mean() - cr.reference.random_walk_mean(C)) < 4 * se
assert steady_sq[20:].mean() > 4 * cr.reference.random_walk_mean(C)
assert ratio[:20].mean() > 4 and 0.3 < ratio[-100:].mean() < 2
assert max(r.eta) > 100 * r.eta[0] and r.distance[-1] < 0.01 * r.distance[0]
