# %% [markdown]
# # Exercises
#
# Six short exercises on the ideas of tutorials 00-08. Try each before reading its solution. Run
# `python tutorials/exercises.py` to print the questions only, and `python tutorials/exercises.py --solutions`
# (or `CLARA_REF_SOLUTIONS=1`) to run the worked solutions, each ending in assertions (the test suite runs them).

# %%
import math
import os
import sys

import numpy as np

import clara_ref as cr

SOLUTIONS = "--solutions" in sys.argv or os.environ.get("CLARA_REF_SOLUTIONS", "") not in ("", "0")
EXERCISES = []


def exercise(question):
    """Register a solution under its question; it runs only with --solutions."""
    def register(solution):
        EXERCISES.append((question, solution))
        return solution
    return register


# %% [markdown]
# ## 1. The random walk's reference
# Unroll p_t = (1-c) p_{t-1} + c u_t with independent random unit vectors and derive E|p_t|^2 and its limit
# c/(2-c). Check both numerically with the library's own cumulation, for c = 0.3 in dimension 4.

# %%
@exercise("Derive E|p_t|^2 = c/(2-c) (1 - (1-c)^{2t}) and check it by simulation (c = 0.3, n = 4).")
def solution_1():
    # p_t = c sum_i (1-c)^i u_{t-i}; cross terms vanish in expectation (independent, centred), |u|^2 = 1, so
    # E|p_t|^2 = c^2 sum_{i<t} (1-c)^{2i} = c^2 (1 - (1-c)^{2t}) / (1 - (1-c)^2) = c/(2-c) (1 - (1-c)^{2t}).
    c, n = 0.3, 4
    sim = cr.reference.monte_carlo(cr.sgd_direction(), n, c=c, steps=40, trials=4000, seed=1)
    for t in (1, 3, 40):
        exact = c / (2 - c) * (1 - (1 - c) ** (2 * t))
        # the simulated mean at step t: 4000 trials, standard error below 0.004 (sd of |p|^2 <= 0.2)
        print(f"  t = {t:2d}: exact {exact:.4f}, simulated {sim.mean_t[t - 1]:.4f}")
        assert abs(sim.mean_t[t - 1] - exact) < 0.02
    assert abs(cr.reference.random_walk_mean(c) - c / (2 - c)) < 1e-15


# %% [markdown]
# ## 2. Adam with the gradient path on pure noise
# Feed pure-noise gradients to `clara(adam_direction(), 1e-3, d=0.01, path_of=..., reference="random_walk")`.
# Predict eta after 2000 steps for path_of="gradient" and for path_of="step", then check.

# %%
@exercise("Predict Adam-CLARA's rate on pure noise with path_of='gradient' and with path_of='step', both against "
          "the random walk.")
def solution_2():
    # gradient path: normalised noise gradients are a random walk, P/ref averages 1, log eta does a zero-mean walk.
    # step path: Adam's steps have E|p|^2 = 0.6825 (R3), so each step adds d (0.6825/0.1111 - 1) = 5.14 d to
    # log eta: after T steps log(eta/eta0) is about 5.14 d T = 103 for d = 0.01, T = 2000.
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(200) for _ in range(2000)]
    out = {}
    for path_of in ("gradient", "step"):
        opt = cr.clara(cr.adam_direction(), 1e-3, d=0.01, path_of=path_of, reference="random_walk")
        theta, st = np.zeros(200), opt.init(np.zeros(200))
        for g in grads:
            theta, st = opt.update(theta, g, st)
        out[path_of] = math.log(st.eta / 1e-3)
        print(f"  path_of={path_of!r}: log(eta/eta0) = {out[path_of]:.1f}")
    predicted = 0.01 * (cr.reference.path_sq_norm_mean(cr.adam_direction(), 0.2, n=200) / (0.2 / 1.8) - 1) * 2000
    assert abs(out["gradient"]) < 5                    # the walk's spread: d sqrt(T) sigma/mu, a few units
    assert abs(out["step"] - predicted) < 0.1 * predicted


# %% [markdown]
# ## 3. The damping that allows a 1000x rise
# SGD-CLARA with one block starts far too small on a problem whose gradient keeps its direction. Which d lets the
# rate rise exactly 1000x in T = 300 steps? (P_t = (1 - (1-c)^t)^2 for a constant direction.)

