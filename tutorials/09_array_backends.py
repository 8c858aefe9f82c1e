# %% [markdown]
# # 09: The same code on other arrays: CuPy on a GPU, array_api_strict everywhere
#
# **Goal.** Every optimizer asks its inputs for their array namespace (array-api-compat) and keeps scalars
# (t, eta, d, norms) as Python floats on the host. So the same `clara_ref` lines run on CuPy arrays on a GPU. Where
# no GPU (or no CuPy) exists, this tutorial shows the mechanism with `array_api_strict`, a deliberately minimal
# implementation of the array API standard that refuses anything non-standard, and says so.
#
# Gradients are generated on the host with NumPy and converted, since CuPy's random streams differ from NumPy's.

# %%
import numpy as np

import clara_ref as cr
from clara_ref._backend import array_namespace
from clara_ref.tutorial import figures_saved, setup

FAST, FIG_DIR, plt = setup(__file__)
STEPS = 50 if FAST else 300
N = 1000


def gpu_namespace():
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy, cupy.asarray, cupy.asnumpy, "CuPy on a GPU"
    except Exception:
        pass
    import array_api_strict as xps

    return xps, xps.asarray, lambda a: np.asarray(a), "array_api_strict (no CuPy GPU here)"


xp, to_backend, to_numpy, where = gpu_namespace()
print("backend:", where)


def run(convert, back):
    rng = np.random.default_rng(0)
    opt = cr.clara(cr.adam_direction(), 1e-2, d=0.1)
    theta = convert(np.ones(N))
    state = opt.init(theta)
    etas = []
    for _ in range(STEPS):
        g_host = 2.0 * back(theta) + 0.1 * rng.standard_normal(N)     # noisy sphere gradient, on the host
        theta, state = opt.update(theta, convert(g_host), state)
        etas.append(state.eta)
    return back(theta), etas, state, theta


theta_np, etas_np, _, _ = run(lambda a: a, lambda a: a)
theta_xp, etas_xp, state_xp, raw = run(to_backend, to_numpy)
print("namespace of the result:", array_namespace(raw).__name__)
print(f"max |theta_backend - theta_numpy| = {np.max(np.abs(theta_xp - theta_np)):.2e}; "
      f"eta {etas_xp[-1]:.6g} vs {etas_np[-1]:.6g}")

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(etas_np, label="NumPy")
ax.plot(etas_xp, "--", label=where)
ax.set(yscale="log", xlabel="step", ylabel=r"$\eta$", title="the same optimizer on two array backends")
ax.legend()
fig.savefig(FIG_DIR / "backends.png", dpi=90)
figures_saved(FIG_DIR)

# %% [markdown]
# ## What this shows (asserted)
# The backend run stays in its namespace, keeps eta a Python float, and equals the NumPy run to float64
# rounding (relative 1e-10; only the summation order inside norms differs).

# %%
assert type(raw).__module__.split(".")[0] in ("cupy", "array_api_strict")
assert isinstance(state_xp.eta, float) and isinstance(state_xp.t, int)
assert np.max(np.abs(theta_xp - theta_np)) <= 1e-10 * np.max(np.abs(theta_np))
assert np.allclose(etas_xp, etas_np, rtol=1e-10, atol=0)
