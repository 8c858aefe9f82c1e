"""Monte Carlo values of Adam's stationary E|p|^2 under pure noise, for tests/test_reference.py.

``python tests/data/make_reference_mc.py`` writes ``reference_mc.npz``: for every block size n in N and beta1 in
BETA1 (c = 0.2, beta2 = 0.999, eps = 1e-8), the stationary mean of |p_t|^2 of the path of Adam's own unit steps
under g_t ~ N(0, I_n), simulated with the library's own direction and path code (``reference.monte_carlo``), its
standard error, and the settings used. It took 54 minutes on 2 cores (``--jobs 2``, other jobs sharing them part of
the time) and is run once; the test suite only reads the file, so that the comparison of the series (R4) with
simulation at n up to 200,704 and beta1 up to 0.999 costs the suite nothing.

Method. G independent groups (seeds 100, 101, ...) of T trials each run ``burn + window`` steps; a group's estimate
is the mean of |p_t|^2 (and its standard deviation) over its trials and over the window's steps (after ``burn``
steps: the momentum of beta1 = 0.999 and the second moment of beta2 = 0.999 need several thousand steps to forget
their zero start, the path itself 50). The groups are independent, so the standard error of their mean is their
standard deviation over sqrt(G): it includes the time correlation of |p_t|^2 within a window, which a per-step
estimate would miss.
"""

from __future__ import annotations

import argparse
import math
import pathlib
from concurrent.futures import ProcessPoolExecutor

import numpy as np

N = (2, 198, 199, 200, 1000, 200_704)
BETA1 = (0.0, 0.9, 0.95, 0.99, 0.999)
#: besides the grid: the block sizes of the committed runs' spread checks at the default beta1
EXTRA = ((5, 0.9), (40, 0.9), (650, 0.9))
C, BETA2, EPS = 0.2, 0.999, 1e-8
GROUPS = 4
ELEMENTS = 100_000          # trials x n per group: about 1.5 ms a step
OUT = pathlib.Path(__file__).with_name("reference_mc.npz")


def schedule(beta1: float) -> tuple[int, int]:
    """(burn, window) steps: five memory lengths of the momentum and of the second moment, at least 2000 each."""
    memory = max(1.0 / (1.0 - beta1), 1.0 / (1.0 - BETA2))
    return max(2000, math.ceil(5 * memory)), max(2000, math.ceil(5 * memory))


def one(job):
    n, beta1 = job
    from threadpoolctl import threadpool_limits

    import clara_ref as cr

    burn, window = schedule(beta1)
    trials = max(1, ELEMENTS // n)
    direction = cr.adam_direction(beta1=beta1, beta2=BETA2, eps=EPS)
    means, sds = [], []
    with threadpool_limits(1):
        for g in range(GROUPS):
            r = cr.reference.monte_carlo(direction, n, c=C, steps=burn + window, trials=trials, seed=100 + g)
            m, m2 = float(np.mean(r.mean_t[burn:])), float(np.mean(r.meansq_t[burn:]))
            means.append(m)
            sds.append(math.sqrt(max(m2 - m * m, 0.0)))            # the stationary spread over trials and steps
    mean, sd = float(np.mean(means)), float(np.mean(sds))
    se, sd_se = (float(np.std(x, ddof=1) / math.sqrt(GROUPS)) for x in (means, sds))
    print(f"n={n:>7} beta1={beta1:<6} mean {mean:.6f} se {se:.1e} series "
          f"{cr.reference.path_sq_norm_mean(direction, c=C, n=n):.6f}; sd {sd:.5f} se {sd_se:.1e} formula "
          f"{cr.reference.path_sq_norm_std(direction, c=C, n=n):.5f}", flush=True)
    return n, beta1, mean, se, sd, sd_se, burn, window, trials


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    jobs = [(n, b) for b in BETA1 for n in N] + list(EXTRA)
    jobs.sort(key=lambda j: -j[0] * schedule(j[1])[0])              # the long ones first
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(one, jobs))
    rows.sort()
    cols = list(zip(*rows))
    np.savez(OUT, n=np.array(cols[0]), beta1=np.array(cols[1]), mean=np.array(cols[2]), se=np.array(cols[3]),
             sd=np.array(cols[4]), sd_se=np.array(cols[5]), burn=np.array(cols[6]), window=np.array(cols[7]),
             trials=np.array(cols[8]), groups=GROUPS, c=C, beta2=BETA2, eps=EPS, seeds=np.arange(100, 100 + GROUPS))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