# %%
@exercise("Find d such that SGD-CLARA's rate rises exactly 1000x in 300 steps of a constant gradient.")
def solution_3():
    # log(eta_T / eta_0) = d sum_{t=1}^{T} (P_t / mu - 1) with P_t = (1 - (1-c)^t)^2: solve for d.
    c, T = 0.2, 300
    mu = c / (2 - c)
    total = sum((1 - (1 - c) ** t) ** 2 / mu - 1 for t in range(1, T + 1))
    d = math.log(1000) / total
    opt = cr.clara(cr.sgd_direction(), 1e-9, d=d)
    theta, st = np.zeros(3), opt.init(np.zeros(3))
    for _ in range(T):
        theta, st = opt.update(theta, np.array([1.0, 2.0, 2.0]), st)
    # the bound exp(8 d T) would suggest d = ln(1000) / (8 T); the transient of P makes the real rise slower
    print(f"  d = {d:.6f} (the bound's d = {math.log(1000) / (8 * T):.6f}); rise {st.eta / 1e-9:.2f}x")
    assert abs(st.eta / 1e-9 - 1000) < 1e-6 * 1000   # float64 rounding of 300 products


# %% [markdown]
# ## 4. Break a port on purpose
# Write a NumPy "port" of Adam whose bias correction of m is one step ahead, run it against `cr.adam` with
# `clara_ref.testing.lockstep`, and read the message.

# %%
@exercise("Plant 'bias correction one step ahead' in an Adam port and read lockstep's message.")
def solution_4():
    from clara_ref.testing import lockstep

    def port(theta0, lr=1e-2, b1=0.9, b2=0.999, eps=1e-8):
        box = dict(theta=np.array(theta0, dtype=float), m=0.0, v=0.0, t=0)

        def step(g):
            box["t"] += 1
            box["m"] = b1 * box["m"] + (1 - b1) * g
            box["v"] = b2 * box["v"] + (1 - b2) * g * g
            m_hat = box["m"] / (1 - b1 ** (box["t"] + 1))          # the planted bug: t + 1
            box["theta"] = box["theta"] - lr * m_hat / (np.sqrt(box["v"] / (1 - b2 ** box["t"])) + eps)
            return box["theta"].copy()
        return step

    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(3) for _ in range(5)]
    try:
        lockstep(cr.adam(1e-2), port([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]), grads)
    except AssertionError as err:
        print("  " + str(err).splitlines()[0])
        assert "step 1" in str(err)                 # caught at the very first step
    else:
        raise AssertionError("the planted bug was not caught")


# %% [markdown]
# ## 5. Three sigmas
# Compute the exact stationary spread of |p|^2 for a random walk in n = 650 (c = 0.2), the CLARA authors' value
# and the 2017 paper's c / sqrt(n), and their ratios to the exact one (docs/companion.md).

# %%
@exercise("Compute the three sigmas for n = 650 and their ratios to the exact spread.")
def solution_5():
    c, n = 0.2, 650
    mu = c / (2 - c)
    exact = cr.reference.random_walk_std(c, n)
    authors = math.sqrt(2) * mu * (1 - c) / math.sqrt((1 + (1 - c) ** 2) * n)
    original = c / math.sqrt(n)
    print(f"  exact {exact:.5f}, authors {authors:.5f} ({authors / exact:.3f}x), 2017 {original:.5f} "
          f"({original / exact:.3f}x)")
    assert abs(authors / exact - 1 / math.sqrt(2)) < 1e-12
    assert abs(original / exact - c * math.sqrt(1 + (1 - c) ** 2) / (2 * mu * (1 - c))) < 1e-12
    sim = cr.reference.monte_carlo(cr.sgd_direction(), n, c=c, steps=60, trials=600, seed=0)
    # 600 samples: the sample sd has a relative standard error of about 1/sqrt(2 * 600) = 3%
    assert abs(sim.std / exact - 1) < 0.15


# %% [markdown]
# ## 6. How far can the rate move?
# The digits MLP has K = 6 tensors and Adam-CLARA's reference is about 6 x 0.68. With d = 1e-3, by how much can
# its rate rise at most in 600 steps, and in 12,150? (P is at most K.)

# %%
@exercise("Bound Adam-CLARA's rise on the digits MLP in 600 and 12,150 steps (d = 1e-3).")
def solution_6():
    from clara_ref.rate_control import log_rate_range

    model = cr.models.mlp((64, 128, 64, 10))
    opt = cr.clara(cr.adam_direction(), 1e-6, d=1e-3, blocks=model.block_sizes)
    ref = opt.reference_at(1, model.block_sizes)
    for steps in (600, 12150):
        bound = math.exp(1e-3 * (6 / ref - 1) * steps)
        print(f"  {steps:6d} steps: at most {bound:.3g}x")
        assert abs(math.log(bound) - log_rate_range(1e-3, ref, 6, steps)) < 1e-12
    assert 1.2 < math.exp(1e-3 * (6 / ref - 1) * 600) < 1.4       # why 600 steps cannot recover from 1e-6


# %%
for number, (question, solution) in enumerate(EXERCISES, start=1):
    print(f"{number}. {question}")
    if SOLUTIONS:
        solution()
if SOLUTIONS:
    print(f"all {len(EXERCISES)} solutions ran and asserted")
