"""Trajectories of ``alera`` and ``clara`` recorded before the path and Adam code was rewritten (commit ae008d4).

``python tests/data/make_pinned_trajectories.py`` wrote ``pinned_trajectories.npz``; tests/test_pinned.py reruns the
same configurations on the same gradients and compares. Do not rerun it: the point is a record of the old code.
The gradient sequences cover what the path code must get right: per-block norms spanning 2.6 decades, a block
below ALeRA's 1e-6 floor (every 7th step) and an exactly zero block (every 11th step).
"""

import numpy as np

import clara_ref as cr

THETA0 = np.linspace(-1.0, 1.0, 5)
SEEDS = (0, 1)
CONFIGS = {
    "alera_sgd": lambda: cr.alera(cr.sgd_direction(), 0.05, C=0.3, blocks=(3, 2)),
    "alera_sgd_2017": lambda: cr.alera(cr.sgd_direction(weight_decay=0.01), 0.05, C=0.2, sigma="2017"),
    "alera_adam": lambda: cr.alera(cr.adam_direction(), 0.05, C=0.3, blocks=(3, 2)),
    "clara_sgd": lambda: cr.clara(cr.sgd_direction(), 0.05, d=0.3, blocks=(3, 2)),
    "clara_adam_unit": lambda: cr.clara(cr.adam_direction(), 0.05, d="auto", move="unit", blocks=(3, 2)),
    "clara_adam_gradient": lambda: cr.clara(cr.adam_direction(), 0.05, d=0.2, path_of="gradient", transient=True),
}


def gradients(seed, steps=80, n=5):
    rng = np.random.default_rng(seed)
    gs = []
    for t in range(steps):
        g = rng.standard_normal(n) * np.exp(rng.uniform(-3, 3))
        if t % 7 == 3:
            g[:3] *= 1e-9          # block 0 below ALeRA's 1e-6 floor
        if t % 11 == 5:
            g[3:] = 0.0            # block 1 exactly zero
        gs.append(g)
    return gs


def run(opt, gs, theta0=THETA0):
    """theta after every update, and the rate(s) after every update."""
    theta, st = theta0.copy(), opt.init(theta0)
    thetas, etas = [], []
    for g in gs:
        theta, st = opt.update(theta, g, st, loss=1.0)
        thetas.append(theta.copy())
        etas.append(np.array(getattr(st, "etas", (st.eta,)), dtype=float))
    return np.array(thetas), np.array(etas)


if __name__ == "__main__":
    out = {}
    for name, make in CONFIGS.items():
        for seed in SEEDS:
            out[f"{name}_s{seed}_theta"], out[f"{name}_s{seed}_eta"] = run(make(), gradients(seed))
    np.savez("tests/data/pinned_trajectories.npz", **out)
